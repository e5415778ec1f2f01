/** What must hold after a fuzz run, as a list of what did not: the CLI exits non-zero on any, the CI test asserts there are none. */
import type { FuzzReport } from './harness.js';

/** heapUsed may grow this much over the baseline: what the server keeps on purpose for a day (session memory, receipts, experiments) at 10,000 requests per RPC. */
export const MEMORY_BOUND_BYTES = 64 * 1024 * 1024;

export function violations(report: FuzzReport): string[] {
  const out: string[] = [];
  const example = (rpc: string, kind: string) => {
    const f = report.findings.find((x) => x.rpc === rpc && x.kind === kind);
    return f ? ` (e.g. ${f.input.slice(0, 200)} -> ${f.answer.slice(0, 160)})` : '';
  };
  for (const r of report.rpcs) {
    if (r.sent !== report.perRpc) out.push(`${r.rpc}: ${r.sent} of ${report.perRpc} requests answered or judged`);
    if (r.noStatus > 0) out.push(`${r.rpc}: ${r.noStatus} answers without a proper status${example(r.rpc, 'no status')}`);
    if (r.internal > 0) out.push(`${r.rpc}: ${r.internal} INTERNAL for input errors${example(r.rpc, 'INTERNAL')}`);
    if (r.unknown > 0) out.push(`${r.rpc}: ${r.unknown} UNKNOWN${example(r.rpc, 'UNKNOWN')}`);
    if (r.badResponses > 0) out.push(`${r.rpc}: ${r.badResponses} malformed responses${example(r.rpc, 'bad response')}`);
  }
  for (const m of report.malformed) if (!m.ok) out.push(`malformed "${m.name}": expected ${m.expected}; got ${m.answer}`);
  for (const e of report.unhandledRejections) out.push(`unhandled rejection: ${e.slice(0, 300)}`);
  for (const e of report.uncaughtExceptions) out.push(`uncaught exception: ${e.slice(0, 300)}`);
  // MaxListenersExceeded is how a listener leak shows; TimeoutOverflow, a deadline node cannot keep.
  for (const w of report.warnings) out.push(`process warning: ${w.slice(0, 300)}`);
  for (const line of report.serverErrorLogs) out.push(`server error log: ${line.slice(0, 300)}`);
  if (report.sendsStillRunning > 0) out.push(`${report.sendsStillRunning} sends still running a minute after the last request`);
  for (const h of report.health) if (h.status !== 'SERVING') out.push(`health of "${h.service}" afterwards: ${h.status}`);
  const growth = report.memory.after.heapUsed - report.memory.baseline.heapUsed;
  if (growth > MEMORY_BOUND_BYTES)
    out.push(`heapUsed grew ${(growth / 2 ** 20).toFixed(1)} MB over the baseline (bound ${MEMORY_BOUND_BYTES / 2 ** 20} MB)`);
  return out;
}
