/**
 * Every run that finished before the oracle. The oracle is meant as a lower
 * bound (the physical limit), so this list should be empty: an entry means
 * either the oracle plans worse than it could with what it knows, or a
 * contender's luck beat it, and either way the ratios beside it are flattered.
 * A run that gave up more than 1% of its list (targets.ts isUnfinished) is
 * unfinished and beats nothing, however soon it stopped: it is not listed.
 */
import { ORACLE } from './baselines.js';
import type { BenchRow } from './matrix.js';

export interface BelowOracle {
  readonly case: string;
  readonly recipients: number;
  readonly seed: number;
  readonly contender: string;
  /** Completion time / the oracle's on the same case, size and seed: under 1. */
  readonly ratio: number;
}

/**
 * Every (case, list size, seed, contender) whose completion time is under the
 * oracle's and that finished, lowest ratio first (ties in the rows' order). A row's ratios are
 * per seed in ascending seed order; `seeds` names them (default 1..n, as
 * `npm run bench --seeds n` runs them).
 */
export function belowOracle(rows: readonly BenchRow[], seeds?: readonly number[]): BelowOracle[] {
  const found: BelowOracle[] = [];
  for (const row of rows) {
    if (row.strategy === ORACLE) continue;
    row.ratioToOracle.bySeed.forEach((ratio, i) => {
      if (ratio < 1 && !row.unfinishedBySeed[i])
        found.push({ case: row.profile, recipients: row.recipients, seed: seeds?.[i] ?? i + 1, contender: row.strategy, ratio });
    });
  }
  return found
    .map((entry, order) => ({ entry, order }))
    .sort((a, b) => a.entry.ratio - b.entry.ratio || a.order - b.order)
    .map((x) => x.entry);
}

/** One line for an empty list, else a heading and a line per run. */
export function formatBelowOracle(list: readonly BelowOracle[]): string {
  if (list.length === 0) return 'Runs that beat the oracle: none';
  const lines = list.map(
    (b) => `  ${b.contender} on ${b.case} @ ${b.recipients.toLocaleString('en-US')}, seed ${b.seed}: ${b.ratio.toFixed(3)}x the oracle`,
  );
  return [`Runs that beat the oracle (it should be a lower bound): ${list.length}`, ...lines].join('\n');
}
