/**
 * The random family's verdict (`--random`): one line per strategy and list size
 * over every drawn profile, and the targets for the best built-in. Ratios are
 * per run (profile x seed): "95% of sends within 1.6x the oracle" is about
 * sends, whichever profile they were on. Measurements, never test assertions.
 */
import { ORACLE } from './baselines.js';
import type { BenchRow } from './matrix.js';
import { geomean, percentile } from './stats.js';
import { bestBuiltin, fmt, type TargetLine } from './targets.js';

const FAMILY_GEOMEAN = 1.2;
const FAMILY_P95 = 1.6;
/** Share of all recipients of all its runs the best built-in may give up on. */
const FAMILY_GIVEN_UP = 0.001;

interface FamilyFigures {
  readonly geomean: number;
  readonly p95: number;
  /** The slowest runs, slowest first: where to look with --trace. */
  readonly worst: readonly { readonly name: string; readonly ratio: number }[];
  readonly givenUp: number;
  readonly recipients: number;
  readonly unfinished: number;
  readonly runs: number;
  readonly failedCalls: number;
  readonly lost: number;
}

export function familyFigures(rows: readonly BenchRow[], strategy: string, recipients: number): FamilyFigures {
  const mine = rows.filter((r) => r.strategy === strategy && r.recipients === recipients);
  const runs = mine.flatMap((r) => r.ratioToOracle.bySeed.map((ratio, i) => ({ name: `${r.profile} seed ${i + 1}`, ratio })));
  const ratios = runs.map((r) => r.ratio);
  return {
    geomean: geomean(ratios),
    p95: percentile(ratios, 95),
    worst: [...runs].sort((a, b) => b.ratio - a.ratio).slice(0, 3),
    givenUp: mine.reduce((s, r) => s + r.undelivered.mean * r.seeds, 0),
    recipients: mine.reduce((s, r) => s + r.recipients * r.seeds, 0),
    unfinished: mine.reduce((s, r) => s + r.unfinished, 0),
    runs: runs.length,
    failedCalls: mine.reduce((s, r) => s + r.failedCalls.mean * r.seeds, 0),
    lost: mine.reduce((s, r) => s + r.lost, 0),
  };
}

const sizesOf = (rows: readonly BenchRow[]) => [...new Set(rows.map((r) => r.recipients))].sort((a, b) => a - b);
const share = (n: number, of: number) => (of === 0 ? 0 : n / of);
const pct = (x: number) => `${(x * 100).toFixed(x < 0.01 ? 3 : 2)}%`;

/** One table per list size: a line per strategy over the whole family. */
export function formatFamilyTable(rows: readonly BenchRow[], profiles: number, seed: number): string {
  const strategies = [...new Set(rows.map((r) => r.strategy))].filter((s) => s !== ORACLE);
  const out: string[] = [];
  for (const size of sizesOf(rows)) {
    const header = ['strategy', 'geomean', 'p95', 'worst run', 'given up', 'unfinished', 'failed calls/run', 'lost'];
    const body = strategies.map((s) => {
      const f = familyFigures(rows, s, size);
      return [
        s,
        fmt(f.geomean),
        fmt(f.p95),
        f.worst[0] ? `${fmt(f.worst[0].ratio)} ${f.worst[0].name}` : '—',
        `${pct(share(f.givenUp, f.recipients))} (${Math.round(f.givenUp).toLocaleString('en-US')})`,
        `${f.unfinished}/${f.runs}`,
        (f.failedCalls / Math.max(1, f.runs)).toFixed(1),
        String(f.lost),
      ];
    });
    const table = [header, ...body];
    const widths = header.map((_, i) => Math.max(...table.map((line) => line[i]!.length)));
    out.push(
      `\nRandom family (seed ${seed}, ${profiles} profiles), ${size.toLocaleString('en-US')} recipients — completion time / oracle over every run`,
    );
    for (const [i, line] of table.entries()) {
      out.push(line.map((cell, j) => (j === 0 || j === 3 ? cell.padEnd(widths[j]!) : cell.padStart(widths[j]!))).join('  '));
      if (i === 0) out.push(widths.map((w) => '-'.repeat(w)).join('  '));
    }
  }
  return out.join('\n');
}

/** The family targets for the built-in with the lowest geomean over the family, at each list size run. */
export function evaluateFamilyTargets(rows: readonly BenchRow[], builtins: readonly string[]): { best: string; lines: TargetLine[] } {
  const best = bestBuiltin(rows, builtins)!;
  const lines: TargetLine[] = [];
  const line = (pass: boolean, text: string) => lines.push({ pass, text: `${pass ? 'PASS' : 'FAIL'}  ${text}` });
  for (const size of sizesOf(rows)) {
    const f = familyFigures(rows, best, size);
    const at = `@ ${size.toLocaleString('en-US')}`;
    line(
      f.geomean <= FAMILY_GEOMEAN,
      `${best}: geomean completion/oracle over the family ${at} ${fmt(f.geomean, 3)} <= ${FAMILY_GEOMEAN.toFixed(2)}`,
    );
    const worst = f.worst.map((w) => `${w.name} ${fmt(w.ratio)}`).join(', ');
    line(
      f.p95 <= FAMILY_P95,
      `${best}: p95 completion/oracle over the family's runs ${at} ${fmt(f.p95)} <= ${FAMILY_P95} (slowest: ${worst})`,
    );
    const given = share(f.givenUp, f.recipients);
    line(
      given <= FAMILY_GIVEN_UP,
      `${best}: recipients given up ${at} ${pct(given)} (${Math.round(f.givenUp).toLocaleString('en-US')} of ${f.recipients.toLocaleString('en-US')}) <= ${pct(FAMILY_GIVEN_UP)}`,
    );
  }
  const lost = rows.reduce((s, r) => s + r.lost, 0);
  line(lost === 0, `lost recipients, every strategy on every drawn profile: ${lost} (must be 0)`);
  return { best, lines };
}
