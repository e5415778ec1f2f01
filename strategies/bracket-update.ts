/**
 * How bracket's evidence moves after each batch: its state, what a success and
 * a failure do to it (by the move the phase transition named), growth after a
 * clean run, and the fall of a capacity. bracket.ts decides sizes from it.
 */
import { addSample, discountWins, expectedMs, type Sample } from './bracket-latency.js';
import { STEADY, type Move, type Phase } from './bracket-phase.js';
import type { BracketTuning } from './bracket-options.js';
import type { Evidence } from './bracket-weigh.js';
import { speedOf, type BatchOutcome, type StrategyContext } from './sdk.js';

/** The evidence (good, bad, samples, proven, failCost: see Evidence), the phase, and what the moves between phases read. */
export interface BracketState extends Evidence {
  readonly phase: Phase;
  readonly size: number;
  /** What history says one batch at the proven size took: for latency bounds only. */
  readonly remembered?: Sample;
  /** The smallest size above the proven one that failed on an earlier send (0: none found). */
  readonly limit: number;
  /** Clean batches since good or bad last changed. */
  readonly streak: number;
  /** After the capacity fell, sizes stay above this: failures at tiny sizes are an outage, not a capacity. */
  readonly floor: number;
  /** batchesSent when it last went back after a blip: a second fast error soon after is about size after all. */
  readonly lastBlip: number;
  /** While `bad` may be random (ceilingOdds < 1): the ceiling before it, restored if `bad` works again. */
  readonly shadowBad: number;
  /** Failures at a size that had worked, in this send: later shown random (it worked again) or real (more failed). */
  readonly randoms: number;
  readonly drops: number;
  /** Probes in a row that failed: each doubles the wait for the next. */
  readonly failedProbes: number;
  /** The engine's last size that worked (0 before any): a failure at or under it costs its recipients an attempt. */
  readonly lastOk: number;
  /** The attempts failed so far by the recipients at the front of the queue, as the engine counts them (see `strikeFront`). */
  readonly front: Front;
  /** The next call is one recipient sent before `size`, so that a failure of `size` costs nobody an attempt. */
  readonly rescuing: boolean;
  /**
   * Since the floor last worked: small calls sent between failures at the floor that went
   * through, and that failed. Small calls going through while the floor keeps failing is a
   * capacity under the floor; small calls failing too is an outage (as in the outage phase).
   */
  readonly underFloor: { readonly ok: number; readonly failed: number };
  /** The floor just failed: send a small call before trying it again (see `underFloor`). */
  readonly floorCheck: boolean;
}

/** Runs of [recipients, attempts failed] at the front of the engine's queue, front first; everyone after them has failed none. */
export type Front = readonly (readonly [number, number])[];

/**
 * The engine's default attempts per recipient (SMART_SEND_MAX_ATTEMPTS, not in the strategy's
 * view): a recipient whose batch failed this many times is given up.
 */
export const ENGINE_ATTEMPTS = 3;

/** The front of the queue after a call of n that worked: those n were delivered. */
function dropFront(front: Front, n: number): Front {
  const out: [number, number][] = [];
  let left = n;
  for (const [count, strikes] of front) {
    const taken = Math.min(left, count);
    left -= taken;
    if (count > taken) out.push([count - taken, strikes]);
  }
  return out;
}

/**
 * The front after this outcome, mirroring the engine's queue: a call of n takes the first n; if it
 * works they leave; if it fails they go back first, each with one failed attempt more unless the
 * batch was larger than the last that worked (the engine's rule: a probe says nothing about its
 * recipients), and whoever reaches ENGINE_ATTEMPTS is given up.
 */
export function strikeFront(state: BracketState, outcome: BatchOutcome): Front {
  if (outcome.ok) return dropFront(state.front, outcome.size);
  const struck = outcome.error !== 'rate_limited' && (state.lastOk === 0 || outcome.size <= state.lastOk);
  if (!struck) return state.front;
  const out: [number, number][] = [];
  let left = outcome.size;
  for (const [count, strikes] of state.front) {
    const taken = Math.min(left, count);
    left -= taken;
    if (taken > 0 && strikes + 1 < ENGINE_ATTEMPTS) out.push([taken, strikes + 1]);
    if (count > taken) out.push([count - taken, strikes]);
  }
  if (left > 0) out.push([left, 1]);
  return out;
}

/** The most attempts any of the first n recipients has failed. */
export function frontStrikes(front: Front, n: number): number {
  let most = 0;
  let left = n;
  for (const [count, strikes] of front) {
    if (left <= 0) break;
    most = Math.max(most, strikes);
    left -= count;
  }
  return most;
}

/** What a failure teaches, by what it turned out to be (`move`, from bracket-phase.ts). */
export function afterFailure(
  prior: BracketState,
  phase: Phase,
  move: Move,
  outcome: BatchOutcome,
  t: BracketTuning,
): [BracketState, string] {
  const what = `${outcome.size} failed (${outcome.error ?? 'error'})`;
  if (move === 'rate-limited') return [prior, `rate limited at ${outcome.size}: same size`];
  const wasOutage = prior.phase.kind === 'outage';
  const expected = predictedMs(outcome.size, prior.samples, t);
  // What a failed try costs; one-recipient calls during an outage are not tries (a fast error there costs ~1x).
  const cost = expected && !wasOutage ? outcome.durationMs / expected : undefined;
  const failCost = cost === undefined ? prior.failCost : prior.failCost === undefined ? cost : 0.7 * prior.failCost + 0.3 * cost;
  // A fast error at a size that worked says nothing about size (a blip, an outage); a timeout there may.
  const sizeRelated = outcome.error === 'timeout' || outcome.size > prior.good;
  const samples = sizeRelated ? discountWins(prior.samples, outcome.size) : prior.samples;
  const failedProbes = prior.phase.kind === 'probing' ? prior.failedProbes + 1 : prior.failedProbes;
  const state: BracketState = { ...prior, phase, samples, failedProbes, ...(failCost === undefined ? {} : { failCost }) };
  switch (move) {
    case 'outage':
      return [state, `${what}${wasOutage ? '' : ' too, and fast'}: an outage, not a size`];
    case 'cold-failure': {
      // A third gets under most stale memories or a weak account in one step. Not below
      // the floor: when tiny batches fail too, it is an outage, and smaller will not help.
      // But a capacity can fall further than the floor allows for (a sixteenth): when a small
      // call sent between failures at the floor keeps going through, far more often than it
      // fails, the floor goes down by a third; until then such a call goes first (bracket.ts).
      if (outcome.size <= state.floor && state.floor > 1) {
        const { ok, failed } = state.underFloor;
        if (ok >= 2 && ok > 2 * failed) {
          const floor = Math.max(1, Math.floor(state.floor / t.checkDivisor));
          const lowered = {
            ...state,
            size: floor,
            floor,
            bad: outcome.size,
            badGuessed: false,
            streak: 0,
            underFloor: NOTHING_UNDER_FLOOR,
          };
          return [lowered, `${what} at the floor, and small calls go through: the capacity fell below ${state.floor}`];
        }
        return [{ ...state, size: state.floor, bad: outcome.size, badGuessed: false, streak: 0, floorCheck: true }, `${what} at the floor`];
      }
      const size = Math.max(state.floor, Math.floor(outcome.size / t.checkDivisor));
      return [{ ...state, size, bad: outcome.size, badGuessed: false, streak: 0 }, `${what} before anything worked`];
    }
    case 'ceiling': {
      // While the ceiling may have been random, a failure under it says the capacity did fall.
      const doubt =
        state.ceilingOdds < 1 && outcome.size <= state.bad ? { ceilingOdds: 1, shadowBad: Infinity, drops: state.drops + 1 } : {};
      // Above a limit remembered from an earlier send, a failure says the limit still holds.
      return [
        { ...state, ...doubt, bad: Math.min(outcome.size, state.bad), badGuessed: false, streak: 0 },
        `${what}, above the last good ${state.good}`,
      ];
    }
    case 'retry':
      return [state, `${what} at a size that worked: most likely random, retrying it once`];
    case 'suspect':
      return prior.phase.kind === 'retrying'
        ? [state, `${what} again: the capacity fell, or an outage`]
        : [state, `${what} at a size that worked: random, the capacity fell, or an outage`];
    case 'fell': {
      // Two hangs in a row where hangs so far were mostly random: maybe chance again,
      // so the check's size stays in doubt (and the ceiling before it is kept in case both were).
      const fell = capacityFell(state, outcome.size, t);
      if (state.randoms <= state.drops) return [fell, `${what} too: the capacity fell`];
      return [{ ...fell, ceilingOdds: fallOdds(state), shadowBad: state.bad }, `${what} too: the capacity fell, or both were random`];
    }
    default:
      throw new Error(`bracket: ${move} is not a move after a failure`);
  }
}

/** What a success teaches, by what it turned out to be (`move`, from bracket-phase.ts). */
export function afterSuccess(
  state: BracketState,
  phase: Phase,
  move: Move,
  outcome: BatchOutcome,
  ctx: StrategyContext,
  t: BracketTuning,
): [BracketState, string] {
  const samples = addSample(state.samples, outcome.size, outcome.durationMs);
  switch (move) {
    case 'rejected-fast': {
      const check = Math.max(1, Math.floor(state.good / t.checkDivisor));
      return [{ ...capacityFell(state, check, t), samples }, `${outcome.size} ok at once again: the capacity fell below ${check}`];
    }
    case 'outage-over':
      return [{ ...state, phase, samples }, `${outcome.size} ok: the outage may be over`];
    case 'retried':
      return [{ ...state, phase, samples, randoms: state.randoms + 1 }, `${outcome.size} ok again: the failure before was random`];
    case 'blip-over':
      // The network works below and the failure was not a hang: a blip or an outage, not a ceiling.
      return [
        { ...state, phase, samples, lastBlip: ctx.batchesSent },
        `${outcome.size} ok after a fast error at ${state.good}: a blip, back to it`,
      ];
    case 'checked': {
      // The check worked but the size above it just failed: random, or the capacity
      // fell. Bracket again between the two, the failed size included, with odds from
      // how such failures turned out so far in this send (Laplace: half and half at first).
      const doubted = state.ceilingOdds < 1;
      const hung = state.phase.kind === 'checking' && state.phase.cause === 'hang';
      return [
        {
          ...state,
          phase,
          good: outcome.size,
          bad: Math.min(state.bad, state.good),
          badGuessed: false,
          samples,
          streak: 0,
          ceilingOdds: hung && state.good < state.bad ? fallOdds(state) : 1,
          shadowBad: doubted ? state.shadowBad : state.badGuessed ? Infinity : state.bad,
          drops: doubted ? state.drops + 1 : state.drops,
        },
        `${outcome.size} ok after a failure at ${state.good}`,
      ];
    }
    default:
      return grown(state, samples, outcome, ctx, t);
  }
}

/** An ordinary success ('ok'): raise good, and forget a ceiling it reached. */
function grown(
  state: BracketState,
  samples: Sample[],
  outcome: BatchOutcome,
  ctx: StrategyContext,
  t: BracketTuning,
): [BracketState, string] {
  const raised = outcome.size > state.good;
  // Success at or above the failure point: the network got better, or the failure was
  // random (then the ceiling found before it stands); forget that ceiling.
  const random = state.ceilingOdds < 1 && outcome.size >= state.bad;
  const above = random ? state.shadowBad : state.bad;
  let bad = outcome.size >= above ? Infinity : above;
  let badGuessed = bad === Infinity ? false : state.badGuessed;
  // Reaching the proven size with a limit remembered above it: cruise under the limit, and
  // probe above it sooner than usual (memory is a starting point, never a ceiling). With no
  // limit remembered, the proven size is only what an earlier send needed: keep growing.
  if (state.limit > outcome.size && outcome.size >= state.proven && state.good < state.proven && !Number.isFinite(bad)) {
    bad = state.limit;
    badGuessed = true;
  }
  // A SLOW success is a ceiling of its own: do not grow past it.
  if (speedOf(outcome.durationMs, ctx.config) === 'SLOW' && !Number.isFinite(bad)) {
    bad = Math.ceil(outcome.size * t.toleranceShort);
    badGuessed = false;
  }
  return [
    {
      ...state,
      phase: STEADY,
      good: Math.max(state.good, outcome.size),
      bad,
      badGuessed,
      samples,
      streak: raised ? 0 : state.streak + 1,
      ...(random ? { ceilingOdds: 1, shadowBad: Infinity, randoms: state.randoms + 1 } : {}),
      ...(state.phase.kind === 'probing' ? { failedProbes: 0 } : {}),
      ...(outcome.size >= state.floor ? { underFloor: NOTHING_UNDER_FLOOR } : {}),
    },
    `${outcome.size} ok in ${Math.round(outcome.durationMs)} ms${random ? `: the failure at ${state.bad} was random` : ''}`,
  ];
}

export const NOTHING_UNDER_FLOOR = Object.freeze({ ok: 0, failed: 0 });

export const onlyAnchor = (samples: readonly Sample[]): boolean => samples.length === 1 && samples[0]!.n === 1;

/**
 * What a call of n should take. With only the anchor known, its round trip plus the
 * most a recipient is likely to cost (the proportional bound from one recipient
 * would predict minutes, and make a first call that hung look nearly free).
 */
export function predictedMs(n: number, samples: readonly Sample[], t: BracketTuning): number | undefined {
  return onlyAnchor(samples) ? samples[0]!.ms + t.maxMsPerRecipient * n : expectedMs(n, samples);
}

/** How likely a hang at a size that worked means the capacity fell, from how such hangs turned out in this send (Laplace). */
function fallOdds(state: BracketState): number {
  return (state.drops + 1) / (state.drops + state.randoms + 2);
}

/** Failures at a size that worked and at `failed` below it: the capacity fell under `failed`; on down by thirds. */
function capacityFell(state: BracketState, failed: number, t: BracketTuning): BracketState {
  return {
    ...state,
    phase: STEADY,
    size: Math.max(1, Math.floor(failed / t.checkDivisor)),
    good: 0,
    bad: failed,
    badGuessed: false,
    streak: 0,
    floor: Math.max(1, Math.ceil(state.good / 16)),
    ceilingOdds: 1,
    shadowBad: Infinity,
    // A new regime: what probes found above the old capacity says nothing of the new one.
    failedProbes: 0,
  };
}
