/**
 * conservative — for accounts that must not be flagged.
 *
 * Optimises: fewest failed calls, at the cost of time. It climbs the
 * progressive sequence one level at a time and never skips. It steps up after
 * one FAST clean batch (FAST_BATCHES_TO_STEP_UP), or after
 * CLEAN_BATCHES_TO_STEP_UP clean batches (ok and not SLOW) in a row at a
 * level that is not FAST; any failure or slow batch drops one level and
 * restarts the count. With history it starts one level below the proven size,
 * so a session whose capacity shrank since is not hit at full size first.
 *
 * The smallest size that failed (a rate limit aside) is a ceiling, and so is
 * the session's remembered minFailedBatchSize from the start: it never steps
 * onto it again until CLEAN_BATCHES_TO_RETRY_CEILING clean batches in a row
 * (twice as many after each retry that fails again). When the next level is at
 * or above the ceiling it goes halfway to the ceiling instead, if that carries
 * at least HALFWAY_GAIN times as much. A quick refusal at a size that already
 * worked in this send, or a failure at a size that kept working through such a
 * clean run, still drops a level but sets no ceiling: it was chance or an
 * outage. A second failure in a row drops to the first level: the failed
 * batches' recipients go first, and their last attempt (of three by default)
 * should be in a batch that fits. A call larger than anything that worked gives up as soon as it is
 * slower than such a call can be (adaptive-timeout.ts), and the tail rule may
 * not merge what remains into a batch larger than anything that worked.
 *
 * Before a call whose failure would give up recipients at the front of the
 * queue, one recipient goes first (front-guard.ts).
 *
 * Compared with `adaptive`: no skipping, slower to grow, gentler to shrink,
 * and a longer wait before a size that failed is tried again.
 */
import { guardFront } from './front-guard.js';
import { keepSample, type Sample, unprovenTimeoutMs, withTimeout } from './adaptive-timeout.js';
import {
  type BatchOutcome,
  defineStrategy,
  levelBelow,
  levelUp,
  planSize,
  type Step,
  type StrategyContext,
  speedOf,
  TAIL_FACTOR,
} from './sdk.js';

/** Clean batches in a row needed at a level before stepping up, unless the batch was FAST. */
export const CLEAN_BATCHES_TO_STEP_UP = 3;

/**
 * FAST clean batches needed before stepping up. A batch well under the fast
 * threshold is far from a limit that hangs, and each extra call at a small
 * level costs a round trip (and, on a server that limits calls, a slot):
 * with 3 here, 1,000 recipients on `server-rate-limit` took 3.2x the oracle.
 */
const FAST_BATCHES_TO_STEP_UP = 1;

/** Clean batches in a row before a size that failed is tried again: four times adaptive's wait. */
export const CLEAN_BATCHES_TO_RETRY_CEILING = 24;

/** Held below the ceiling, it goes halfway to it only when that carries at least this many times as much. */
const HALFWAY_GAIN = 1.25;

interface State {
  readonly size: number;
  readonly clean: number;
  /** Smallest size that failed on size and has not worked since; 0 when none. */
  readonly ceiling: number;
  /** Clean batches needed before the ceiling is tried again. */
  readonly wait: number;
  /** Largest size that worked in this send. */
  readonly top: number;
  /** Clean batches in a row since the last failure, whatever the level. */
  readonly run: number;
  /** Failed batches in a row. */
  readonly failures: number;
  /** The largest batch that worked in this send and how long it took. */
  readonly ref?: Sample;
  /** A batch no bigger than the remembered proven size failed: memory no longer vouches for it. */
  readonly doubted: boolean;
  /** A size that had worked in this send hung since: the network changed, and no size is proven any more. */
  readonly shaken: boolean;
}

/** Keeps a planned size off the ceiling and keeps the tail rule from merging into a size nothing has shown to fit. */
function guarded(state: State, size: number, ctx: StrategyContext): { size: number; note: string } {
  const planned = planSize(size, ctx.remaining, ctx.config.maxBatchSize);
  const overCeiling = state.ceiling > 0 && planned >= state.ceiling && state.run < state.wait;
  if (planned > size && (planned > state.top || overCeiling)) {
    return {
      size: Math.max(1, Math.floor(ctx.remaining / TAIL_FACTOR)),
      note: `; leaving a tail, so the last ${ctx.remaining} do not go out as one batch larger than anything that worked`,
    };
  }
  return { size, note: '' };
}

/** The next size up from `size`: one level, held off the ceiling until it may be tried again. */
function stepUp(state: State, ctx: StrategyContext): { size: number; note: string } {
  const seq = ctx.config.progressiveSequence;
  const level = Math.max(state.size, seq[levelUp(state.size, 1, seq)]!);
  const { ceiling } = state;
  if (ceiling === 0 || level < ceiling) return { size: level, note: '' };
  if (state.run >= state.wait)
    return { size: Math.max(state.size, ceiling), note: ` (${state.run} clean batches: trying ${ceiling} again)` };
  const halfway = Math.floor((state.size + ceiling) / 2);
  const size = halfway >= state.size * HALFWAY_GAIN ? halfway : state.size;
  return { size, note: ` (${ceiling} failed: ${state.run} of ${state.wait} clean batches before trying it again)` };
}

function decide(state: State, outcome: BatchOutcome, ctx: StrategyContext): Step<State> {
  const seq = ctx.config.progressiveSequence;
  const speed = speedOf(outcome.durationMs, ctx.config);
  if (!outcome.ok && outcome.error === 'rate_limited') {
    return { state, size: state.size, reason: `rate limited: ${state.size} again` };
  }
  if (!outcome.ok || speed === 'SLOW') {
    const oneDown = state.size > seq[0]! ? seq[levelBelow(state.size, seq)]! : Math.max(1, Math.floor(state.size / 2));
    // The recipients of a failed batch go first in the next: after two failures in a row they have one attempt
    // left (by default), and it goes out in the smallest batch rather than one more level that may not fit.
    const failures = outcome.ok ? 0 : state.failures + 1;
    const down = failures >= 2 ? Math.min(oneDown, seq[0]!) : oneDown;
    const why = outcome.ok
      ? `slow batch (${Math.round(outcome.durationMs)} ms)`
      : `batch of ${outcome.size} failed (${outcome.error ?? 'error'})`;
    const chance =
      outcome.ok ||
      (outcome.error === 'error' && outcome.size <= state.top) ||
      (outcome.size <= state.top && state.run >= CLEAN_BATCHES_TO_RETRY_CEILING);
    let { ceiling, wait } = state;
    if (!chance) {
      const lower = ceiling > 0 ? Math.min(ceiling, outcome.size) : outcome.size;
      wait = ceiling > 0 && lower === ceiling ? wait * 2 : CLEAN_BATCHES_TO_RETRY_CEILING;
      ceiling = lower;
    }
    const failed: State = { ...state, size: down, clean: 0, run: 0, ceiling, wait, failures };
    const { size, note } = guarded(failed, down, ctx);
    return {
      state: { ...failed, size },
      size,
      reason: `${why}: ${failures >= 2 ? 'second failure in a row, down to the first level' : 'one level down'}, ${size}${note}`,
    };
  }
  const lifted = state.ceiling > 0 && outcome.size >= state.ceiling;
  const worked: State = {
    ...state,
    failures: 0,
    clean: state.clean + 1,
    run: state.run + 1,
    ceiling: lifted ? 0 : state.ceiling,
    wait: lifted ? CLEAN_BATCHES_TO_RETRY_CEILING : state.wait,
  };
  const needed = speed === 'FAST' ? FAST_BATCHES_TO_STEP_UP : CLEAN_BATCHES_TO_STEP_UP;
  if (worked.clean < needed) {
    const { size, note } = guarded(worked, state.size, ctx);
    return {
      state: { ...worked, size },
      size,
      reason: `clean batch ${worked.clean}/${needed} at ${state.size}: holding${note}`,
    };
  }
  const up = stepUp(worked, ctx);
  const { size, note } = guarded(worked, up.size, ctx);
  const why = speed === 'FAST' ? `fast clean batch at ${state.size}` : `${worked.clean} clean batches at ${state.size}`;
  return {
    state: { ...worked, size, clean: size === state.size ? worked.clean : 0 },
    size,
    reason:
      size === state.size
        ? `${why}: staying at ${size}${up.note}${note}`
        : `${why}: ${size > state.size ? 'one level up' : 'down'} to ${size}${up.note}${note}`,
  };
}

export default defineStrategy(
  guardFront<State>({
    name: 'conservative',
    description: 'One level at a time, never onto a size that failed; starts a level below the proven size.',

    start(ctx) {
      const seq = ctx.config.progressiveSequence;
      const proven = ctx.history?.maxProvenBatchSize ?? 0;
      const ceiling = ctx.history?.minFailedBatchSize ?? 0;
      const fresh: State = {
        size: seq[0]!,
        clean: 0,
        ceiling,
        wait: CLEAN_BATCHES_TO_RETRY_CEILING,
        top: 0,
        run: 0,
        failures: 0,
        doubted: false,
        shaken: false,
      };
      if (proven > seq[0]!) {
        const size = seq[levelBelow(proven, seq)]!;
        return {
          state: { ...fresh, size },
          size,
          reason: `session history: starting one level below the proven size ${proven}, at ${size}`,
        };
      }
      return { state: fresh, size: seq[0]!, reason: `no history: starting at ${seq[0]}` };
    },

    next(state, outcome, ctx) {
      const remembered = ctx.history?.maxProvenBatchSize ?? 0;
      const learned: State = {
        ...state,
        top: outcome.ok ? Math.max(state.top, outcome.size) : state.top,
        ref: keepSample(state.ref, outcome),
        shaken: state.shaken || (outcome.error === 'timeout' && outcome.size <= state.top),
        doubted: state.doubted || (!outcome.ok && outcome.error !== 'rate_limited' && outcome.size <= remembered),
      };
      const step = decide(learned, outcome, ctx);
      const proven = step.state.shaken ? 0 : Math.max(step.state.top, step.state.doubted ? 0 : remembered);
      const timeoutMs = unprovenTimeoutMs(step.size, proven, step.state.ref, ctx);
      if (timeoutMs === undefined) return step;
      return withTimeout({ ...step, reason: `${step.reason} (nothing this large has worked: giving up after ${timeoutMs} ms)` }, timeoutMs);
    },
  }),
);
