/**
 * The two yardsticks every strategy is measured against.
 * - `oracle`: reads the simulated network's truth (the capacity and failure
 *   schedule, the deterministic latency model, when its own calls started) and
 *   plans its sizes over that schedule: each call is the one that, followed by
 *   the best-throughput size the capacity allows at each later call's start,
 *   finishes the list soonest on average over the call's jitter (SchedulePlanner).
 *   It never sends more than the capacity at the moment its call starts, so
 *   nothing fails on size; inside a burst where most calls fail, one recipient
 *   a call, so it never gives up on the list to look fast. A call slower than
 *   the latency model allows (a random hang, a stall) is given up on at once.
 *   It does not know the random draws (each call's jitter, tail, random
 *   failure): where two plans take the same time on average (two ways to split
 *   the last calls), a contender that picked the other one may be luckier on
 *   a seed, by the spread of the jitter.
 * - `fixed`: the seed's progressive sequence one level at a time, no skipping,
 *   no memory, then the top level for good: what storycast exists to beat.
 * Neither is offered by the server: the oracle needs the simulator's truth.
 */
import {
  defineStrategy,
  MIN_CALL_TIMEOUT_MS,
  planSize,
  sendsAllRemaining,
  TAIL_FACTOR,
  type AnyStrategy,
  type StrategyContext,
} from '../../strategies/sdk.js';
import type { Clock } from '../clock.js';
import type { SmartSendConfig } from '../config.js';
import type { SimOracle } from '../transport/sim/oracle.js';

export const ORACLE = 'oracle';
/** A failure rate at which the oracle treats the network as down. */
const OUTAGE_RATE = 0.5;
export const FIXED = 'fixed';

export const fixed: AnyStrategy = defineStrategy<number>({
  name: FIXED,
  description: 'Baseline: the progressive sequence one level at a time, then its top level; ignores speed, failures and memory.',
  start: (ctx) => ({ state: 0, size: ctx.config.progressiveSequence[0]!, reason: 'first level' }),
  next: (level, _outcome, ctx) => {
    const seq = ctx.config.progressiveSequence;
    const next = Math.min(level + 1, seq.length - 1);
    return { state: next, size: seq[next]!, reason: next === level ? 'top level' : 'next level' };
  },
});

/** The size with the best throughput under `capacity` whose worst-case jitter stays under the batch timeout. */
function bestUnder(network: SimOracle, config: SmartSendConfig, capacity: number): number {
  const interval = 1000 / config.maxBatchesPerSecond;
  const worstJitter = 1 + network.profile.jitterPct / 100;
  let size = 1;
  let bestRate = 0;
  for (let n = 1; n <= capacity; n++) {
    const latency = network.baseLatencyMs(n) * worstJitter;
    if (latency >= config.batchTimeoutMs) break;
    const rate = n / Math.max(latency, interval);
    if (rate >= bestRate) {
      bestRate = rate;
      size = n;
    }
  }
  return size;
}

/**
 * The size with the best throughput that cannot fail on size at network time
 * `t`: under the capacity for the next pacing interval, and with worst-case
 * jitter still under the batch timeout. Throughput counts the pacing floor:
 * a call never takes less than 1/maxBatchesPerSecond.
 */
export function bestSize(network: SimOracle, config: SmartSendConfig, t: number): { size: number; capacity: number } {
  const interval = 1000 / config.maxBatchesPerSecond;
  const capacity = Math.min(network.capacityAt(t), network.capacityAt(t + interval), config.maxBatchSize);
  return { size: bestUnder(network, config, capacity), capacity };
}

/** Jitter draws each plan's next call is weighed over (midpoints of equal slices of its uniform range). */
const JITTER_POINTS = 5;
/** First sizes tried as fractions of the best one, besides those timed to the schedule. */
const FRACTIONS = 20;
/** Plans this close (ms) are equal, with jitter: the base rule's size is kept rather than a plan ahead by float noise. */
const TIE_MS = 1;
/** A sent size of 0 stands for one recipient sent to wait out an outage: nothing is expected to get through. */
const WAIT = 0;
/** Without jitter, sizes this far from the base rule's are tried for their whole-ms roundings. */
const SPLIT_SPAN = 20;

/**
 * Plans the oracle's sends over the network's known schedule (capacity steps,
 * failure bursts) with its deterministic latency model. A call is judged by
 * its start, so what matters is when each call starts: the next one starts at
 * the later of the previous call's end and its pacing slot. Each decision tries
 * a range of next sizes, those that end the call just before or after a change
 * in the schedule included, and rolls each plan out with the base rule for
 * every call after it, weighed over the next call's possible jitter (a plan that
 * catches a capacity only with lucky jitter is worth what it is worth on
 * average). Random failures are left out of the plan: nobody can time them.
 */
class SchedulePlanner {
  private readonly interval: number;
  private readonly jitter: number;
  private readonly bestByCapacity = new Map<number, number>();
  /** Times at which the capacity or the failure rate changes, ascending. */
  private readonly changes: readonly number[];

  constructor(
    private readonly network: SimOracle,
    private readonly config: SmartSendConfig,
  ) {
    this.interval = 1000 / config.maxBatchesPerSecond;
    this.jitter = network.profile.jitterPct / 100;
    const { capacitySchedule, failureBursts } = network.profile;
    const times = [...capacitySchedule.map((s) => s.atMs), ...failureBursts.flatMap((b) => [b.atMs, b.atMs + b.durationMs])];
    this.changes = [...new Set(times)].sort((a, b) => a - b);
  }

  capacity(at: number): number {
    return Math.min(this.network.capacityAt(at), this.config.maxBatchSize);
  }

  /** The least capacity in force at any moment from `from` to `to`. */
  lowestCapacity(from: number, to: number): number {
    const inside = this.changes.filter((t) => t > from && t <= to);
    return Math.min(this.capacity(from), ...inside.map((t) => this.capacity(t)));
  }

  /** Whether a call starting at `at` is more likely to fail than not, whatever its size. */
  outage(at: number): boolean {
    return this.network.failureRateAt(at) >= OUTAGE_RATE;
  }

  private best(capacity: number): number {
    let size = this.bestByCapacity.get(capacity);
    if (size === undefined) {
      size = bestUnder(this.network, this.config, capacity);
      this.bestByCapacity.set(capacity, size);
    }
    return size;
  }

  /**
   * How long a call of n takes on average (jitter is centred on 1). Without jitter, exactly:
   * the network rounds each call to a whole ms, and a plan that ignored it could lose to one
   * whose roundings happen to fall lower.
   */
  private latency(n: number): number {
    const ms = this.network.baseLatencyMs(n);
    return this.jitter === 0 ? Math.round(ms) : ms;
  }

  /** A one-recipient call in an outage: rejected after the base round trip, or hung until the oracle gives up on it. */
  private waitMs(): number {
    const { profile } = this.network;
    if (profile.failure !== 'timeout') return profile.baseMs;
    return Math.max(MIN_CALL_TIMEOUT_MS, Math.ceil(this.latency(1) * (1 + this.jitter)) + 1);
  }

  /**
   * The base rule, for a call starting at `at` with `remaining` to send: the
   * best size; where the engine's tail rule would merge the rest into one call
   * over the capacity, the rest split evenly in two (as likely to be lucky as
   * any other two-call split, and the finish varies least).
   */
  base(at: number, remaining: number): number {
    if (this.outage(at)) return WAIT;
    const capacity = this.capacity(at);
    const best = this.best(capacity);
    if (remaining <= best) return remaining;
    if (!sendsAllRemaining(best, remaining)) return best;
    const inOne = remaining <= capacity && this.latency(remaining) * (1 + this.jitter) < this.config.batchTimeoutMs;
    const two = (first: number) => Math.max(this.latency(first), this.interval) + this.latency(remaining - first);
    let half = Math.ceil(remaining / 2);
    // Without jitter the whole-ms roundings are known: the even split's neighbours may round lower.
    if (this.jitter === 0) {
      for (let first = half - SPLIT_SPAN; first <= half + SPLIT_SPAN; first++) {
        if (first >= 1 && first <= remaining / TAIL_FACTOR && remaining - first <= best && two(first) < two(half)) half = first;
      }
    }
    return inOne && this.latency(remaining) <= two(half) ? remaining : half;
  }

  /** When the last call ends if the next (starting at `at`) sends `first` and takes `jitter` times its mean, and the base rule sends the rest. */
  private rollout(at: number, remaining: number, first: number, jitter: number): number {
    let start = at;
    let left = remaining;
    let size = first;
    let factor = jitter;
    for (;;) {
      if (size !== WAIT && size > this.capacity(start)) return Infinity;
      const end = start + (size === WAIT ? this.waitMs() : this.latency(size)) * factor;
      left -= size;
      if (left <= 0) return end;
      start = Math.max(end, start + this.interval);
      size = this.base(start, left);
      factor = 1;
    }
  }

  /** The expected finish of a plan, over the next call's jitter. */
  private expected(at: number, remaining: number, first: number): number {
    let sum = 0;
    const points = this.jitter === 0 ? 1 : JITTER_POINTS;
    for (let i = 0; i < points; i++) {
      const jitter = 1 - this.jitter + (this.jitter * (2 * i + 1)) / points;
      sum += this.rollout(at, remaining, first, jitter);
    }
    return sum / points;
  }

  /** The largest size a call of which takes at most `ms` on average (0 if none). */
  private sizeWithin(ms: number, capacity: number): number {
    let lo = 0;
    let hi = capacity;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (this.latency(mid) <= ms) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** The next call's size, sent as is by the engine (everything that remains, or at most remaining / TAIL_FACTOR). */
  next(at: number, remaining: number): { size: number; planned: boolean } {
    const base = this.base(at, remaining);
    // Past the schedule's last change the network stands still: with jitter the base rule is as good as any
    // plan; without it, sizes just under the best one may round their way to a finish a few ms sooner.
    const exact = this.jitter === 0;
    if (base === WAIT || (!exact && !this.changes.some((t) => t > at))) return { size: base, planned: false };
    const capacity = this.capacity(at);
    const best = this.best(capacity);
    const candidates = new Set<number>([base]);
    for (let k = 1; k <= FRACTIONS; k++) candidates.add(Math.max(1, Math.round((best * k) / FRACTIONS)));
    if (exact) for (let k = 1; k <= SPLIT_SPAN; k++) candidates.add(Math.min(best, remaining) - k);
    // Calls that end just before a change (so the one after starts under the old regime) or just after it.
    for (const t of this.changes) {
      const span = t - at;
      if (span <= 0) continue;
      if (span > this.latency(capacity) * (1 + this.jitter)) break;
      for (const ms of [span / (1 + this.jitter), span - 1, span, span / (1 - this.jitter) + 1]) {
        candidates.add(this.sizeWithin(ms, capacity));
        candidates.add(this.sizeWithin(ms, capacity) + 1);
      }
    }
    let chosen = base;
    let finish = this.expected(at, remaining, base);
    const tail = Math.floor(remaining / TAIL_FACTOR);
    for (const n of candidates) {
      if (n === base || n < 1 || n > capacity || (n !== remaining && n > tail)) continue;
      if (this.latency(n) * (1 + this.jitter) >= this.config.batchTimeoutMs) continue;
      const f = this.expected(at, remaining, n);
      if (f < finish - (exact ? 0.5 : TIE_MS)) [chosen, finish] = [n, f];
    }
    return { size: chosen, planned: chosen !== base };
  }
}

/** The oracle for one run: bound to that run's network and clock. */
export function oracle(network: SimOracle, clock: Clock, config: SmartSendConfig): AnyStrategy {
  const worstJitter = 1 + network.profile.jitterPct / 100;
  const interval = 1000 / config.maxBatchesPerSecond;
  const planner = new SchedulePlanner(network, config);
  // A healthy call of n takes at most this long: past it the call has stalled or hung, and the
  // oracle, knowing the latency model, gives up on it at once rather than wait out the batch timeout.
  const deadline = (ctx: StrategyContext, size: number): number =>
    Math.ceil(network.baseLatencyMs(planSize(size, ctx.remaining, config.maxBatchSize)) * worstJitter) + 1;
  /**
   * When the next call starts: the engine's pacer spaces calls 1/maxBatchesPerSecond apart.
   * After a refusal for rate it holds calls for the server's hint and may slow down, so the
   * start is only known to lie somewhere in the next few intervals.
   */
  function nextStart(now: number): { at: number; slack: number } {
    const calls = network.calls;
    const last = calls.at(-1);
    const at = last === undefined ? now : Math.max(now, network.sinceStart(last.startedAt) + interval);
    const refused = calls.some((c) => c.outcome === 'RATE_LIMITED');
    return { at, slack: refused ? 10 * interval : 0 };
  }
  function decide(ctx: StrategyContext): { size: number; reason: string; timeoutMs: number } {
    const { at, slack } = nextStart(network.sinceStart(clock.now()));
    // In an outage every size is more likely to fail than not, and each failure spends its
    // recipients' attempts: the least it can risk is one recipient a call until it ends.
    if (planner.outage(at)) {
      const failureRate = network.failureRateAt(at);
      return {
        size: 1,
        reason: `outage (${Math.round(failureRate * 100)}% of calls fail): one recipient at a time`,
        timeoutMs: deadline(ctx, 1),
      };
    }
    let { size, planned } = planner.next(at, ctx.remaining);
    const capacity = planner.lowestCapacity(at, at + slack);
    // Never over the capacity the call can meet, nor a size the tail rule would merge into more.
    if (size > capacity) size = planner.base(at + slack, ctx.remaining) || 1;
    if (size !== ctx.remaining && sendsAllRemaining(size, ctx.remaining)) size = Math.floor(ctx.remaining / TAIL_FACTOR);
    size = Math.max(1, Math.min(size, capacity));
    const how = planned ? `timed to the schedule: ${size}` : size === ctx.remaining ? 'all that remains' : `best throughput at ${size}`;
    return {
      size,
      reason: `capacity ${Number.isFinite(capacity) ? capacity : 'unlimited'} at ${(at / 1000).toFixed(1)} s: ${how}`,
      timeoutMs: deadline(ctx, size),
    };
  }

  return defineStrategy<null>({
    name: ORACLE,
    description: 'Baseline: knows the true capacity, latency and schedule; the physical limit.',
    start: (ctx) => ({ state: null, ...decide(ctx) }),
    next: (_state, _outcome, ctx) => ({ state: null, ...decide(ctx) }),
  });
}
