/**
 * aggressive — for healthy accounts and big lists.
 *
 * Optimises: time to finish, accepting more failed calls. It grows
 * multiplicatively and is not bound to the progressive sequence, only to
 * maxBatchSize: after a FAST batch to the size its latency says would still be
 * FAST (x1.25 to x8; a batch that is mostly the anchor's fixed round trip
 * counts as FAST), x1.25 after a NORMAL one. A SLOW batch takes a quarter off.
 * With history it starts at the proven size.
 *
 * A failure on size sets a ceiling: the smallest size that failed (the
 * session's remembered minFailedBatchSize is one from the start). It falls
 * back to the largest size that worked below the ceiling, or halves when none
 * did, and grows towards the ceiling by halving the gap rather than doubling
 * into it again; it tries the ceiling itself after
 * CLEAN_BATCHES_TO_RETRY_CEILING clean batches in a row (twice as many each
 * time that fails again), so a capacity that rose is found. A failure at a
 * size that kept working through such a run is chance, not a ceiling; a quick
 * refusal at a size that worked in this send sets none, and one above it is
 * tried once more before it does. Once a batch has worked, every call gives up
 * as soon as it is slower than its size can take (adaptive-timeout.ts), so a
 * probe into the ceiling, or a size that stopped fitting, costs a second or two
 * instead of the whole batch timeout.
 *
 * A second quick refusal in a row at a size that worked is no chance: the
 * capacity fell, and it halves with that size as the ceiling. A leap of more
 * than x2 stops halfway to the ceiling too, so a probe that failed is not
 * followed by one just under it. The give-up bound loosens by how much slower
 * than the latency sample a call no bigger turned out (up to x2): networks
 * that jitter by 30% made calls that fit give up. Before a call whose failure
 * would give up recipients at the front of the queue, one recipient goes first
 * (front-guard.ts).
 *
 * Compared with `adaptive`: no levels, faster growth past the top of the
 * sequence, and a fallback to what worked rather than a level-wise retreat.
 */
import { guardFront } from './front-guard.js';
import { keepSample, type Sample, unprovenTimeoutMs, withTimeout } from './adaptive-timeout.js';
import { type BatchOutcome, clampSize, defineStrategy, planSize, speedOf, type Step, type StrategyContext, TAIL_FACTOR } from './sdk.js';

export const GROWTH_FAST = 2;
/**
 * The most a FAST batch may grow the next one. Past x2, doubling from 100
 * took five calls to reach the sizes most accounts take, and on a server that
 * takes three calls in 3 s a 1,000-recipient send paid for the fourth; at x8
 * a probe past the capacity gives up early (adaptive-timeout.ts), so a miss
 * costs a few seconds.
 */
export const GROWTH_FAST_MAX = 8;
export const GROWTH_NORMAL = 1.25;
export const BACKOFF_SLOW = 0.75;
export const BACKOFF_FAILED = 0.5;

/**
 * A batch that took at most this many times the anchor's round trip grows as
 * if it were FAST: where every call costs seconds whatever its size
 * (`overhead-dominated`, 2.5 s a call), x1.25 a call took 15 calls to reach
 * sizes the oracle starts at.
 */
export const OVERHEAD_BOUND = 1.5;

/**
 * Clean batches in a row before the ceiling is tried again. In the lab (every
 * profile at 10,000 recipients), 4 to 16 were within 2% of each other; 8 keeps
 * a random failure from lowering the cruise size for long without walking into
 * a real ceiling every few calls.
 */
export const CLEAN_BATCHES_TO_RETRY_CEILING = 8;

/**
 * Below the ceiling it stops halving the gap once the next step would carry
 * less than this many times the current size: a few percent more per call is
 * not worth a call that may hang.
 */
export const MIN_GAP_GAIN = 1.1;

/**
 * How much slower than the latency sample a call no bigger may be before the
 * give-up bound is loosened by the excess: the bound allows 20% jitter (1.25
 * x 0.8 = 1) on the sample. On a network that jitters by 30%, a lucky fast
 * sample made calls that fit give up, again and again (random-1-071 in the
 * lab's family: 5.75x the oracle).
 */
const SPREAD_ALLOWED = 1.25;

/** The most the bound loosens: a stalled call (a heavy tail) must not undo it. */
const SLACK_MAX = 2;

interface State {
  readonly size: number;
  /** Smallest size that failed on size and has not worked since; 0 when none. */
  readonly ceiling: number;
  /** Largest size that worked below the ceiling in this send; 0 when none. */
  readonly best: number;
  /** Clean batches (ok, not SLOW) in a row. */
  readonly clean: number;
  /** Clean batches needed before the ceiling is tried again. */
  readonly wait: number;
  /** Largest size that worked in this send, whatever the ceiling did since. */
  readonly top: number;
  /** A size refused quickly once, above anything that worked; 0 when none. */
  readonly suspect: number;
  /** What every call's give-up bound is multiplied by: the most a call was slower than the sample, past SPREAD_ALLOWED. */
  readonly slack: number;
  /** Quick refusals in a row at sizes that had worked; 0 after any success. */
  readonly refused: number;
  /** The largest batch that worked in this send and how long it took. */
  readonly ref?: Sample;
}

/**
 * Growth after a FAST batch: to the size the call's latency says would still
 * be FAST (its time over the anchor's round trip is the per-recipient cost),
 * between GROWTH_NORMAL (a batch only just FAST is near the threshold already)
 * and GROWTH_FAST_MAX times the size.
 */
function fastGrowth(outcome: BatchOutcome, ctx: StrategyContext): number {
  const fixed = ctx.anchorMs ?? 0;
  const perRecipient = (outcome.durationMs - fixed) / Math.max(1, outcome.size - 1);
  if (!(perRecipient > 0)) return GROWTH_FAST_MAX;
  const fits = (ctx.config.fastBatchThresholdMs - fixed) / perRecipient;
  return Math.min(GROWTH_FAST_MAX, Math.max(GROWTH_NORMAL, fits / outcome.size));
}

/** Where growth towards `wanted` may go under the ceiling, and why it stopped short if it did. */
function underCeiling(state: State, wanted: number, ctx: StrategyContext): { size: number; note: string } {
  let size = wanted;
  let note = '';
  const { ceiling } = state;
  const halfway = Math.floor((state.size + ceiling) / 2);
  if (ceiling > 0 && size >= ceiling && state.clean >= state.wait) {
    size = ceiling;
    note = ` (${state.clean} clean batches: trying ${ceiling} again)`;
  } else if (ceiling > 0 && (size >= ceiling || (size > halfway && size > GROWTH_FAST * state.size))) {
    // A leap not past halfway either: growth that stops just under the size that failed fails as often,
    // and every failure counts against the same recipients at the front of the queue.
    size = halfway >= state.size * MIN_GAP_GAIN ? halfway : state.size;
    note = ` (${ceiling} failed: halfway to it at most)`;
  }
  // The tail rule would merge what remains into one call: not into the ceiling, nor past anything that worked.
  const planned = planSize(size, ctx.remaining, ctx.config.maxBatchSize);
  if (planned > size && ((ceiling > 0 && planned >= ceiling) || planned > state.top)) {
    size = Math.max(1, Math.floor(ctx.remaining / TAIL_FACTOR));
    note += `; leaving a tail, so the last ${ctx.remaining} do not go out as one batch`;
  }
  return { size: clampSize(size, ctx.config), note };
}

function decide(state: State, outcome: BatchOutcome, ctx: StrategyContext): Step<State> {
  const speed = speedOf(outcome.durationMs, ctx.config);
  if (!outcome.ok) {
    if (outcome.error === 'rate_limited') {
      return { state, size: state.size, reason: `rate limited: ${state.size} again` };
    }
    const why = `batch of ${outcome.size} failed (${outcome.error ?? 'error'})`;
    if (outcome.size <= state.best && state.clean >= CLEAN_BATCHES_TO_RETRY_CEILING) {
      // It has worked at this size ever since the last failure: most likely chance.
      return {
        state: { ...state, clean: 0 },
        size: state.size,
        reason: `${why}: worked ${state.clean} times in a row, keeping ${state.size}`,
      };
    }
    if (outcome.error === 'error' && outcome.size <= state.top) {
      if (state.refused === 0) {
        // A quick refusal at a size this send got through: chance, or an outage, not a size that does not fit.
        return {
          state: { ...state, clean: 0, refused: 1 },
          size: state.size,
          reason: `${why}: ${outcome.size} has worked, keeping ${state.size}`,
        };
      }
      // Refused again with nothing through in between: the capacity fell below what worked, and what
      // worked proves nothing now. Down as after a failure on size, with this size as the ceiling.
      const ceiling = state.ceiling > 0 ? Math.min(state.ceiling, outcome.size) : outcome.size;
      const fallen: State = { ...state, ceiling, best: 0, top: 0, clean: 0, wait: CLEAN_BATCHES_TO_RETRY_CEILING, suspect: 0 };
      const wanted = clampSize(Math.min(state.size, outcome.size) * BACKOFF_FAILED, ctx.config);
      const { size, note } = underCeiling({ ...fallen, size: wanted }, wanted, ctx);
      return {
        state: { ...fallen, size, refused: state.refused + 1 },
        size,
        reason: `${why}: refused ${state.refused + 1} times in a row where it had worked, the capacity fell: x${BACKOFF_FAILED} -> ${size}${note}`,
      };
    }
    if (outcome.error === 'error' && state.suspect !== outcome.size) {
      // A quick refusal costs little: once more before it is taken as a ceiling, as chance refusals are common.
      return {
        state: { ...state, suspect: outcome.size, clean: 0 },
        size: outcome.size,
        reason: `${why}: refused quickly; trying ${outcome.size} once more before taking it as a ceiling`,
      };
    }
    const ceiling = state.ceiling > 0 ? Math.min(state.ceiling, outcome.size) : outcome.size;
    const wait = state.ceiling > 0 && ceiling === state.ceiling ? state.wait * 2 : CLEAN_BATCHES_TO_RETRY_CEILING;
    const best = state.best < ceiling ? state.best : 0;
    const wanted = best > 0 ? best : clampSize(outcome.size * BACKOFF_FAILED, ctx.config);
    const failed: State = { ...state, size: wanted, ceiling, best, clean: 0, wait };
    const { size, note } = underCeiling(failed, wanted, ctx);
    const move = best > 0 ? `back to ${size}, the largest that worked below it` : `x${BACKOFF_FAILED} -> ${size}`;
    return { state: { ...failed, size }, size, reason: `${why}: ${move}${note}` };
  }
  const lifted = state.ceiling > 0 && outcome.size >= state.ceiling;
  const worked: State = {
    ...state,
    ceiling: lifted ? 0 : state.ceiling,
    best: Math.max(state.best, outcome.size),
    wait: lifted ? CLEAN_BATCHES_TO_RETRY_CEILING : state.wait,
  };
  if (speed === 'SLOW') {
    const size = clampSize(state.size * BACKOFF_SLOW, ctx.config);
    return {
      state: { ...worked, size, clean: 0 },
      size,
      reason: `slow batch (${Math.round(outcome.durationMs)} ms): x${BACKOFF_SLOW} -> ${size}`,
    };
  }
  const counted = { ...worked, clean: state.clean + 1 };
  // A call hardly slower than the anchor's round trip is mostly fixed cost: a bigger one costs little more.
  const overhead = ctx.anchorMs !== undefined && outcome.durationMs <= OVERHEAD_BOUND * ctx.anchorMs;
  const factor = speed === 'FAST' || overhead ? fastGrowth(outcome, ctx) : GROWTH_NORMAL;
  const why =
    speed === 'FAST'
      ? `fast batch (${Math.round(outcome.durationMs)} ms)`
      : overhead
        ? `batch of ${Math.round(outcome.durationMs)} ms, mostly the ${Math.round(ctx.anchorMs ?? 0)} ms round trip`
        : `normal batch (${Math.round(outcome.durationMs)} ms)`;
  const { size, note } = underCeiling(counted, clampSize(state.size * factor, ctx.config), ctx);
  return { state: { ...counted, size }, size, reason: `${why}: x${Math.round(factor * 100) / 100} -> ${size}${note}` };
}

function next(state: State, outcome: BatchOutcome, ctx: StrategyContext): Step<State> {
  // A call no bigger than the sample that took longer than it: the network jitters more than the bound allows.
  const spread = outcome.ok && state.ref && outcome.size <= state.ref.size ? outcome.durationMs / state.ref.ms : 0;
  const learned: State = {
    ...state,
    slack: Math.max(state.slack, Math.min(SLACK_MAX, spread / SPREAD_ALLOWED)),
    refused: outcome.ok ? 0 : state.refused,
    ref: keepSample(state.ref, outcome),
    top: outcome.ok ? Math.max(state.top, outcome.size) : state.top,
  };
  const step = decide(learned, outcome, ctx);
  // Every call, proven or not, gives up once slower than its size can take: a hang costs a few seconds, not 15.
  const proven = 0;
  const bound = unprovenTimeoutMs(step.size, proven, step.state.ref, ctx);
  const timeoutMs = bound === undefined ? undefined : Math.ceil(bound * step.state.slack);
  if (timeoutMs === undefined || timeoutMs >= ctx.config.batchTimeoutMs) return step;
  return withTimeout({ ...step, reason: `${step.reason} (giving up after ${timeoutMs} ms)` }, timeoutMs);
}

export default defineStrategy(
  guardFront<State>({
    name: 'aggressive',
    description: 'Multiplicative growth past the sequence up to maxBatchSize; backs off to what worked below the size that failed.',

    start(ctx) {
      const first = ctx.config.progressiveSequence[0]!;
      const proven = ctx.history?.maxProvenBatchSize ?? 0;
      const ceiling = ctx.history?.minFailedBatchSize ?? 0;
      const fresh: State = {
        size: first,
        ceiling,
        best: 0,
        clean: 0,
        wait: CLEAN_BATCHES_TO_RETRY_CEILING,
        top: 0,
        suspect: 0,
        refused: 0,
        slack: 1,
      };
      if (proven > first) {
        // The proven size even under a remembered ceiling: that ceiling is above it, so it only caps growth.
        const size = clampSize(proven, ctx.config);
        return { state: { ...fresh, size }, size, reason: `session history: starting at the proven size ${size}` };
      }
      return { state: fresh, size: first, reason: `no history: starting at ${first}` };
    },

    next,
  }),
);
