/** The lab's decisions (issue 19): p95 bounds by list size and schedule, unfinished runs, fresh memory over the sizes. */
import { describe, expect, it } from 'vitest';
import { ORACLE } from '../src/bench/baselines.js';
import { foldRows } from '../src/bench/matrix.js';
import type { BenchCase, RunResult } from '../src/bench/run.js';
import { evaluateTargets, isUnfinished, p95Bound } from '../src/bench/targets.js';
import { parseProfile } from '../src/transport/sim/profile.js';

const plain = parseProfile({ name: 'plain', baseMs: 500, perRecipientMs: 1, capacity: 3000 });
const stepping = parseProfile({ ...plain, name: 'stepping', capacitySchedule: [{ atMs: 5000, capacity: 900 }] });
const bursty = parseProfile({ ...plain, name: 'bursty', failureBursts: [{ atMs: 4000, durationMs: 5000, rate: 0.9 }] });
const caseOf = (name: string, profile = plain, extra: Partial<BenchCase> = {}): BenchCase => ({ name, description: '', profile, ...extra });

function run(strategy: string, c: string, recipients: number, seed: number, completionMs: number, undelivered = 0): RunResult {
  return {
    strategy,
    case: c,
    recipients,
    seed,
    completionMs,
    calls: 3,
    failedCalls: 0,
    wastedSends: 0,
    undelivered,
    lost: 0,
    trace: { strategy, points: [], finishedMs: completionMs },
  };
}

/** Oracle at 100 ms, fixed and `a` at the given times, on one seed per (case, size). */
function runsFor(cells: readonly { c: string; n: number; a: number; fixed?: number; aGaveUp?: number; fixedGaveUp?: number }[]) {
  return cells.flatMap(({ c, n, a, fixed = 1000, aGaveUp = 0, fixedGaveUp = 0 }) => [
    run(ORACLE, c, n, 1, 100),
    run('fixed', c, n, 1, fixed, fixedGaveUp),
    run('a', c, n, 1, a, aGaveUp),
  ]);
}

const textsOf = (runs: RunResult[], cases: BenchCase[]) => evaluateTargets(foldRows(runs), runs, cases, ['a']).lines.map((l) => l.text);
const p95Line = (texts: string[]) => texts.find((t) => t.includes('p95'))!;
const fixedLine = (texts: string[]) => texts.find((t) => t.includes('never more than'))!;

describe('p95 bounds', () => {
  it('2.5 below 10,000 recipients; 1.35 from 10,000; 2.0 there when the oracle foresees the schedule', () => {
    expect(p95Bound(caseOf('plain'), 1000)).toBe(2.5);
    expect(p95Bound(caseOf('stepping', stepping), 1000)).toBe(2.5);
    expect(p95Bound(caseOf('plain'), 10_000)).toBe(1.35);
    expect(p95Bound(caseOf('plain'), 100_000)).toBe(1.35);
    expect(p95Bound(caseOf('stepping', stepping), 10_000)).toBe(2.0);
    expect(p95Bound(caseOf('bursty', bursty), 100_000)).toBe(2.0);
    // Without the case (a profile the lab does not know), the strict bound.
    expect(p95Bound(undefined, 10_000)).toBe(1.35);
  });

  it('judges each profile and size against its own bound', () => {
    const cases = [caseOf('plain'), caseOf('stepping', stepping)];
    const passing = runsFor([
      { c: 'plain', n: 1000, a: 240 },
      { c: 'plain', n: 10_000, a: 134 },
      { c: 'stepping', n: 10_000, a: 195 },
    ]);
    expect(p95Line(textsOf(passing, cases))).toMatch(/^PASS .*closest to its bound: 1\.34 <= 1\.35 on plain @ 10000\)$/);
    const failing = runsFor([
      { c: 'plain', n: 1000, a: 260 },
      { c: 'plain', n: 10_000, a: 140 },
      { c: 'stepping', n: 10_000, a: 195 },
    ]);
    expect(p95Line(textsOf(failing, cases))).toMatch(/^FAIL .*missed on plain @ 1000 2\.60 > 2\.50, plain @ 10000 1\.40 > 1\.35\)$/);
  });
});

describe('unfinished runs', () => {
  it('a run that gives up more than 1% of its list is unfinished; 1% exactly is not', () => {
    expect(isUnfinished({ recipients: 10_000, undelivered: 100 })).toBe(false);
    expect(isUnfinished({ recipients: 10_000, undelivered: 101 })).toBe(true);
    const rows = foldRows([run(ORACLE, 'p', 1000, 1, 100), run('a', 'p', 1000, 1, 110, 11), run('a', 'p', 1000, 2, 110, 10)]);
    expect(rows.find((r) => r.strategy === 'a')!.unfinished).toBe(1);
  });

  it('beats nothing: an unfinished profile misses its p95 bound and loses to fixed, however fast', () => {
    const texts = textsOf(runsFor([{ c: 'plain', n: 10_000, a: 101, aGaveUp: 500 }]), [caseOf('plain')]);
    expect(p95Line(texts)).toMatch(/^FAIL .*missed on plain @ 10000 unfinished on 1 of 1\)$/);
    expect(fixedLine(texts)).toMatch(/^FAIL .*over on plain @ 10000 unfinished on 1 of 1\)$/);
  });

  it('a profile where fixed is unfinished is a win, even where it was faster', () => {
    const runs = runsFor([
      { c: 'plain', n: 10_000, a: 130, fixed: 110, fixedGaveUp: 500 },
      { c: 'stepping', n: 10_000, a: 130, fixed: 200 },
    ]);
    const texts = textsOf(runs, [caseOf('plain'), caseOf('stepping', stepping)]);
    expect(fixedLine(texts)).toBe(
      'PASS  a: never more than 1.05x fixed on any profile, per-profile geomeans (worst 0.65x on stepping @ 10000; 1 won where fixed is unfinished)',
    );
    // The line it replaced compared times alone, and called that a loss.
    const previous = evaluateTargets(foldRows(runs), runs, [], ['a']).previous.map((l) => l.text);
    expect(fixedLine(previous)).toBe('FAIL  a: never more than 1.05x fixed on any profile (over on plain @ 10000 1.18x)');
  });
});

describe('fresh, correct memory', () => {
  it('is judged by the geomean over the list sizes, not by the worst size', () => {
    const withMemory = caseOf('warm+memory', plain, { provenSize: 1000, coldCase: 'plain' });
    const runs = runsFor([
      { c: 'warm+memory', n: 1000, a: 102 },
      { c: 'warm+memory', n: 10_000, a: 102 },
      { c: 'warm+memory', n: 100_000, a: 107 },
    ]);
    const { lines, previous } = evaluateTargets(foldRows(runs), runs, [withMemory], ['a']);
    // (1.02 * 1.02 * 1.07)^(1/3) = 1.036
    expect(lines.map((l) => l.text)).toContain(
      'PASS  a: with fresh, correct memory within 1.05x of the oracle over 1,000, 10,000, 100,000 (1.04 on warm+memory)',
    );
    expect(previous.map((l) => l.text)).toContain('FAIL  a: with fresh, correct memory within 1.05x of the oracle (1.07 on warm+memory)');
  });
});
