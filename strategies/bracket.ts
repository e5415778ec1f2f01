/**
 * bracket — finds the session's capacity and sends just under it.
 *
 * Optimises: time to finish, measured against an oracle that knows the
 * network. It keeps two numbers for the send: `good`, the largest size that
 * succeeded, and `bad`, the smallest size that failed because of its size.
 * - Until something fails it grows as far as its latency model allows: to the
 *   size predicted to take twice as long as the last good one (at least x2, at
 *   most x16), never into a size predicted to be SLOW.
 * - Once bracketed it bisects geometrically between good and bad until they are
 *   close (tighter when many batches remain, where each percent counts), then
 *   cruises at good; every PROBE_EVERY clean batches it probes a little above,
 *   so a network that got faster is noticed.
 * - A failure at or below `good` is not about size (a random failure, a tail
 *   latency): it retries the same size. Two in a row mean the capacity fell:
 *   it halves and brackets again. Rate limits never change the size.
 * - It bounds each call's latency from what succeeded (affine latency: above a
 *   sample it grows at most proportionally, below it cannot be slower) and asks
 *   the engine to give up at 1.5x that bound plus a second: a call far slower
 *   than predicted has hit a limit, and waiting out the full timeout only costs.
 * - With history it starts at the proven size and cruises there (memory is a
 *   starting point, never a ceiling: it probes above after a few clean batches);
 *   if the proven size fails at once it drops to a quarter and brackets.
 * - It never lets the engine's tail rule merge a batch into an untested size.
 * Compared with `adaptive`: no fixed levels, the failure point remembered within
 * a send, random failures told apart from size failures, and early give-up.
 */
import { defineStrategy, speedOf, type BatchOutcome, type StrategyContext } from './sdk.js';

/** Stop bisecting when bad/good is under this (with few batches left) ... */
export const TOLERANCE_SHORT = 1.12;
/** ... or under this when many remain: a few percent over many batches pays for one more probe. */
export const TOLERANCE_LONG = 1.05;
export const PROBE_EVERY = 24;
/** Starting from history, the first probe above the proven size comes sooner. */
export const PROBE_FROM_MEMORY = 8;
export const PROBE_STEP = 1.1;
export const GIVE_UP_FACTOR = 1.5;
export const GIVE_UP_MARGIN_MS = 1000;
const SAMPLES = 8;

interface Sample {
  readonly n: number;
  readonly ms: number;
}

interface State {
  readonly size: number;
  readonly good: number;
  readonly bad: number;
  /** `bad` is a guess from memory (proven size), not a failure seen in this send. */
  readonly badGuessed: boolean;
  readonly samples: readonly Sample[];
  /** What history says one batch at the proven size took: for latency bounds only. */
  readonly remembered?: Sample;
  /** Clean batches since good or bad last changed. */
  readonly streak: number;
  /** Failures in a row at or below good. */
  readonly lowFailures: number;
}

/** Upper bound on latency(n): from a sample at n_i <= n it is at most L_i * n / n_i; from one at n_i >= n, at most L_i. */
function latencyBound(n: number, samples: readonly Sample[]): number | undefined {
  let bound: number | undefined;
  for (const s of samples) {
    const b = s.n <= n ? (s.ms * n) / s.n : s.ms;
    if (bound === undefined || b < bound) bound = b;
  }
  return bound;
}

/** latency = base + per * n through the two most different sizes that succeeded; undefined without spread. */
function fit(samples: readonly Sample[]): { base: number; per: number } | undefined {
  if (samples.length < 2) return undefined;
  const lo = samples.reduce((a, b) => (b.n < a.n ? b : a));
  const hi = samples.reduce((a, b) => (b.n > a.n ? b : a));
  if (hi.n < lo.n * 1.5) return undefined;
  const per = Math.max(1e-6, (hi.ms - lo.ms) / (hi.n - lo.n));
  return { base: Math.max(0, lo.ms - per * lo.n), per };
}

/** How far to grow from `from` with no failure seen: to twice its predicted latency, x2..x16. */
function growth(from: number, state: State, ctx: StrategyContext): number {
  const model = fit(state.samples);
  let target = from * 2;
  if (model) {
    const budget = 2 * (model.base + model.per * from);
    target = Math.min(from * 16, Math.max(from * 2, Math.floor((budget - model.base) / model.per)));
    const slowAt = Math.floor((ctx.config.slowBatchThresholdMs - model.base) / model.per);
    if (slowAt > from) target = Math.min(target, slowAt);
  }
  return target;
}

function decide(state: State, ctx: StrategyContext, why: string): { state: State; size: number; reason: string; timeoutMs?: number } {
  const { good, bad } = state;
  const tolerance = good > 0 && ctx.remaining / good > 20 ? TOLERANCE_LONG : TOLERANCE_SHORT;
  const probeEvery = state.badGuessed ? PROBE_FROM_MEMORY : PROBE_EVERY;
  let size: number;
  let how: string;
  if (!Number.isFinite(bad)) {
    size = good > 0 ? growth(good, state, ctx) : state.size;
    how = good > 0 ? `no failure yet: growing from ${good}` : 'start';
  } else if (good === 0) {
    size = state.size;
    how = `nothing has worked yet below ${bad}`;
  } else if (bad / good > tolerance && !state.badGuessed) {
    size = Math.round(Math.sqrt(good * bad));
    how = `bracketing between ${good} and ${bad}`;
  } else if (state.streak >= probeEvery) {
    size = Math.ceil(good * PROBE_STEP);
    how = `probing above ${good} after ${state.streak} clean batches`;
  } else {
    size = good;
    how = state.badGuessed ? `cruising at the proven ${good}` : `cruising at ${good} (failed at ${bad})`;
  }
  size = Math.max(1, Math.min(ctx.config.maxBatchSize, Math.floor(size)));
  // The engine sends the whole rest when under 1.5x the size remains: split it instead if that rest is untested.
  if (ctx.remaining < size * 1.5 && ctx.remaining > Math.max(good, size)) {
    size = Math.ceil(ctx.remaining / 2);
    how += `; splitting the last ${ctx.remaining} in two`;
  }
  const bound = latencyBound(size, state.remembered ? [...state.samples, state.remembered] : state.samples);
  const next = { ...state, size };
  const reason = `${why}: ${how} -> ${size}`;
  return bound === undefined ? { state: next, size, reason } : { state: next, size, reason, timeoutMs: Math.round(bound * GIVE_UP_FACTOR + GIVE_UP_MARGIN_MS) };
}

function afterFailure(state: State, outcome: BatchOutcome): [State, string] {
  const what = `${outcome.size} failed (${outcome.error ?? 'error'})`;
  if (outcome.error === 'rate_limited') return [state, `rate limited at ${outcome.size}: same size`];
  if (state.good === 0) {
    // Nothing worked yet: a quarter gets under a stale memory or a weak account in one step.
    return [{ ...state, size: Math.max(1, Math.floor(outcome.size / 4)), bad: outcome.size, badGuessed: false, streak: 0 }, `${what} before anything worked`];
  }
  if (outcome.size > state.good) {
    return [{ ...state, bad: Math.min(outcome.size, state.badGuessed ? Infinity : state.bad), badGuessed: false, streak: 0, lowFailures: 0 }, `${what}, above the last good ${state.good}`];
  }
  const lowFailures = state.lowFailures + 1;
  if (lowFailures < 2) return [{ ...state, lowFailures }, `${what} at a size that worked: taken as random, retrying`];
  return [
    { ...state, good: Math.max(1, Math.floor(outcome.size / 2)), bad: outcome.size, badGuessed: false, streak: 0, lowFailures: 0 },
    `${what} twice at a size that worked: capacity fell, halving`,
  ];
}

function afterSuccess(state: State, outcome: BatchOutcome, ctx: StrategyContext): [State, string] {
  const samples = [...state.samples, { n: outcome.size, ms: outcome.durationMs }].slice(-SAMPLES);
  const raised = outcome.size > state.good;
  // Success at or above the failure point: the network got better; forget the ceiling.
  let bad = outcome.size >= state.bad ? Infinity : state.bad;
  let badGuessed = bad === Infinity ? false : state.badGuessed;
  // A SLOW success is a ceiling of its own: do not grow past it.
  if (speedOf(outcome.durationMs, ctx.config) === 'SLOW' && !Number.isFinite(bad)) {
    bad = Math.ceil(outcome.size * TOLERANCE_SHORT);
    badGuessed = false;
  }
  return [
    { ...state, good: Math.max(state.good, outcome.size), bad, badGuessed, samples, streak: raised ? 0 : state.streak + 1, lowFailures: 0 },
    `${outcome.size} ok in ${Math.round(outcome.durationMs)} ms`,
  ];
}

export default defineStrategy<State>({
  name: 'bracket',
  description: 'Brackets the capacity between the last good and first failed size, cruises just under it, gives up early on calls far slower than predicted.',

  start(ctx) {
    const first = ctx.config.progressiveSequence[0]!;
    const initial: State = { size: first, good: 0, bad: Infinity, badGuessed: false, samples: [], streak: 0, lowFailures: 0 };
    const proven = Math.min(ctx.history?.maxProvenBatchSize ?? 0, ctx.config.maxBatchSize);
    if (proven <= first) return decide(initial, ctx, 'no history');
    const remembered = ctx.history!.averageBatchTime > 0 ? { n: proven, ms: ctx.history!.averageBatchTime } : undefined;
    // Cruise at the proven size as if bracketed just above it; the first probe comes after PROBE_FROM_MEMORY batches.
    const state: State = { ...initial, size: proven, bad: Math.ceil(proven * PROBE_STEP), badGuessed: true, ...(remembered ? { remembered } : {}) };
    return decide(state, ctx, `proven ${proven} in history`);
  },

  next(state, outcome, ctx) {
    const [after, why] = outcome.ok ? afterSuccess(state, outcome, ctx) : afterFailure(state, outcome);
    return decide(after, ctx, why);
  },
});
