/**
 * `npm run bench -- --trace CASE`: one run, call by call, with what the
 * strategy decided after each and why. What a strategy author reads to see
 * where the time went, next to the oracle's run on the same seed.
 */
import type { RunResult } from './run.js';

const seconds = (ms: number) => (ms / 1000).toFixed(1);

export function formatTrace(run: RunResult, oracleMs?: number): string {
  const { trace } = run;
  const vs = oracleMs ? ` (${(run.completionMs / oracleMs).toFixed(2)}x the oracle)` : '';
  const given = run.undelivered > 0 ? `, ${run.undelivered.toLocaleString('en-US')} given up` : '';
  const lines = [
    `${run.strategy} on ${run.case}, ${run.recipients.toLocaleString('en-US')} recipients, seed ${run.seed}: ${seconds(trace.finishedMs)} s${vs}, ${run.calls} calls, ${run.failedCalls} failed${given}`,
    `${'t (s)'.padStart(7)}  ${'size'.padStart(6)}  ${'result'.padEnd(12)}  ${'ms'.padStart(6)}  ${'next'.padStart(6)}  reason`,
  ];
  if (trace.anchorMs !== undefined)
    lines.push(`${'0.0'.padStart(7)}  ${'1'.padStart(6)}  ${'anchor'.padEnd(12)}  ${String(trace.anchorMs).padStart(6)}`);
  for (const p of trace.points) {
    const result = p.ok ? 'ok' : (p.error ?? 'failed');
    lines.push(
      `${seconds(p.tMs).padStart(7)}  ${String(p.size).padStart(6)}  ${result.padEnd(12)}  ${String(p.durationMs ?? '').padStart(6)}  ${String(p.next ?? '').padStart(6)}  ${p.reason ?? ''}`,
    );
  }
  return lines.join('\n');
}
