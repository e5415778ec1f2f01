/**
 * Runs every contender over every case, list size and seed, and folds the runs
 * into one row per (strategy, case, recipients). Each run's completion time is
 * divided by the oracle's on the same case, size and seed.
 */
import type { SmartSendConfig } from '../config.js';
import { ORACLE } from './baselines.js';
import { runOnce, type BenchCase, type Contender, type RunResult } from './run.js';
import { geomean, mean, percentile } from './stats.js';
import { isUnfinished } from './targets.js';

export interface BenchRow {
  readonly strategy: string;
  readonly profile: string;
  readonly recipients: number;
  readonly seeds: number;
  /** Completion time / the oracle's on the same seed: over the seeds, and each seed's (seed 1 first) to find the tail. */
  readonly ratioToOracle: { readonly geomean: number; readonly p95: number; readonly bySeed: readonly number[] };
  readonly completionMs: { readonly mean: number };
  readonly failedCalls: { readonly mean: number };
  readonly wastedSends: { readonly mean: number };
  readonly calls: { readonly mean: number };
  readonly undelivered: { readonly mean: number };
  /** Runs that gave up more than 1% of the list (targets.ts isUnfinished): they beat nothing. */
  readonly unfinished: number;
  /** Per seed in the order of ratioToOracle.bySeed: whether that run was unfinished (so its ratio beats nothing). */
  readonly unfinishedBySeed: readonly boolean[];
  readonly lost: number;
}

export interface MatrixOptions {
  readonly cases: readonly BenchCase[];
  /** Strategies and baselines; the oracle is always run (it is the denominator). */
  readonly contenders: readonly Contender[];
  readonly recipients: readonly number[];
  readonly seeds: readonly number[];
  readonly config: SmartSendConfig;
  readonly onRun?: (run: RunResult) => void;
}

export interface MatrixResult {
  readonly rows: BenchRow[];
  readonly runs: RunResult[];
}

export async function runMatrix(options: MatrixOptions): Promise<MatrixResult> {
  const { cases, recipients, seeds, config } = options;
  const others = options.contenders.filter((c) => c !== ORACLE);
  const runs: RunResult[] = [];
  for (const benchCase of cases) {
    for (const n of recipients) {
      for (const seed of seeds) {
        for (const contender of [ORACLE, ...others] as Contender[]) {
          const run = await runOnce(contender, benchCase, n, seed, config);
          runs.push(run);
          options.onRun?.(run);
        }
      }
    }
  }
  return { rows: foldRows(runs), runs };
}

export function foldRows(runs: readonly RunResult[]): BenchRow[] {
  const oracleTime = new Map<string, number>();
  for (const r of runs) if (r.strategy === ORACLE) oracleTime.set(`${r.case}|${r.recipients}|${r.seed}`, r.completionMs);
  const groups = new Map<string, RunResult[]>();
  for (const r of runs) {
    const key = `${r.strategy}|${r.case}|${r.recipients}`;
    const group = groups.get(key);
    if (group) group.push(r);
    else groups.set(key, [r]);
  }
  return [...groups.values()].map((group) => {
    group.sort((a, b) => a.seed - b.seed);
    const first = group[0]!;
    const ratios = group.map((r) => r.completionMs / oracleTime.get(`${r.case}|${r.recipients}|${r.seed}`)!);
    return {
      strategy: first.strategy,
      profile: first.case,
      recipients: first.recipients,
      seeds: group.length,
      ratioToOracle: { geomean: geomean(ratios), p95: percentile(ratios, 95), bySeed: ratios },
      completionMs: { mean: mean(group.map((r) => r.completionMs)) },
      failedCalls: { mean: mean(group.map((r) => r.failedCalls)) },
      wastedSends: { mean: mean(group.map((r) => r.wastedSends)) },
      calls: { mean: mean(group.map((r) => r.calls)) },
      undelivered: { mean: mean(group.map((r) => r.undelivered)) },
      unfinished: group.filter(isUnfinished).length,
      unfinishedBySeed: group.map(isUnfinished),
      lost: group.reduce((sum, r) => sum + r.lost, 0),
    };
  });
}
