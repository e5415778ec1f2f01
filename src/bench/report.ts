/**
 * The benchmark's verdict: a table people can read, and the targets as
 * pass/fail lines (targets.ts for the suite, family.ts for --random).
 */
import { ORACLE } from './baselines.js';
import type { BenchRow } from './matrix.js';
import type { RunResult } from './run.js';
import { geomean } from './stats.js';
import { fmt, isUnfinished } from './targets.js';

export { evaluateTargets, type TargetLine } from './targets.js';

/** One table per list size: a row per case, a column per strategy (geomean ratio to the oracle, p95, failed calls). */
export function formatTable(rows: readonly BenchRow[]): string {
  const strategies = [...new Set(rows.map((r) => r.strategy))].filter((s) => s !== ORACLE);
  const sizes = [...new Set(rows.map((r) => r.recipients))].sort((a, b) => a - b);
  const out: string[] = [];
  for (const size of sizes) {
    const here = rows.filter((r) => r.recipients === size);
    const cases = [...new Set(here.map((r) => r.profile))];
    const header = ['profile', ...strategies];
    const body = cases.map((c) => [
      c,
      ...strategies.map((s) => {
        const row = here.find((r) => r.profile === c && r.strategy === s);
        if (!row) return '';
        const unfinished = row.unfinished > 0 ? ` u${row.unfinished}` : '';
        return `${fmt(row.ratioToOracle.geomean)} p95 ${fmt(row.ratioToOracle.p95)} f${row.failedCalls.mean.toFixed(1)}${unfinished}`;
      }),
    ]);
    const overall = [
      'overall (geomean)',
      ...strategies.map((s) => fmt(geomean(here.filter((r) => r.strategy === s).map((r) => r.ratioToOracle.geomean)))),
    ];
    const table = [header, ...body, overall];
    const widths = header.map((_, i) => Math.max(...table.map((line) => line[i]!.length)));
    out.push(
      `\n${size.toLocaleString('en-US')} recipients — completion time / oracle (geomean over seeds), p95, mean failed calls, u: unfinished runs`,
    );
    for (const [i, line] of table.entries()) {
      out.push(line.map((cell, j) => (j === 0 ? cell.padEnd(widths[j]!) : cell.padStart(widths[j]!))).join('  '));
      if (i === 0 || i === table.length - 2) out.push(widths.map((w) => '-'.repeat(w)).join('  '));
    }
  }
  return out.join('\n');
}

/**
 * Recipients each contender gave up on (failed after their attempts) over all
 * its runs. Not a target: completion time already charges a run for them at its
 * own rate, but a user reads "3,333 contacts never got it" differently.
 */
export function formatGivenUp(runs: readonly RunResult[]): string {
  const byStrategy = new Map<string, { givenUp: number; unfinished: number }>();
  for (const r of runs) {
    const sum = byStrategy.get(r.strategy) ?? { givenUp: 0, unfinished: 0 };
    byStrategy.set(r.strategy, { givenUp: sum.givenUp + r.undelivered, unfinished: sum.unfinished + (isUnfinished(r) ? 1 : 0) });
  }
  const cells = [...byStrategy].map(
    ([s, { givenUp, unfinished }]) =>
      `${s} ${givenUp.toLocaleString('en-US')}${unfinished > 0 ? ` (${unfinished} run${unfinished === 1 ? '' : 's'} unfinished)` : ''}`,
  );
  return `Recipients given up after their attempts, all runs: ${cells.join(', ')}`;
}
