/**
 * adaptive — the default; the seed's algorithm.
 *
 * Optimises: time to finish, trusting the session's history. It starts at the
 * proven size when the session has one (skipping the ramp), otherwise at the
 * first level of the progressive sequence. After each batch:
 * - FAST (< fastBatchThresholdMs) with the success rate at least minSuccessRate:
 *   skip one level (100 -> 1000 on the default sequence);
 * - NORMAL, or FAST with a poor success rate: one level up;
 * - SLOW (> slowBatchThresholdMs): one level down;
 * - failed: halve and drop to the level at or below that (5000 -> 2000);
 * - the first success after a scale-down steps exactly one level up.
 * It never goes past the top of the sequence; only the engine's maxBatchSize
 * caps it otherwise. Compared with the others it is the middle road: it skips
 * when things go well, unlike `conservative`, and it stays on the sequence,
 * unlike `aggressive`.
 */
import { clampSize, defineStrategy, levelAtOrBelow, levelBelow, levelUp, speedOf, successRate, type StrategyContext } from './sdk.js';

interface State {
  /** The level being used; a size, not an index, so a history value off the sequence still works. */
  readonly size: number;
  /** A scale-down happened and no batch has succeeded since. */
  readonly recovering: boolean;
}

function up(size: number, levels: number, ctx: StrategyContext): number {
  const seq = ctx.config.progressiveSequence;
  return Math.max(size, seq[levelUp(size, levels, seq)]!);
}

export default defineStrategy<State>({
  name: 'adaptive',
  description: "The seed's algorithm: start at the proven size, skip a level when fast, scale down when slow or failing.",

  start(ctx) {
    const first = ctx.config.progressiveSequence[0]!;
    const proven = ctx.history?.maxProvenBatchSize ?? 0;
    if (proven > first) {
      const size = clampSize(proven, ctx.config);
      return {
        state: { size, recovering: false },
        size,
        reason: `session history: starting at the proven size ${size}, skipping the ramp`,
      };
    }
    return { state: { size: first, recovering: false }, size: first, reason: `no history: starting the ramp at ${first}` };
  },

  next(state, outcome, ctx) {
    const seq = ctx.config.progressiveSequence;
    const first = seq[0]!;
    const speed = speedOf(outcome.durationMs, ctx.config);
    if (!outcome.ok) {
      const half = Math.floor(outcome.size / 2);
      const size = half >= first ? seq[levelAtOrBelow(half, seq)]! : Math.max(1, half);
      return {
        state: { size, recovering: true },
        size,
        reason: `batch of ${outcome.size} failed (${outcome.error ?? 'error'}): scaling down to ${size}`,
      };
    }
    if (speed === 'SLOW') {
      const size = state.size > first ? seq[levelBelow(state.size, seq)]! : state.size;
      return {
        state: { size, recovering: true },
        size,
        reason: `slow batch (${Math.round(outcome.durationMs)} ms > ${ctx.config.slowBatchThresholdMs} ms): one level down to ${size}`,
      };
    }
    if (state.recovering) {
      const size = up(state.size, 1, ctx);
      return { state: { size, recovering: false }, size, reason: `recovered at ${state.size}: one level up to ${size}` };
    }
    const rate = successRate(ctx);
    if (speed === 'FAST' && rate >= ctx.config.minSuccessRate) {
      const size = up(state.size, 2, ctx);
      const skipped = seq.filter((level) => level > state.size && level < size);
      return {
        state: { size, recovering: false },
        size,
        reason:
          skipped.length > 0
            ? `fast (${Math.round(outcome.durationMs)} ms < ${ctx.config.fastBatchThresholdMs} ms): skipping ${skipped.join(', ')}, up to ${size}`
            : `fast (${Math.round(outcome.durationMs)} ms): up to ${size}`,
      };
    }
    const size = up(state.size, 1, ctx);
    const why =
      speed === 'FAST'
        ? `fast but success rate ${(rate * 100).toFixed(0)}% < ${(ctx.config.minSuccessRate * 100).toFixed(0)}%`
        : `normal speed (${Math.round(outcome.durationMs)} ms)`;
    return {
      state: { size, recovering: false },
      size,
      reason: size === state.size ? `${why}: staying at the top level ${size}` : `${why}: one level up to ${size}`,
    };
  },
});
