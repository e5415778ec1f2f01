/**
 * A shorter per-call timeout for a batch larger than anything that has worked.
 *
 * Where a batch above the capacity hangs, it costs the whole batchTimeoutMs
 * (15 s by default) to learn that it was too big, while the largest batch that
 * worked in this send took a second or two. A call's latency grows at most in
 * proportion to its size when it has a fixed part (the anchor's round trip), so
 * the batch that worked bounds how long a bigger one can take if it fits; a
 * call slower than that bound has most likely hit the limit. Used by
 * `adaptive`, `aggressive` and `conservative`; sizes already proven (in this
 * send or in the session's memory) keep the full timeout, so a slow network is
 * never mistaken for a limit where a size is known to work.
 */
import { type BatchOutcome, MIN_CALL_TIMEOUT_MS, planSize, type StrategyContext } from './sdk.js';

/** A batch that worked: its size and how long it took. */
export interface Sample {
  readonly size: number;
  readonly ms: number;
}

/**
 * How far below its network's typical latency the sample may have been: the
 * suite's profiles jitter by up to 20%.
 */
export const JITTER = 0.2;

/**
 * The next call's own jitter (up to 20% over typical) on top of the bound. In
 * the lab (every profile at 10,000 recipients), 0.25 and 1.25 cost 0.03 in
 * adaptive's geomean and 0.2 and 1.1 saved 0.01 more, with no more failed
 * calls either way; this is the widest that still covers the jitter both ways.
 */
export const MARGIN = 1.2;

/**
 * How long a call of `n` recipients takes at most if it fits, from the largest
 * batch that worked (`ref`) and the anchor's round trip (the fixed part of
 * every call). Latency = fixed + per-recipient x n, so n/s times the sample
 * overestimates by the fixed part counted n/s - 1 extra times; the worst case
 * of jitter on both measurements is taken. The anchor counts for at most half
 * the sample, so a stalled anchor only loosens the bound.
 */
export function callBoundMs(n: number, ref: Sample, anchorMs: number | undefined): number {
  // Smaller than the sample: its fixed part does not shrink, so the sample itself is the bound.
  if (n <= ref.size) return ref.ms / (1 - JITTER);
  // The anchor carries one recipient: what the sample adds over it is for size - 1 of them.
  const ratio = (n - 1) / Math.max(1, ref.size - 1);
  const fixed = Math.min(anchorMs ?? 0, ref.ms / 2);
  return ratio * (ref.ms / (1 - JITTER)) - (ratio - 1) * (fixed / (1 + JITTER));
}

/**
 * The timeout for the next call, or undefined for the engine's full one. Only
 * a call that will carry more than `proven` (the tail rule included: that is
 * what the call really carries) and has a sample to bound it gets one.
 */
export function unprovenTimeoutMs(wanted: number, proven: number, ref: Sample | undefined, ctx: StrategyContext): number | undefined {
  if (!ref || ref.size <= 0) return undefined;
  const planned = planSize(wanted, ctx.remaining, ctx.config.maxBatchSize);
  if (planned <= proven) return undefined;
  const ms = Math.ceil(MARGIN * callBoundMs(planned, ref, ctx.anchorMs));
  if (ms >= ctx.config.batchTimeoutMs) return undefined;
  return Math.max(MIN_CALL_TIMEOUT_MS, ms);
}

/** The sample to keep after a batch: the largest that worked, the latest of equals (the network now). */
export function keepSample(ref: Sample | undefined, outcome: BatchOutcome): Sample | undefined {
  if (!outcome.ok) return ref;
  if (ref && ref.size > outcome.size) return ref;
  return { size: outcome.size, ms: outcome.durationMs };
}

/** Adds a timeout to a step when it has one. */
export function withTimeout<T extends { readonly size: number }>(step: T, timeoutMs: number | undefined): T & { timeoutMs?: number } {
  return timeoutMs === undefined ? step : { ...step, timeoutMs };
}
