/**
 * The simulated network's model as plain functions of a profile: no clock,
 * no randomness of their own. The network draws the random numbers and feeds
 * them in; the same functions back the oracle accessors, so what a benchmark's
 * oracle is told is by construction what the calls experience.
 */
import type { SimProfile } from './profile.js';

/** Latency before jitter and tail: base + per-recipient cost + the knee's extra above atSize. */
export function modelLatencyMs(profile: SimProfile, size: number): number {
  let ms = profile.baseMs + profile.perRecipientMs * size;
  const knee = profile.knee;
  if (knee && size > knee.atSize) ms += knee.extraMsPerRecipient * (size - knee.atSize) ** knee.exponent;
  return ms;
}

/** The capacity in force at `ms` on the schedule's time base (Infinity = unlimited). */
export function capacityAt(profile: SimProfile, ms: number): number {
  let capacity = profile.capacity;
  for (const step of profile.capacitySchedule) {
    if (step.atMs > ms) break;
    capacity = step.capacity;
  }
  return capacity ?? Infinity;
}

export interface FailureRegime {
  readonly rate: number;
  /** True inside a failure burst, so a failure can be blamed on the burst rather than on the baseline. */
  readonly burst: boolean;
}

/**
 * The random-failure probability at `ms`. Bursts replace the baseline rather
 * than add to it so that a profile can state the rate it means; when bursts
 * overlap the worst one wins, so adding a burst never makes things calmer.
 */
export function failureAt(profile: SimProfile, ms: number): FailureRegime {
  let rate: number | undefined;
  for (const burst of profile.failureBursts) {
    if (ms >= burst.atMs && ms < burst.atMs + burst.durationMs) rate = Math.max(rate ?? 0, burst.rate);
  }
  return { rate: rate ?? profile.failureRate, burst: rate !== undefined };
}

/**
 * Jitter factor from one uniform draw `u` in [0, 1): uniform over
 * [1 - jitterPct/100, 1 + jitterPct/100].
 */
export function jitterFactor(jitterPct: number, u: number): number {
  return 1 + (2 * u - 1) * (jitterPct / 100);
}

/**
 * Tail factor from two uniform draws: with `probability` (first draw) a factor
 * log-uniform over [minFactor, maxFactor] (second draw), else 1. Log-uniform
 * rather than Pareto: as likely to be 2-4x as 20-40x (the span real stalls
 * cover), and bounded, so an oracle can compute its mean exactly.
 */
export function tailFactor(tail: SimProfile['latencyTail'], hit: number, spread: number): number {
  if (!tail || hit >= tail.probability) return 1;
  return tail.minFactor * (tail.maxFactor / tail.minFactor) ** spread;
}

/** The mean of tailFactor over its draws (1 without a tail). */
export function meanTailFactor(tail: SimProfile['latencyTail']): number {
  if (!tail || tail.probability === 0) return 1;
  const { minFactor: lo, maxFactor: hi, probability: p } = tail;
  const mean = hi === lo ? lo : (hi - lo) / Math.log(hi / lo);
  return 1 - p + p * mean;
}

export interface RateWindow {
  readonly calls: number;
  readonly windowMs: number;
}

/**
 * The sliding window rateLimitPerSecond stands for. A whole rate is that many
 * calls per 1000 ms, as it always was; a fractional one keeps its whole part of
 * calls (at least one) in the window that gives exactly that rate: 0.5 is one
 * call per 2000 ms, 2.5 two per 800 ms. Never burstier than the rate allows,
 * and a whole number of ms, so retry hints stay whole (0.3 is one per 3333 ms).
 */
export function perSecondWindow(rate: number): RateWindow | undefined {
  if (!(rate > 0)) return undefined;
  if (Number.isInteger(rate)) return { calls: rate, windowMs: 1000 };
  const calls = Math.max(1, Math.floor(rate));
  return { calls, windowMs: Math.round((1000 * calls) / rate) };
}

/** Every sliding window a session's calls must fit in: rateLimitPerSecond's first (see perSecondWindow). */
export function rateWindows(profile: SimProfile): readonly RateWindow[] {
  const perSecond = perSecondWindow(profile.rateLimitPerSecond);
  return [...(perSecond ? [perSecond] : []), ...profile.rateLimits];
}

export interface RateRejection {
  readonly window: RateWindow;
  /** When the window has room again (if no other call is accepted meanwhile). */
  readonly freesAt: number;
}

/**
 * Sliding-window limiter over accepted call starts. Only accepted calls are
 * recorded: a rejected call must not hold the window, or a client retrying on
 * the hint would be locked out for ever.
 */
export class RateLimiter {
  private readonly starts: number[] = [];
  private readonly longestMs: number;

  constructor(private readonly windows: readonly RateWindow[]) {
    this.longestMs = Math.max(0, ...windows.map((w) => w.windowMs));
  }

  /** Records the start and returns undefined if every window has room, else the window that refused. */
  tryAccept(start: number): RateRejection | undefined {
    if (this.windows.length === 0) return undefined;
    while (this.starts.length > 0 && this.starts[0]! <= start - this.longestMs) this.starts.shift();
    let worst: RateRejection | undefined;
    for (const window of this.windows) {
      const inside = this.starts.filter((s) => s > start - window.windowMs);
      // Never more than `calls` inside (a call is recorded only when all windows had room), so the oldest frees it.
      if (inside.length >= window.calls) {
        const freesAt = inside[inside.length - window.calls]! + window.windowMs;
        if (!worst || freesAt > worst.freesAt) worst = { window, freesAt };
      }
    }
    if (!worst) this.starts.push(start);
    return worst;
  }
}
