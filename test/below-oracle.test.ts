/** The list of runs that finished before the oracle, which is meant as a lower bound. */
import { describe, expect, it } from 'vitest';
import { ORACLE } from '../src/bench/baselines.js';
import { belowOracle, formatBelowOracle } from '../src/bench/below-oracle.js';
import { foldRows, type BenchRow } from '../src/bench/matrix.js';
import type { RunResult } from '../src/bench/run.js';

const run = (strategy: string, caseName: string, recipients: number, seed: number, completionMs: number): RunResult => ({
  strategy,
  case: caseName,
  recipients,
  seed,
  completionMs,
  calls: 1,
  failedCalls: 0,
  wastedSends: 0,
  undelivered: 0,
  lost: 0,
  trace: { strategy, points: [], finishedMs: completionMs },
});

/** Two cases, two sizes, three seeds: the oracle takes 1000 ms everywhere. */
function rows(): BenchRow[] {
  const runs: RunResult[] = [];
  for (const c of ['step-down', 'realistic'])
    for (const n of [1000, 10_000]) for (const seed of [1, 2, 3]) runs.push(run(ORACLE, c, n, seed, 1000));
  runs.push(
    ...[1, 2, 3].map((seed) => run('bracket', 'step-down', 10_000, seed, [1100, 950, 1000][seed - 1]!)),
    ...[1, 2, 3].map((seed) => run('adaptive', 'step-down', 10_000, seed, [980, 1500, 1200][seed - 1]!)),
    ...[1, 2, 3].map((seed) => run('adaptive', 'realistic', 1000, seed, 1001)),
  );
  return foldRows(runs);
}

describe('belowOracle', () => {
  it('lists every case, size, seed and contender under the oracle, lowest ratio first', () => {
    expect(belowOracle(rows())).toEqual([
      { case: 'step-down', recipients: 10_000, seed: 2, contender: 'bracket', ratio: 0.95 },
      { case: 'step-down', recipients: 10_000, seed: 1, contender: 'adaptive', ratio: 0.98 },
    ]);
  });

  it('leaves out a tie and the oracle itself, and is empty when nothing beats it', () => {
    const list = belowOracle(rows());
    expect(list.some((b) => b.contender === 'bracket' && b.seed === 3)).toBe(false);
    expect(list.some((b) => b.contender === ORACLE)).toBe(false);
    expect(belowOracle(rows().filter((r) => r.profile === 'realistic'))).toEqual([]);
  });

  it('leaves out a run that gave up more than 1% of its list: an unfinished run beats nothing', () => {
    const runs: RunResult[] = [1, 2, 3].map((seed) => run(ORACLE, 'step-down', 100_000, seed, 1000));
    // Seed 1 gave up 2% of the list and stopped early; seed 2 gave up 1% (finished); seed 3 gave up nothing.
    runs.push(
      { ...run('fixed', 'step-down', 100_000, 1, 500), undelivered: 2000 },
      { ...run('fixed', 'step-down', 100_000, 2, 900), undelivered: 1000 },
      run('fixed', 'step-down', 100_000, 3, 990),
    );
    const folded = foldRows(runs);
    expect(folded.find((r) => r.strategy === 'fixed')?.unfinishedBySeed).toEqual([true, false, false]);
    expect(belowOracle(folded)).toEqual([
      { case: 'step-down', recipients: 100_000, seed: 2, contender: 'fixed', ratio: 0.9 },
      { case: 'step-down', recipients: 100_000, seed: 3, contender: 'fixed', ratio: 0.99 },
    ]);
  });

  it('names the seeds as the run did when they are not 1..n', () => {
    expect(belowOracle(rows(), [7, 8, 9]).map((b) => b.seed)).toEqual([8, 7]);
  });

  it('prints one line per run, or says there are none', () => {
    expect(formatBelowOracle(belowOracle(rows()))).toBe(
      [
        'Runs that beat the oracle (it should be a lower bound): 2',
        '  bracket on step-down @ 10,000, seed 2: 0.950x the oracle',
        '  adaptive on step-down @ 10,000, seed 1: 0.980x the oracle',
      ].join('\n'),
    );
    expect(formatBelowOracle([])).toBe('Runs that beat the oracle: none');
  });
});
