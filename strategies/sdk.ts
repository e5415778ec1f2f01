/**
 * The storycast strategy SDK.
 *
 * A strategy decides how many recipients the next batch of a status send
 * carries. It is a pure, deterministic state machine: `start` turns what is
 * known before the first batch into a first decision, `next` turns the
 * previous state plus the outcome of the batch just sent into the next
 * decision. It does no I/O and reads no clock: the engine measures, sends,
 * paces and remembers; the strategy only decides. That is what makes a
 * strategy replayable in the benchmark and testable with plain function calls.
 *
 * This file imports nothing from the server, so a strategy module depends on
 * this file alone.
 */

/** The tuning every strategy sees (the seed's SmartSendConfig, scaling part). */
export interface ScalingConfig {
  /** A successful batch faster than this is FAST: grounds for growing quicker. */
  readonly fastBatchThresholdMs: number;
  /** A batch slower than this is SLOW: grounds for shrinking. */
  readonly slowBatchThresholdMs: number;
  /** Batch success rate (0..1) needed before a strategy may grow quickly. */
  readonly minSuccessRate: number;
  /** The ramp of batch sizes, strictly increasing, all <= maxBatchSize. */
  readonly progressiveSequence: readonly number[];
  /** Hard ceiling on any batch; the engine clamps to it whatever a strategy says. */
  readonly maxBatchSize: number;
  /** How long the engine waits for one transport call before it counts as a timeout. */
  readonly batchTimeoutMs: number;
  /** The engine starts at most this many calls per second per session: a call never costs less than 1/this s. */
  readonly maxBatchesPerSecond: number;
}

/** What a session has proven on earlier sends (read-only view of the stored history). */
export interface SessionHistoryView {
  /** Largest batch known to succeed on this session; 0 when nothing is proven. */
  readonly maxProvenBatchSize: number;
  /** Exponential moving average of successful batch durations, in ms. */
  readonly averageBatchTime: number;
  /** Successful transport calls / all transport calls, 0..1. */
  readonly successRate: number;
  /** Successful transport calls remembered for this session. */
  readonly totalSuccessfulSends: number;
  /**
   * Smallest batch above the proven size that failed on size: the limit an
   * earlier send ran into; 0 (or absent, from a view built before it existed)
   * when none was found: then the proven size may be just the most a send
   * needed, e.g. the length of a short list.
   */
  readonly minFailedBatchSize?: number;
}

/** Why a batch failed, as far as a strategy needs to know. */
export type BatchErrorKind =
  /** No answer within batchTimeoutMs: the classic sign of a batch too big. */
  | 'timeout'
  /**
   * The server refused because of call rate, not size. storycast's engine handles these itself (it slows the
   * session's calls and sends the same batch again without asking the strategy), so a strategy sees one only
   * when another harness feeds it outcomes; treat it as saying nothing about size.
   */
  | 'rate_limited'
  /** Any other retryable failure. */
  | 'error';

/** The outcome of one transport call after the anchor. */
export interface BatchOutcome {
  /** Recipients actually sent in this call (after the engine's tail rule and clamps). */
  readonly size: number;
  /** Wall time of the call, in ms, as measured by the engine. */
  readonly durationMs: number;
  readonly ok: boolean;
  /** Present when ok is false. */
  readonly error?: BatchErrorKind;
}

/** What a strategy knows at each step, besides its own state. */
export interface StrategyContext {
  readonly config: ScalingConfig;
  /** The session's remembered history, or null when none (or learning is off). */
  readonly history: SessionHistoryView | null;
  /** Valid recipients of this send that go out in batches (the anchor excluded). */
  readonly total: number;
  /** Recipients still to send (including ones queued for retry). */
  readonly remaining: number;
  /** Batches sent so far in this send (0 before the first). */
  readonly batchesSent: number;
  /** Successful batches so far in this send. */
  readonly batchesOk: number;
  /**
   * How long the anchor (the first call, to one recipient) took: this session's
   * round-trip floor right now. Undefined while planning, before the anchor is sent.
   */
  readonly anchorMs?: number;
  /**
   * The calls a second the engine starts on this session now: maxBatchesPerSecond until the
   * server limits the rate, then what the engine learned it takes (shared by every send on the
   * session). Where it binds, a call costs 1/this s whatever it carries: fewer, larger calls
   * are worth more. Undefined outside the engine (read it through {@link callIntervalMs}).
   */
  readonly callsPerSecond?: number;
}

/** The least time between two calls' starts on the session now: what any call costs at least. */
export function callIntervalMs(ctx: StrategyContext): number {
  return 1000 / Math.min(ctx.callsPerSecond ?? ctx.config.maxBatchesPerSecond, ctx.config.maxBatchesPerSecond);
}

/** One decision: the next batch size and why, in words an operator can read. */
export interface Step<S> {
  readonly state: S;
  /** Desired size of the next batch; the engine rounds, clamps and applies the tail rule. */
  readonly size: number;
  readonly reason: string;
  /**
   * Optional: give up on the next call after this many ms instead of the full
   * batchTimeoutMs (the engine keeps it within [MIN_CALL_TIMEOUT_MS, batchTimeoutMs]).
   * For strategies with a latency model: a call far slower than predicted has
   * most likely hit a limit, and waiting for the full timeout only costs time.
   */
  readonly timeoutMs?: number;
}

/** The shortest per-call timeout the engine honours. */
export const MIN_CALL_TIMEOUT_MS = 1000;

/** A batch-size strategy. Implement it and wrap it in {@link defineStrategy}. */
export interface Strategy<S = unknown> {
  /** Unique name: what requests, logs, metrics and experiments use. */
  readonly name: string;
  /** One line on what the strategy optimises. */
  readonly description: string;
  /** First decision of a send. */
  start(ctx: StrategyContext): Step<S>;
  /** Decision after each batch, given the state returned by the previous step. */
  next(state: S, outcome: BatchOutcome, ctx: StrategyContext): Step<S>;
}

/** A strategy as the SDK hands it out: validated, frozen, marked with the SDK version. */
export type DefinedStrategy<S = unknown> = Strategy<S> & { readonly sdkVersion: 1 };

/**
 * Any strategy, whatever its private state type: what registries and the engine
 * hold. `next` is a method, so TypeScript checks its state parameter
 * bivariantly and every DefinedStrategy<S> fits here.
 */
export type AnyStrategy = DefinedStrategy<unknown>;

const NAME = /^[a-z][a-z0-9-]{0,62}$/;

/**
 * Validates and freezes a strategy. The server only loads modules whose default
 * export came from here (checked by shape, so two copies of the SDK still agree).
 */
export function defineStrategy<S>(strategy: Strategy<S>): DefinedStrategy<S> {
  if (!NAME.test(strategy.name)) {
    throw new TypeError(`strategy name "${strategy.name}" must be lowercase letters, digits and dashes, starting with a letter`);
  }
  if (typeof strategy.start !== 'function' || typeof strategy.next !== 'function') {
    throw new TypeError(`strategy "${strategy.name}" must define start() and next()`);
  }
  return Object.freeze({
    name: strategy.name,
    description: strategy.description,
    start: strategy.start.bind(strategy),
    next: strategy.next.bind(strategy),
    sdkVersion: 1 as const,
  });
}

/** True when `value` looks like what {@link defineStrategy} returns. */
export function isDefinedStrategy(value: unknown): value is DefinedStrategy {
  if (typeof value !== 'object' || value === null) return false;
  const s = value as Record<string, unknown>;
  return (
    s.sdkVersion === 1 &&
    typeof s.name === 'string' &&
    NAME.test(s.name) &&
    typeof s.description === 'string' &&
    typeof s.start === 'function' &&
    typeof s.next === 'function'
  );
}

// ---------------------------------------------------------------------------
// Helpers for strategy authors. All pure.

/** FAST / NORMAL / SLOW against the config's thresholds. */
export type Speed = 'FAST' | 'NORMAL' | 'SLOW';

export function speedOf(durationMs: number, config: ScalingConfig): Speed {
  if (durationMs < config.fastBatchThresholdMs) return 'FAST';
  if (durationMs > config.slowBatchThresholdMs) return 'SLOW';
  return 'NORMAL';
}

/** Batch success rate so far in this send; before any batch, the session's remembered rate. */
export function successRate(ctx: StrategyContext): number {
  if (ctx.batchesSent === 0) return ctx.history?.successRate ?? 1;
  return ctx.batchesOk / ctx.batchesSent;
}

/** Index of the largest sequence level <= size (0 when size is below the first level). */
export function levelAtOrBelow(size: number, sequence: readonly number[]): number {
  let index = 0;
  for (let i = 0; i < sequence.length; i++) if (sequence[i]! <= size) index = i;
  return index;
}

/** Index of the largest sequence level strictly below size (0 when none). */
export function levelBelow(size: number, sequence: readonly number[]): number {
  let index = 0;
  for (let i = 0; i < sequence.length; i++) if (sequence[i]! < size) index = i;
  return index;
}

/** The level `steps` above the largest level <= size, capped at the top of the sequence. */
export function levelUp(size: number, steps: number, sequence: readonly number[]): number {
  const firstAbove = sequence.findIndex((level) => level > size);
  if (firstAbove === -1) return sequence.length - 1;
  return Math.min(firstAbove + steps - 1, sequence.length - 1);
}

/**
 * The seed's tail rule: when what remains is under this many times the size, the
 * engine sends all of it in one call rather than leave a small tail.
 */
export const TAIL_FACTOR = 1.5;

/** Whether the tail rule makes the engine send all of `remaining` instead of `size` (before capping it at maxBatchSize). */
export function sendsAllRemaining(size: number, remaining: number): boolean {
  return remaining < size * TAIL_FACTOR;
}

/**
 * The size the engine actually sends, exactly as it computes it: the strategy's
 * wish, whole and within [1, maxBatchSize], then the tail rule (still never above
 * maxBatchSize). A strategy that bounds its timeout or avoids merging a tail into
 * an untested size reads it here rather than re-derive it.
 */
export function planSize(wanted: number, remaining: number, maxBatchSize: number): number {
  const size = Math.max(1, Math.min(maxBatchSize, Math.floor(wanted)));
  return sendsAllRemaining(size, remaining) ? Math.min(remaining, maxBatchSize) : size;
}

/** Keeps a size within [1, maxBatchSize] and whole. */
export function clampSize(size: number, config: ScalingConfig): number {
  if (!Number.isFinite(size)) return config.progressiveSequence[0] ?? 1;
  return Math.max(1, Math.min(config.maxBatchSize, Math.floor(size)));
}
