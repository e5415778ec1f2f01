/**
 * aggressive — for healthy accounts and big lists.
 *
 * Optimises: time to finish, accepting more failed calls. It grows
 * multiplicatively: x2 after a FAST batch, x1.25 after a NORMAL one, and is
 * not bound to the progressive sequence, only to maxBatchSize. A failure
 * halves the size; a SLOW batch takes a quarter off. With history it starts
 * at the proven size. Compared with `adaptive`: no levels, faster growth past
 * the top of the sequence, and a multiplicative rather than level-wise retreat.
 */
import { clampSize, defineStrategy, speedOf } from './sdk.js';

export const GROWTH_FAST = 2;
export const GROWTH_NORMAL = 1.25;
export const BACKOFF_SLOW = 0.75;
export const BACKOFF_FAILED = 0.5;

interface State {
  readonly size: number;
}

export default defineStrategy<State>({
  name: 'aggressive',
  description: 'Multiplicative growth past the sequence up to maxBatchSize; halves on failure.',

  start(ctx) {
    const first = ctx.config.progressiveSequence[0]!;
    const proven = ctx.history?.maxProvenBatchSize ?? 0;
    if (proven > first) {
      const size = clampSize(proven, ctx.config);
      return { state: { size }, size, reason: `session history: starting at the proven size ${size}` };
    }
    return { state: { size: first }, size: first, reason: `no history: starting at ${first}` };
  },

  next(state, outcome, ctx) {
    const speed = speedOf(outcome.durationMs, ctx.config);
    const [factor, why] = !outcome.ok
      ? [BACKOFF_FAILED, `batch of ${outcome.size} failed (${outcome.error ?? 'error'})`]
      : speed === 'SLOW'
        ? [BACKOFF_SLOW, `slow batch (${Math.round(outcome.durationMs)} ms)`]
        : speed === 'FAST'
          ? [GROWTH_FAST, `fast batch (${Math.round(outcome.durationMs)} ms)`]
          : [GROWTH_NORMAL, `normal batch (${Math.round(outcome.durationMs)} ms)`];
    const base = outcome.ok ? state.size : outcome.size;
    const size = clampSize(base * factor, ctx.config);
    return { state: { size }, size, reason: `${why}: x${factor} -> ${size}` };
  },
});
