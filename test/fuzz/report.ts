/** A fuzz report as the README shows it: Markdown tables, then what failed. */
import { type FuzzReport, mb } from './harness.js';
import { CODE_NAMES } from './protocols.js';
import { MEMORY_BOUND_BYTES, violations } from './verdict.js';

const n = (x: number) => x.toLocaleString('en-US');

function codes(histogram: Record<number, number>): string {
  return Object.entries(histogram)
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([code, count]) => `${CODE_NAMES[Number(code)]?.toUpperCase() ?? code} ${n(count)}`)
    .join(' · ');
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function formatReport(report: FuzzReport): string {
  const lines: string[] = [];
  const total = report.rpcs.reduce((sum, r) => sum + r.sent, 0);
  lines.push(
    `storycast fuzz: ${n(report.perRpc)} generated requests per RPC, ${report.rpcs.length} RPCs, ${n(total)} requests, seed ${report.seed}, ${Math.round(report.durationMs / 1000)} s`,
    '',
    '| RPC | requests | status codes | INTERNAL, input that decodes | INTERNAL, bytes that do not decode | UNKNOWN | no status | bad response |',
    '| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |',
  );
  const sum = { internal: 0, unparseable: 0, unknown: 0, noStatus: 0, bad: 0, codes: {} as Record<number, number> };
  const protocols: Record<string, number> = {};
  for (const r of report.rpcs) {
    lines.push(
      `| ${r.rpc} | ${n(r.sent)} | ${codes(r.codes)} | ${r.internal} | ${n(r.internalUnparseable)} | ${r.unknown} | ${r.noStatus} | ${r.badResponses} |`,
    );
    sum.internal += r.internal;
    sum.unparseable += r.internalUnparseable;
    sum.unknown += r.unknown;
    sum.noStatus += r.noStatus;
    sum.bad += r.badResponses;
    for (const [code, count] of Object.entries(r.codes)) sum.codes[Number(code)] = (sum.codes[Number(code)] ?? 0) + count;
    for (const [p, count] of Object.entries(r.protocols)) protocols[p] = (protocols[p] ?? 0) + count;
  }
  lines.push(
    `| **total** | ${n(total)} | ${codes(sum.codes)} | ${sum.internal} | ${n(sum.unparseable)} | ${sum.unknown} | ${sum.noStatus} | ${sum.bad} |`,
    '',
    `Protocols: ${Object.entries(protocols)
      .map(([p, count]) => `${p} ${n(count)}`)
      .join(', ')}.`,
    '',
  );

  const failed = report.malformed.filter((m) => !m.ok).length;
  lines.push(
    `Malformed HTTP/2, gRPC, gRPC-Web and Connect requests: ${report.malformed.length} cases, ${report.malformed.length - failed} answered properly, ${failed} not; the server answered a health check on a new connection after each.`,
    '',
    '| case | proper answer | answer | |',
    '| --- | --- | --- | --- |',
    ...report.malformed.map(
      (m) => `| ${cell(m.name)} | ${cell(m.expected)} | ${cell(m.answer.slice(0, 160))} | ${m.ok ? 'ok' : '**FAILED**'} |`,
    ),
    '',
  );

  const { baseline, after } = report.memory;
  lines.push(
    `Process: ${report.unhandledRejections.length} unhandled rejections, ${report.uncaughtExceptions.length} uncaught exceptions, ${report.warnings.length} warnings, ${report.serverErrorLogs.length} server error logs; ${report.sendsStillRunning} sends still running at the end.`,
    `Health afterwards: ${report.health.map((h) => `${h.service || '(server)'} ${h.status}`).join(', ')}.`,
    `Memory after forced GC, send retention passed: heapUsed ${mb(baseline.heapUsed)} before, ${mb(after.heapUsed)} after (${after.heapUsed >= baseline.heapUsed ? '+' : ''}${mb(after.heapUsed - baseline.heapUsed)}, bound +${mb(MEMORY_BOUND_BYTES)}); external ${mb(baseline.external)} -> ${mb(after.external)}; rss ${mb(baseline.rss)} -> ${mb(after.rss)}.`,
  );
  if (report.warnings.length > 0) lines.push(...report.warnings.map((w) => `  warning: ${w.split('\n')[0]}`));

  const problems = violations(report);
  lines.push(
    '',
    problems.length === 0 ? 'Every property held.' : `${problems.length} properties broken:`,
    ...problems.map((p) => `- ${p}`),
  );
  if (report.findings.length > 0) {
    lines.push(
      '',
      'Examples (input -> answer):',
      ...report.findings.map((f) => `- ${f.rpc} [${f.kind}] ${f.input.slice(0, 300)} -> ${f.answer.slice(0, 200)}`),
    );
  }
  return lines.join('\n');
}
