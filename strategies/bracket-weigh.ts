/**
 * bracket's weighing: how likely a size is to fail, what a failed try costs,
 * and so whether a try is worth it over the rest of the send. Pure functions
 * over what the strategy has seen (its `Evidence`), like the strategy itself.
 */
import { expectedMs, fitLine, giveUpMs, timePerRecipient, type Sample } from './bracket-latency.js';
import type { StrategyContext } from './sdk.js';

/**
 * How likely the proven size is to fail now: memory is usually right, but a
 * wrong memory costs a whole hung call, which on a short send is a large share
 * of it. Sizes below the proven one are proportionally safer.
 */
const MEMORY_ODDS = 0.3;
/** Sizes weighed between good and bad: this many geometric steps. */
const BRACKET_STEPS = 8;

/** What the weighing reads of bracket's state. */
export interface Evidence {
  /** Largest size that succeeded (0 when none yet). */
  readonly good: number;
  /** Smallest size that failed on size (Infinity when none). */
  readonly bad: number;
  /** `bad` is a guess from memory (proven size), not a failure seen in this send. */
  readonly badGuessed: boolean;
  readonly samples: readonly Sample[];
  /** The size history says worked (0 without history): a target to grow to, not a place to start. */
  readonly proven: number;
  /**
   * What a failure has cost so far, as a fraction of the predicted latency of the
   * call that failed: ~0.3 where oversized calls are rejected fast, above 1 where
   * they hang until given up on. Undefined until something failed.
   */
  readonly failCost?: number;
  /**
   * How likely `bad` is a real ceiling: 1 when sizes failed there on size; below 1
   * when its one failure was a hang at a size that had worked (random, or the
   * capacity fell), from how such failures turned out earlier in the send.
   */
  readonly ceilingOdds: number;
}

/** What a failed try at n would cost: as much as failures have cost so far, at most the give-up time. */
function failureCostMs(n: number, state: Evidence): number | undefined {
  const expected = expectedMs(n, state.samples);
  const giveUp = giveUpMs(n, state.samples);
  if (expected === undefined || giveUp === undefined) return undefined;
  return state.failCost === undefined ? giveUp : Math.min(giveUp, expected * state.failCost);
}

/**
 * How likely a try at `size` is to fail on size. In order of evidence: what
 * this send has seen work (wins) and fail (the bracket between good and bad);
 * else the progressive sequence as the operator's prior on where capacities
 * lie (odds from 10% at its first levels to 50% at its top), lowered at and
 * below a size history says worked.
 */
function failureOdds(size: number, state: Evidence, ctx: StrategyContext): number {
  // Sizes at or above this one worked k times since they last failed: odds (Laplace) 1 / (k + 2).
  const wins = state.samples.reduce((sum, x) => sum + (x.n >= size && x.n > 1 ? x.wins : 0), 0);
  const fromWins = wins > 0 ? 1 / (wins + 2) : undefined;
  if (Number.isFinite(state.bad) && !state.badGuessed) {
    // The capacity lies somewhere between good and bad; taken as log-uniform there.
    const between =
      state.good === 0 || size > state.bad
        ? 0.9
        : size === state.bad
          ? Math.min(0.9, state.ceilingOdds)
          : state.ceilingOdds * Math.max(0.05, Math.log(size / state.good) / Math.log(state.bad / state.good));
    // Both are evidence: the wins that the size worked, the failure that the network may have moved since.
    return fromWins === undefined ? between : (fromWins + between) / 2;
  }
  if (fromWins !== undefined) return fromWins;
  const top = ctx.config.progressiveSequence.at(-1) ?? size;
  const prior = Math.min(0.5, Math.max(0.1, (0.5 * size) / top));
  // History says the proven size worked, but the network may have changed since.
  return size <= state.proven ? Math.min(prior, (MEMORY_ODDS * size) / state.proven) : prior;
}

/**
 * The time trying `to` instead of `from` is expected to save: what it would save
 * over the rest of the send if it works, less what a failed try costs, each
 * weighted by its odds. Undefined while too little is known to weigh it (sizes
 * are then still small, and trying is cheap).
 */
function expectedGain(from: number, to: number, state: Evidence, ctx: StrategyContext, odds?: number): number | undefined {
  const model = fitLine(state.samples);
  // The engine never sends more than what remains.
  const sent = Math.min(to, ctx.remaining);
  const cost = failureCostMs(sent, state);
  if (!model || cost === undefined) return undefined;
  if (sent <= from) return 0;
  const saved = ctx.remaining * (timePerRecipient(from, model, ctx) - timePerRecipient(sent, model, ctx));
  const p = odds ?? failureOdds(to, state, ctx);
  return saved * (1 - p) - cost * p;
}

export function worthTrying(from: number, to: number, state: Evidence, ctx: StrategyContext, odds?: number): boolean {
  const gain = expectedGain(from, to, state, ctx, odds);
  return gain === undefined || gain > 0;
}

/**
 * Between good and bad, the size worth trying most: close to good it is likely
 * to work but saves little; close to bad it saves more but likely fails.
 */
export function bracketTry(state: Evidence, ctx: StrategyContext): number | undefined {
  const { good, bad } = state;
  let best: number | undefined;
  let bestGain = 0;
  for (let k = 1; k <= BRACKET_STEPS; k++) {
    const to = Math.round(good * (bad / good) ** (k / BRACKET_STEPS));
    // The failed size itself is worth retrying when its failure may have been random.
    if (to <= good || to > bad || (to === bad && state.ceilingOdds >= 1)) continue;
    const gain = expectedGain(good, to, state, ctx);
    if (gain === undefined) return Math.round(Math.sqrt(good * bad));
    if (gain > bestGain) [best, bestGain] = [to, gain];
  }
  return best;
}

/** How far to grow from `from` with no failure seen: to twice its predicted latency, x2 to x`maxGrowth`, never into SLOW. */
export function growth(from: number, state: Evidence, ctx: StrategyContext, maxGrowth: number): number {
  const model = fitLine(state.samples);
  let target = from * 2;
  if (model) {
    const budget = 2 * (model.base + model.per * from);
    target = Math.min(from * maxGrowth, Math.max(from * 2, Math.floor((budget - model.base) / model.per)));
    const slowAt = Math.floor((ctx.config.slowBatchThresholdMs - model.base) / model.per);
    if (slowAt > from) target = Math.min(target, slowAt);
  }
  return target;
}
