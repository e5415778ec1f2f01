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
 *
 * It does not walk into the same wall twice in a row. The smallest size that
 * failed in this send is its limit (a rate limit is about calls, not size, and
 * sets none); the session's remembered limit (minFailedBatchSize) is the limit
 * from the first batch. No step up reaches the limit: it stops at the largest
 * level below it, or at the largest size that worked in this send if that is
 * higher. The limit itself is tried again only after CLEAN_BATCHES_TO_RETRY_LIMIT
 * clean batches (ok, not SLOW) in a row, twice as many after each retry that
 * fails again; a success at or above it lifts it. A failure at a size that
 * already worked in this send, after such a clean run, is taken as chance
 * rather than as a new limit, and so is a quick refusal ('error', not a hang) at
 * a size that already worked in this send: an outage, not a size. Held below the
 * limit, it goes halfway from there to the limit when that carries HALFWAY_GAIN
 * times as much (levels are far apart: 2000 and 4000). A call larger than
 * anything that worked in this send and than what memory proved gives up as
 * soon as it is slower than such a call can be (adaptive-timeout.ts), so the
 * seed's skip from 1000 to 4000 costs a few seconds where 4000 does not fit,
 * not the whole batch timeout; proven sizes keep the full timeout.
 *
 * Before a call whose failure would give up recipients at the front of the
 * queue (they failed twice at sizes that worked), one recipient goes first, so
 * that the call's failure counts against nobody (front-guard.ts).
 *
 * It never goes past the top of the sequence; only the engine's maxBatchSize
 * caps it otherwise. Compared with the others it is the middle road: it skips
 * when things go well, unlike `conservative`, and it stays on the sequence,
 * unlike `aggressive`.
 */
import {
  clampSize,
  defineStrategy,
  levelAtOrBelow,
  levelBelow,
  levelUp,
  planSize,
  speedOf,
  successRate,
  TAIL_FACTOR,
  type BatchOutcome,
  type Step,
  type StrategyContext,
} from './sdk.js';
import { guardFront } from './front-guard.js';
import { keepSample, type Sample, unprovenTimeoutMs, withTimeout } from './adaptive-timeout.js';

/**
 * Clean batches in a row before the limit is tried again. Chosen in the lab
 * (`npm run bench`, every profile at 1,000, 10,000 and 100,000 recipients): 6 was
 * best or within 1% of the best at each size. Fewer retry too often where a
 * failure costs the whole batch timeout (a weak account); more keep a send
 * below a limit that was chance, or an outage that has passed, for too long.
 */
export const CLEAN_BATCHES_TO_RETRY_LIMIT = 6;

/**
 * Clean batches before a limit the session remembers is tried. It is no hunch:
 * an earlier send paid a failed call to find it, and the engine's memory lifts
 * it by itself once any send gets through at that size. In the lab, waits
 * from 1x to 16x CLEAN_BATCHES_TO_RETRY_LIMIT were tried on the memory cases;
 * 8x was as good as any longer wait at 10,000 and 100,000 recipients.
 */
export const CLEAN_BATCHES_TO_RETRY_REMEMBERED_LIMIT = 8 * CLEAN_BATCHES_TO_RETRY_LIMIT;

/**
 * Held below a limit, a send goes halfway to it when that carries at least this
 * many times what it holds at; closer than that, the gain is not worth a call
 * that may not fit.
 */
const HALFWAY_GAIN = 1.25;

interface State {
  /** The level being used; a size, not an index, so a history value off the sequence still works. */
  readonly size: number;
  /** A scale-down happened and no batch has succeeded since. */
  readonly recovering: boolean;
  /** Smallest size that failed on size and has not worked since; 0 when none. */
  readonly limit: number;
  /** Largest size that worked in this send below the limit; 0 when none is known. */
  readonly best: number;
  /** Clean batches in a row since the last failure on size, or since the start. */
  readonly clean: number;
  /** Clean batches needed before the limit is tried again. */
  readonly wait: number;
  /** Largest size that worked in this send, whatever the limit did since. */
  readonly top: number;
  /** The largest batch that worked in this send and how long it took: what bounds a bigger call's timeout. */
  readonly ref?: Sample;
  /** A batch no bigger than the remembered proven size failed in this send. */
  readonly doubted: boolean;
  /** A size that had worked in this send hung since: the network changed, and no size is proven any more. */
  readonly shaken: boolean;
}

function up(size: number, levels: number, ctx: StrategyContext): number {
  const seq = ctx.config.progressiveSequence;
  return Math.max(size, seq[levelUp(size, levels, seq)]!);
}

/** What a failure on size teaches: a new limit, or nothing but a broken clean run. */
function afterFailure(state: State, size: number): Pick<State, 'limit' | 'best' | 'clean' | 'wait'> {
  if (size <= state.best && state.clean >= CLEAN_BATCHES_TO_RETRY_LIMIT) {
    // It worked at this size, and has worked ever since the last failure: most likely chance.
    return { limit: state.limit, best: state.best, clean: 0, wait: state.wait };
  }
  const limit = state.limit > 0 ? Math.min(state.limit, size) : size;
  // The same limit failing again on a retry: wait longer before the next.
  const wait = state.limit > 0 && limit === state.limit ? state.wait * 2 : CLEAN_BATCHES_TO_RETRY_LIMIT;
  return { limit, best: state.best < limit ? state.best : 0, clean: 0, wait };
}

/**
 * Where a step up to `wanted` may really go. Below the limit, wanted is fine;
 * at or above it, the largest level (or size that worked) below it, until
 * enough clean batches allow the limit itself once more. The engine's tail
 * rule must not undo that by merging what remains into one batch at or above
 * the limit, so a tail is left instead.
 */
function capped(state: State, wanted: number, ctx: StrategyContext): { size: number; held?: string } {
  const { limit } = state;
  if (limit === 0) return { size: wanted };
  if (state.clean >= state.wait) return { size: Math.min(wanted, limit) };
  const seq = ctx.config.progressiveSequence;
  const wait = `${limit} failed; ${state.clean} of ${state.wait} clean batches before trying it again`;
  let size = wanted;
  let held: string | undefined;
  if (size >= limit) {
    const level = seq[levelBelow(limit, seq)]!;
    size = Math.max(state.size, level < limit ? level : 0, state.best);
    // Between levels far apart (100 and 500, 2000 and 4000) the capacity is most likely in the gap:
    // halfway there carries more per call, and a call that does not fit gives up early.
    const halfway = Math.floor((size + limit) / 2);
    if (halfway >= size * HALFWAY_GAIN) size = halfway;
    held = wait;
  }
  // Below a limit, a merged tail is a size nothing has shown to fit either: it is left as a tail too.
  const planned = planSize(size, ctx.remaining, ctx.config.maxBatchSize);
  if (planned >= limit || (planned > size && planned > state.top)) {
    size = Math.max(1, Math.floor(ctx.remaining / TAIL_FACTOR));
    held = `${wait}; leaving a tail, so the last ${ctx.remaining} do not go out as one batch`;
  }
  return held ? { size, held } : { size };
}

/**
 * A step up from state.size towards `wanted`, within the limit. `why` is what
 * the batch showed; `move` says where that leads, for the size it gets.
 */
function stepUp(
  state: State,
  wanted: number,
  clean: number,
  why: string,
  move: (size: number) => string,
  ctx: StrategyContext,
): Step<State> {
  const counted = { ...state, clean };
  const { size, held } = capped(counted, wanted, ctx);
  let reason = `${why}: ${move(size)}`;
  if (held) reason = `${why}: ${size === state.size ? 'holding at' : size < state.size ? 'down to' : 'up to'} ${size} (${held})`;
  else if (size === state.limit) reason += ` (${clean} clean batches since it failed: trying ${size} again)`;
  return { state: { ...counted, size, recovering: false }, size, reason };
}

/** The seed's decision after a batch, with this send's limit. */
function decide(state: State, outcome: BatchOutcome, ctx: StrategyContext): Step<State> {
  const seq = ctx.config.progressiveSequence;
  const first = seq[0]!;
  const speed = speedOf(outcome.durationMs, ctx.config);
  if (!outcome.ok) {
    const half = Math.floor(outcome.size / 2);
    const size = half >= first ? seq[levelAtOrBelow(half, seq)]! : Math.max(1, half);
    // A refusal that was quick, at a size this send already got through, says nothing about size: an
    // outage or chance (a batch too big hangs or is refused whatever came before; one that fits was shown to).
    const noLesson = outcome.error === 'rate_limited' || (outcome.error === 'error' && outcome.size <= state.top);
    const lesson = noLesson ? {} : afterFailure(state, outcome.size);
    return {
      state: { ...state, ...lesson, size, recovering: true },
      size,
      reason: `batch of ${outcome.size} failed (${outcome.error ?? 'error'}): scaling down to ${size}`,
    };
  }
  const lifted = state.limit > 0 && outcome.size >= state.limit;
  const worked: State = {
    ...state,
    limit: lifted ? 0 : state.limit,
    best: Math.max(state.best, outcome.size),
    wait: lifted ? CLEAN_BATCHES_TO_RETRY_LIMIT : state.wait,
  };
  if (speed === 'SLOW') {
    const size = state.size > first ? seq[levelBelow(state.size, seq)]! : state.size;
    return {
      state: { ...worked, size, recovering: true, clean: 0 },
      size,
      reason: `slow batch (${Math.round(outcome.durationMs)} ms > ${ctx.config.slowBatchThresholdMs} ms): one level down to ${size}`,
    };
  }
  const clean = state.clean + 1;
  if (state.recovering) {
    return stepUp(worked, up(state.size, 1, ctx), clean, `recovered at ${state.size}`, (size) => `one level up to ${size}`, ctx);
  }
  const rate = successRate(ctx);
  if (speed === 'FAST' && rate >= ctx.config.minSuccessRate) {
    const wanted = up(state.size, 2, ctx);
    const skipped = seq.filter((level) => level > state.size && level < wanted);
    const why =
      skipped.length > 0
        ? `fast (${Math.round(outcome.durationMs)} ms < ${ctx.config.fastBatchThresholdMs} ms)`
        : `fast (${Math.round(outcome.durationMs)} ms)`;
    const move = (size: number) =>
      skipped.length > 0 && size === wanted ? `skipping ${skipped.join(', ')}, up to ${size}` : `up to ${size}`;
    return stepUp(worked, wanted, clean, why, move, ctx);
  }
  const why =
    speed === 'FAST'
      ? `fast but success rate ${(rate * 100).toFixed(0)}% < ${(ctx.config.minSuccessRate * 100).toFixed(0)}%`
      : `normal speed (${Math.round(outcome.durationMs)} ms)`;
  const move = (size: number) => (size === state.size ? `staying at the top level ${size}` : `one level up to ${size}`);
  return stepUp(worked, up(state.size, 1, ctx), clean, why, move, ctx);
}

export default defineStrategy(
  guardFront<State>({
    name: 'adaptive',
    description: "The seed's algorithm: start at the proven size, skip a level when fast, scale down when slow or failing.",

    start(ctx) {
      const first = ctx.config.progressiveSequence[0]!;
      const proven = ctx.history?.maxProvenBatchSize ?? 0;
      const limit = ctx.history?.minFailedBatchSize ?? 0;
      const wait = limit > 0 ? CLEAN_BATCHES_TO_RETRY_REMEMBERED_LIMIT : CLEAN_BATCHES_TO_RETRY_LIMIT;
      const fresh: State = { size: first, recovering: false, limit, best: 0, clean: 0, wait, top: 0, doubted: false, shaken: false };
      if (proven > first) {
        const wanted = clampSize(proven, ctx.config);
        const { size, held } = capped({ ...fresh, size: wanted }, wanted, ctx);
        const below = limit > 0 ? `, below the ${limit} that failed last time` : '';
        return {
          state: { ...fresh, size },
          size,
          reason: held
            ? `session history: proven ${wanted}, skipping the ramp but starting at ${size} (${held})`
            : `session history: starting at the proven size ${wanted}, skipping the ramp${below}`,
        };
      }
      const { size } = capped(fresh, first, ctx);
      return { state: { ...fresh, size }, size, reason: `no history: starting the ramp at ${size}` };
    },

    next(state, outcome, ctx) {
      const learned: State = {
        ...state,
        top: outcome.ok ? Math.max(state.top, outcome.size) : state.top,
        shaken: state.shaken || (outcome.error === 'timeout' && outcome.size <= state.top),
        doubted:
          state.doubted || (!outcome.ok && outcome.error !== 'rate_limited' && outcome.size <= (ctx.history?.maxProvenBatchSize ?? 0)),
        ref: keepSample(state.ref, outcome),
      };
      const step = decide(learned, outcome, ctx);
      // What memory proved counts until a batch no bigger fails in this send: then it is out of date.
      const remembered = step.state.doubted ? 0 : (ctx.history?.maxProvenBatchSize ?? 0);
      const proven = step.state.shaken ? 0 : Math.max(step.state.top, remembered);
      const timeoutMs = unprovenTimeoutMs(step.size, proven, step.state.ref, ctx);
      if (timeoutMs === undefined) return step;
      return withTimeout(
        { ...step, reason: `${step.reason} (larger than anything that worked: giving up after ${timeoutMs} ms)` },
        timeoutMs,
      );
    },
  }),
);
