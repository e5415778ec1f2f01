/**
 * The benchmark's verdict: a table people can read, and the targets as
 * pass/fail lines. Targets are measurements printed here, never test
 * assertions: a slower machine must not fail a build.
 */
import { FIXED, ORACLE } from './baselines.js';
import type { BenchRow } from './matrix.js';
import type { BenchCase, RunResult } from './run.js';
import { geomean } from './stats.js';

const fmt = (x: number, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) : '—');
/** Every cell that misses a target, worst first: one line should not hide the others. */
const listed = (cells: readonly (readonly [string, number])[], unit = '') =>
  cells.map(([name, value]) => `${name} ${fmt(value)}${unit}`).join(', ');

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
        return row ? `${fmt(row.ratioToOracle.geomean)} p95 ${fmt(row.ratioToOracle.p95)} f${row.failedCalls.mean.toFixed(1)}` : '';
      }),
    ]);
    const overall = [
      'overall (geomean)',
      ...strategies.map((s) => fmt(geomean(here.filter((r) => r.strategy === s).map((r) => r.ratioToOracle.geomean)))),
    ];
    const table = [header, ...body, overall];
    const widths = header.map((_, i) => Math.max(...table.map((line) => line[i]!.length)));
    out.push(`\n${size.toLocaleString('en-US')} recipients — completion time / oracle (geomean over seeds), p95, mean failed calls`);
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
  const byStrategy = new Map<string, number>();
  for (const r of runs) byStrategy.set(r.strategy, (byStrategy.get(r.strategy) ?? 0) + r.undelivered);
  const cells = [...byStrategy].map(([s, n]) => `${s} ${n.toLocaleString('en-US')}`);
  return `Recipients given up after their attempts, all runs: ${cells.join(', ')}`;
}

export interface TargetLine {
  readonly pass: boolean;
  readonly text: string;
}

/**
 * The strategy-lab targets for the best built-in (lowest overall geomean):
 * near the oracle everywhere, clearly ahead of `fixed`, nothing lost, and
 * memory that helps when right and costs little when wrong.
 */
export function evaluateTargets(
  rows: readonly BenchRow[],
  runs: readonly RunResult[],
  cases: readonly BenchCase[],
  builtins: readonly string[],
): { best: string; lines: TargetLine[] } {
  const overall = (s: string) => geomean(rows.filter((r) => r.strategy === s).map((r) => r.ratioToOracle.geomean));
  const candidates = builtins.filter((s) => rows.some((r) => r.strategy === s));
  const best = [...candidates].sort((a, b) => overall(a) - overall(b))[0]!;
  const mine = rows.filter((r) => r.strategy === best);
  const lines: TargetLine[] = [];
  const line = (pass: boolean, text: string) => lines.push({ pass, text: `${pass ? 'PASS' : 'FAIL'}  ${text}` });

  const g = overall(best);
  // Three decimals: a value just over the bound must not print as equal to it.
  line(g <= 1.15, `${best}: geomean completion/oracle over the suite ${fmt(g, 3)} <= 1.15`);
  const overP95 = mine.filter((r) => r.ratioToOracle.p95 > 1.35).sort((a, b) => b.ratioToOracle.p95 - a.ratioToOracle.p95);
  const worstP95 = mine.reduce((w, r) => (r.ratioToOracle.p95 > w.ratioToOracle.p95 ? r : w), mine[0]!);
  line(
    overP95.length === 0,
    `${best}: p95 completion/oracle <= 1.35 on every profile (${overP95.length === 0 ? `worst ${fmt(worstP95.ratioToOracle.p95)} on ${worstP95.profile} @ ${worstP95.recipients}` : `over on ${listed(overP95.map((r) => [`${r.profile} @ ${r.recipients}`, r.ratioToOracle.p95]))}`})`,
  );

  // Versus fixed, run by run on the same case, size and seed.
  const key = (r: RunResult) => `${r.case}|${r.recipients}|${r.seed}`;
  const fixedRuns = new Map(runs.filter((r) => r.strategy === FIXED).map((r) => [key(r), r]));
  const pairs = runs.filter((r) => r.strategy === best && fixedRuns.has(key(r))).map((r) => [r, fixedRuns.get(key(r))!] as const);
  if (pairs.length > 0) {
    const vsFixed = geomean(pairs.map(([a, b]) => a.completionMs / b.completionMs));
    line(vsFixed <= 0.85, `${best}: completion time vs fixed ${fmt(vsFixed)}x overall <= 0.85x`);
    const perProfile = new Map<string, number[]>();
    for (const [a, b] of pairs)
      perProfile.set(`${a.case} @ ${a.recipients}`, [
        ...(perProfile.get(`${a.case} @ ${a.recipients}`) ?? []),
        a.completionMs / b.completionMs,
      ]);
    const ranked = [...perProfile].map(([k, v]) => [k, geomean(v)] as const).sort((a, b) => b[1] - a[1]);
    const [worstName, worst] = ranked[0]!;
    const over = ranked.filter(([, r]) => r > 1.05);
    line(
      over.length === 0,
      `${best}: never more than 1.05x fixed on any profile (${over.length === 0 ? `worst ${fmt(worst)}x on ${worstName}` : `over on ${listed(over, 'x')}`})`,
    );
    const failedMine = pairs.reduce((s, [a]) => s + a.failedCalls, 0);
    const failedFixed = pairs.reduce((s, [, b]) => s + b.failedCalls, 0);
    const ratio = failedFixed === 0 ? (failedMine === 0 ? 0 : Infinity) : failedMine / failedFixed;
    line(ratio <= 0.5, `${best}: failed calls vs fixed ${fmt(ratio)}x <= 0.5x (${failedMine} vs ${failedFixed})`);
  }

  const lost = rows.reduce((s, r) => s + r.lost, 0);
  line(lost === 0, `lost recipients, every strategy everywhere: ${lost} (must be 0)`);

  for (const c of cases.filter((x) => x.coldCase)) {
    const withMemory = mine.filter((r) => r.profile === c.name);
    if (withMemory.length === 0) continue;
    if (c.name.endsWith('+memory')) {
      const worst = Math.max(...withMemory.map((r) => r.ratioToOracle.geomean));
      line(worst <= 1.05, `${best}: with fresh, correct memory within 1.05x of the oracle (${fmt(worst)} on ${c.name})`);
    } else if (c.name.endsWith('3x-high')) {
      const cold = mine.filter((r) => r.profile === c.coldCase);
      const ratios = withMemory.map(
        (r) => r.completionMs.mean / (cold.find((x) => x.recipients === r.recipients)?.completionMs.mean ?? Number.NaN),
      );
      const worst = Math.max(...ratios);
      line(worst <= 1.2, `${best}: memory 3x too high costs at most 1.2x a cold start (${fmt(worst)}x on ${c.name})`);
    }
  }
  return { best, lines };
}
