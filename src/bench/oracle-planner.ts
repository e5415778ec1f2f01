/**
 * How the oracle (baselines.ts) sizes its calls: over the network's known
 * schedule, its latency model and the random draws its own next calls will
 * meet. A lower bound may be clairvoyant: it stands for the physical limit,
 * not for a strategy anyone could run.
 */
import { MIN_CALL_TIMEOUT_MS, sendsAllRemaining, TAIL_FACTOR } from '../../strategies/sdk.js';
import type { SmartSendConfig } from '../config.js';
import type { RateWindow } from '../transport/sim/model.js';
import type { CallDraws, SimOracle, UpcomingCalls } from '../transport/sim/oracle.js';

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

/** First sizes tried as fractions of the best one, besides those timed to the schedule. */
const FRACTIONS = 20;
/** Sizes this far from the base rule's (or from the ends of the last split) are tried one by one: whole-ms roundings and draws differ by the recipient. */
const SPLIT_SPAN = 20;
/**
 * Within this many best-size calls of the end, sizes are weighed against each
 * other even on a network that stands still: how the last calls split decides
 * which of them meets which draw, and a contender that split them the other
 * way would otherwise be luckier on some seeds.
 */
const ENDGAME_CALLS = 4;
/** Longer plans than this are not followed to the end (a network that fails every call for ever). */
const MAX_CALLS = 100_000;
/** Before any call has been made there are no draws to read (the anchor's are its own): every call at the model's mean. */
const MEAN_DRAWS: CallDraws = { jitter: 1, failDraw: 1, tail: 1 };

/** How one call ends: after `ms`, having delivered its recipients or not. */
interface CallEnd {
  readonly ms: number;
  readonly ok: boolean;
}

/**
 * Plans the oracle's sends. A call is judged by its start, so what matters is
 * when each call starts: the next one starts at the later of the previous
 * call's end and its pacing slot. Each decision tries a range of next sizes
 * (those that end the call just before or after a change in the schedule, and
 * near the end every way to split the last calls, included) and plays each plan
 * out exactly, call k meeting the jitter, tail and random failure the network
 * will draw for call k, with the base rule for every call after the first. A
 * plan that is not strictly sooner than the base rule's, or that runs into the
 * server's rate limit, is not taken.
 */
export class SchedulePlanner {
  private readonly interval: number;
  private readonly jitter: number;
  private readonly bestByCapacity = new Map<number, number>();
  /** Times at which the capacity or the failure rate changes, ascending. */
  private readonly changes: readonly number[];
  private draws: UpcomingCalls = () => MEAN_DRAWS;
  private readonly windows: readonly RateWindow[];
  /** Starts of the calls the server's rate windows counted so far, ascending. */
  private accepted: readonly number[] = [];

  constructor(
    private readonly network: SimOracle,
    private readonly config: SmartSendConfig,
  ) {
    this.interval = 1000 / config.maxBatchesPerSecond;
    this.jitter = network.profile.jitterPct / 100;
    const { capacitySchedule, failureBursts } = network.profile;
    const times = [...capacitySchedule.map((s) => s.atMs), ...failureBursts.flatMap((b) => [b.atMs, b.atMs + b.durationMs])];
    this.changes = [...new Set(times)].sort((a, b) => a - b);
    this.windows = network.rateLimits;
  }

  /** From now on, plans meet these draws (call 0 is the next call), after calls the rate windows counted at `accepted`. */
  see(draws: UpcomingCalls | undefined, accepted: readonly number[] = []): void {
    this.draws = draws ?? (() => MEAN_DRAWS);
    // A window refuses when its latest `calls` starts are all inside it: older starts never matter.
    const keep = Math.max(0, ...this.windows.map((w) => w.calls));
    this.accepted = keep === 0 ? [] : accepted.slice(-keep);
  }

  /** Whether the server would refuse a call at `at` for its rate, after calls counted at `starts` (ascending). */
  private refused(at: number, starts: readonly number[]): boolean {
    return this.windows.some((w) => {
      let inside = 0;
      for (let i = starts.length - 1; i >= 0 && starts[i]! > at - w.windowMs; i--) inside++;
      return inside >= w.calls;
    });
  }

  capacity(at: number): number {
    return Math.min(this.network.capacityAt(at), this.config.maxBatchSize);
  }

  /** The least capacity in force at any moment from `from` to `to`. */
  lowestCapacity(from: number, to: number): number {
    const inside = this.changes.filter((t) => t > from && t <= to);
    return Math.min(this.capacity(from), ...inside.map((t) => this.capacity(t)));
  }

  /** Whether call k, starting at `at`, fails at random whatever its size. */
  fails(k: number, at: number): boolean {
    return this.draws(k).failDraw < this.network.failureRateAt(at);
  }

  /**
   * The timeout the oracle asks for on call k of n starting at `at`: a call
   * that will hang is given up on as soon as the engine allows; any other, as
   * soon as it is slower than a healthy call of n can be (a stall).
   */
  timeoutMs(k: number, at: number, n: number): number {
    if (this.network.profile.failure === 'timeout' && this.fails(k, at)) return MIN_CALL_TIMEOUT_MS;
    return this.healthyMs(n);
  }

  /** The longest a healthy call of n can take, rounded up past the network's whole-ms rounding. */
  private healthyMs(n: number): number {
    return Math.ceil(this.network.baseLatencyMs(n) * (1 + this.jitter)) + 1;
  }

  /**
   * What call k, starting at `at` and known to fail whatever it carries, should
   * carry, `streak` failed calls having come just before it. The engine never
   * gives up on a call sooner than MIN_CALL_TIMEOUT_MS, so a hang costs that
   * much whatever its size: it carries the least that a healthy call would take
   * that long for, so that it is not given up on later than a healthy call of
   * its size could be. Each failure strikes its recipients, and the engine
   * retries the struck first: the call that would strike them out carries one.
   */
  doomedSize(at: number, remaining: number, streak: number): number {
    if (this.network.profile.failure !== 'timeout' || streak + 1 >= this.config.maxAttempts) return 1;
    const best = this.best(this.capacity(at));
    let n = 1;
    while (n < best && this.healthyMs(n) < MIN_CALL_TIMEOUT_MS) n++;
    return n !== remaining && sendsAllRemaining(n, remaining) ? 1 : n;
  }

  /** Call k of n starting at `at`, exactly as the network and the engine's timeout will play it. */
  private call(k: number, at: number, n: number): CallEnd {
    const { profile } = this.network;
    const draws = this.draws(k);
    const slowdown = draws.jitter * draws.tail;
    const limit = Math.min(this.config.batchTimeoutMs, Math.max(MIN_CALL_TIMEOUT_MS, this.timeoutMs(k, at, n)));
    if (this.fails(k, at))
      return { ms: profile.failure === 'timeout' ? limit : Math.min(limit, Math.round(profile.baseMs * slowdown)), ok: false };
    const ms = Math.round(this.network.baseLatencyMs(n) * slowdown);
    return ms <= limit ? { ms, ok: true } : { ms: limit, ok: false };
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
   * How long a call of n takes at the model's mean. Without jitter, exactly: the
   * network rounds each call to a whole ms, and a plan that ignored it could lose
   * to one whose roundings happen to fall lower.
   */
  private latency(n: number): number {
    const ms = this.network.baseLatencyMs(n);
    return this.jitter === 0 ? Math.round(ms) : ms;
  }

  /**
   * The base rule, for call k starting at `at` with `remaining` to send: one
   * recipient if the call will fail or stall whatever it carries (the least
   * it can risk); else the best size, and where the engine's tail rule would
   * merge the rest into one call over the capacity, the rest split evenly in
   * two (the decision at that call weighs the other splits by their draws).
   */
  base(k: number, at: number, remaining: number): number {
    if (this.fails(k, at)) return 1;
    const capacity = this.capacity(at);
    const best = this.best(capacity);
    const size = this.sizeAt(remaining, capacity, best);
    return size > 1 && !this.call(k, at, size).ok ? 1 : size;
  }

  private sizeAt(remaining: number, capacity: number, best: number): number {
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

  /**
   * When the last call ends if the next (starting at `at`) sends `first` and the base rule sends the rest.
   * With `refusals` false, a plan that would run into the server's rate limit counts as never ending: a
   * refusal also spends its call's draws and slows the engine's pacer, which the plan does not follow,
   * so only the base rule's own plan is allowed them.
   */
  private rollout(at: number, remaining: number, first: number, refusals = false): number {
    let start = at;
    let left = remaining;
    let size = first;
    const starts = this.windows.length > 0 && !refusals ? [...this.accepted] : undefined;
    for (let k = 0; k < MAX_CALLS; k++) {
      if (size > this.capacity(start)) return Infinity;
      if (starts) {
        if (this.refused(start, starts)) return Infinity;
        starts.push(start);
      }
      const { ms, ok } = this.call(k, start, size);
      if (ok) left -= size;
      if (left <= 0) return start + ms;
      start = Math.max(start + ms, start + this.interval);
      size = this.base(k + 1, start, left);
    }
    return Infinity;
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
    const base = this.base(0, at, remaining);
    const capacity = this.capacity(at);
    const best = this.best(capacity);
    // Mid-send on a network that stands still, every plan meets the same draws call for call and the
    // base rule is as good as any; near a change in the schedule, near the end (which draw each of the
    // last calls meets) or on a call the tail will stall, the plans are weighed. Without jitter, sizes
    // just under the best one may round their way to a finish a few ms sooner anywhere.
    const exact = this.jitter === 0;
    const endgame = remaining <= ENDGAME_CALLS * best;
    const struck = this.draws(0).tail !== 1;
    if (!exact && !endgame && !struck && !this.changes.some((t) => t > at)) return { size: base, planned: false };
    const tail = Math.floor(remaining / TAIL_FACTOR);
    const candidates = new Set<number>([base, 1]);
    for (let k = 1; k <= FRACTIONS; k++) candidates.add(Math.max(1, Math.round((best * k) / FRACTIONS)));
    for (let k = 1; k <= SPLIT_SPAN; k++) candidates.add(Math.min(best, remaining) - k);
    if (endgame) {
      // Every way to send the rest in one more call: from the most the rest can leave to the least.
      candidates.add(remaining);
      const lo = Math.max(1, remaining - best);
      const hi = Math.min(best, tail);
      for (let k = 0; k <= SPLIT_SPAN; k++) candidates.add(lo + k).add(hi - k);
      for (let k = 1; k < FRACTIONS; k++) candidates.add(Math.round(lo + ((hi - lo) * k) / FRACTIONS));
    }
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
    let finish = this.rollout(at, remaining, base, true);
    for (const n of candidates) {
      if (n === base || n < 1 || n > capacity || (n !== remaining && n > tail)) continue;
      if (this.latency(n) * (1 + this.jitter) >= this.config.batchTimeoutMs) continue;
      const f = this.rollout(at, remaining, n);
      if (f < finish) [chosen, finish] = [n, f];
    }
    return { size: chosen, planned: chosen !== base };
  }
}
