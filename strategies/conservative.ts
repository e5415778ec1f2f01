/**
 * conservative — for accounts that must not be flagged.
 *
 * Optimises: fewest failed calls, at the cost of time. It climbs the
 * progressive sequence one level at a time and never skips; it holds a level
 * until it has seen CLEAN_BATCHES_TO_STEP_UP clean batches (ok and not SLOW)
 * in a row there; any failure or slow batch drops one level and restarts the
 * count. With history it starts one level below the proven size, so a session
 * whose capacity shrank since is not hit at full size first. Compared with
 * `adaptive`: no skipping, slower to grow, gentler to shrink.
 */
import { defineStrategy, levelBelow, levelUp, speedOf } from './sdk.js';

/** Clean batches in a row needed at a level before stepping up. */
export const CLEAN_BATCHES_TO_STEP_UP = 3;

interface State {
  readonly size: number;
  readonly clean: number;
}

export default defineStrategy<State>({
  name: 'conservative',
  description: 'One level at a time after several clean batches; starts a level below the proven size.',

  start(ctx) {
    const seq = ctx.config.progressiveSequence;
    const proven = ctx.history?.maxProvenBatchSize ?? 0;
    if (proven > seq[0]!) {
      const size = seq[levelBelow(proven, seq)]!;
      return { state: { size, clean: 0 }, size, reason: `session history: starting one level below the proven size ${proven}, at ${size}` };
    }
    return { state: { size: seq[0]!, clean: 0 }, size: seq[0]!, reason: `no history: starting at ${seq[0]}` };
  },

  next(state, outcome, ctx) {
    const seq = ctx.config.progressiveSequence;
    const speed = speedOf(outcome.durationMs, ctx.config);
    if (!outcome.ok || speed === 'SLOW') {
      const size = state.size > seq[0]! ? seq[levelBelow(state.size, seq)]! : Math.max(1, Math.floor(state.size / 2));
      const why = outcome.ok
        ? `slow batch (${Math.round(outcome.durationMs)} ms)`
        : `batch of ${outcome.size} failed (${outcome.error ?? 'error'})`;
      return { state: { size, clean: 0 }, size, reason: `${why}: one level down to ${size}` };
    }
    const clean = state.clean + 1;
    if (clean < CLEAN_BATCHES_TO_STEP_UP) {
      return {
        state: { size: state.size, clean },
        size: state.size,
        reason: `clean batch ${clean}/${CLEAN_BATCHES_TO_STEP_UP} at ${state.size}: holding`,
      };
    }
    const size = Math.max(state.size, seq[levelUp(state.size, 1, seq)]!);
    return {
      state: { size, clean: 0 },
      size,
      reason:
        size === state.size
          ? `${clean} clean batches: staying at the top level ${size}`
          : `${clean} clean batches at ${state.size}: one level up to ${size}`,
    };
  },
});
