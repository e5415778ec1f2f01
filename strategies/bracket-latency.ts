/**
 * bracket's latency model: what it has seen succeed, one sample per size, and
 * what it predicts from that (a fitted line, a bound, the best throughput, when
 * to give up). Pure functions over plain data, like the strategy itself.
 */
import { callIntervalMs, type StrategyContext } from './sdk.js';

/**
 * A call is given up on at 1.3x its predicted latency plus 300 ms: past the
 * jitter of a healthy call (up to ~20%), and far sooner than the batch timeout
 * a call that hit a limit would otherwise wait out.
 */
export const GIVE_UP_FACTOR = 1.3;
export const GIVE_UP_MARGIN_MS = 300;
/** Distinct sizes kept; the anchor is one of them. */
const SAMPLES = 8;

export interface Sample {
  readonly n: number;
  /** Mean latency of the recent successes at this size. */
  readonly ms: number;
  /** Successes at this size since a size-related failure at or below it. */
  readonly wins: number;
}

/**
 * One sample per size, most recent last: repeats at a size refine its mean
 * rather than push out the sizes the latency line is fitted through. The
 * anchor (n = 1), the base of that line, is never dropped.
 */
export function addSample(samples: readonly Sample[], n: number, ms: number): Sample[] {
  const old = samples.find((x) => x.n === n);
  const weight = Math.min(old?.wins ?? 0, 3);
  const updated = old ? { n, ms: (old.ms * weight + ms) / (weight + 1), wins: old.wins + 1 } : { n, ms, wins: 1 };
  const rest = samples.filter((x) => x !== old);
  while (rest.length >= SAMPLES) rest.splice(rest[0]!.n === 1 ? 1 : 0, 1);
  return [...rest, updated];
}

/** A failure at n halves the evidence that n and above work: one may be chance, a few mean the network changed. */
export function discountWins(samples: readonly Sample[], n: number): Sample[] {
  return samples.map((x) => (x.n >= n && x.n > 1 ? { ...x, wins: Math.floor(x.wins / 2) } : x));
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

/**
 * latency = base + per * n through the two largest sizes that succeeded (the
 * local slope, which sees a knee coming), or the two most different ones when
 * those are too close; undefined without spread. A local line that crosses zero
 * below n = 0 is replaced by the line from the smallest size (the anchor):
 * jitter on two samples must not say that a call has no round trip, which
 * would make every size look equally good. A real knee is still found by
 * bestThroughput, from what each size delivered.
 */
export function fitLine(samples: readonly Sample[]): { base: number; per: number } | undefined {
  const bySize = [...samples].sort((a, b) => b.n - a.n);
  const top = bySize[0];
  const pick = bySize.find((s) => s.n * 1.5 <= (top?.n ?? 0));
  if (!top || !pick) return undefined;
  const line = (low: Sample) => {
    const per = Math.max(1e-6, (top.ms - low.ms) / (top.n - low.n));
    return { base: low.ms - per * low.n, per };
  };
  const local = line(pick);
  if (local.base >= 0) return local;
  const wide = line(bySize.at(-1)!);
  return { base: Math.max(0, wide.base), per: wide.per };
}

/** Time per recipient at size n, counting the session's pace (a call never costs less than its interval, lowered or not). */
export function timePerRecipient(n: number, model: { base: number; per: number }, ctx: StrategyContext): number {
  return Math.max(model.base + model.per * n, callIntervalMs(ctx)) / n;
}

/** The sample with the best recipients per ms, if it beats the largest sample's by more than jitter could (20%). */
export function bestThroughput(samples: readonly Sample[], ctx: StrategyContext): Sample | undefined {
  const pace = callIntervalMs(ctx);
  const rate = (x: Sample) => x.n / Math.max(x.ms, pace);
  const largest = samples.reduce<Sample | undefined>((a, b) => (!a || b.n > a.n ? b : a), undefined);
  const best = samples.reduce<Sample | undefined>((a, b) => (!a || rate(b) > rate(a) ? b : a), undefined);
  return best && largest && rate(best) > rate(largest) * 1.2 ? best : undefined;
}

/**
 * The least latency(n) can be: a call never gets faster by carrying more, so it takes at least
 * what any size at or under n took (the anchor's round trip, at least, for every size).
 */
function latencyFloor(n: number, samples: readonly Sample[]): number {
  return samples.reduce((most, s) => (s.n <= n ? Math.max(most, s.ms) : most), 0);
}

/**
 * Expected latency of n: the fitted line when there is one, else the bound; never under the floor.
 * Jitter on two close samples can tilt the line so that it predicts small sizes far faster than
 * any call was: every give-up there would cut healthy calls short, each a strike for its recipients.
 */
export function expectedMs(n: number, samples: readonly Sample[]): number | undefined {
  const model = fitLine(samples);
  const expected = model ? model.base + model.per * n : latencyBound(n, samples);
  return expected === undefined ? undefined : Math.max(expected, latencyFloor(n, samples));
}

/**
 * When to give up on a call of n: the most a failed try can cost. Far above the largest size
 * that worked too, the line is trusted: a try there that fails costs about one call of its
 * size, not the wait for latency bending up to proportional (where latency does bend, before a
 * knee, a call cut short was past the best throughput anyway).
 */
export function giveUpMs(n: number, samples: readonly Sample[]): number | undefined {
  const expected = expectedMs(n, samples);
  return expected === undefined ? undefined : giveUpAfter(expected);
}

/** When to give up on a call expected to take `expectedMs`. */
export function giveUpAfter(expectedMs: number): number {
  return expectedMs * GIVE_UP_FACTOR + GIVE_UP_MARGIN_MS;
}
