/** A strategy-lab row for tests of what is computed from rows (targets, README figures, family tables). */
import type { BenchRow } from '../../src/bench/matrix.js';

/** The row of `strategy` on `profile` whose runs took `bySeed` times the oracle; the rest neutral unless `over` says otherwise. */
export function benchRow(
  strategy: string,
  profile: string,
  recipients: number,
  bySeed: readonly number[],
  over: Partial<BenchRow> = {},
): BenchRow {
  const geomean = Math.exp(bySeed.reduce((sum, r) => sum + Math.log(r), 0) / bySeed.length);
  return {
    strategy,
    profile,
    recipients,
    seeds: bySeed.length,
    ratioToOracle: { geomean, p95: Math.max(...bySeed), bySeed },
    completionMs: { mean: 1000 * geomean },
    failedCalls: { mean: 0 },
    wastedSends: { mean: 0 },
    calls: { mean: 10 },
    undelivered: { mean: 0 },
    unfinished: 0,
    unfinishedBySeed: bySeed.map(() => false),
    lost: 0,
    ...over,
  };
}
