/**
 * How the oracle (baselines.ts) sizes its calls: over the network's known
 * schedule, its latency model and the random draws its own next calls will
 * meet. A lower bound may be clairvoyant: it stands for the physical limit,
 * not for a strategy anyone could run.
 */
import { MIN_CALL_TIMEOUT_MS, sendsAllRemaining, TAIL_FACTOR } from '../../strategies/sdk.js';
import type { SmartSendConfig } from '../config.js';
import type { CallDraws, SimOracle, UpcomingCalls } from '../transport/sim/oracle.js';
import { PaceModel } from './pace-model.js';

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
/** How many best-size calls ahead of a change in the schedule the first call is timed to it. */
const LEAD_CALLS = 8;
/** Longer plans than this are not followed to the end (a network that fails every call for ever). */
const MAX_CALLS = 100_000;
/** Before any call has been made there are no draws to read (the anchor's are its own): every call at the model's mean. */
const MEAN_DRAWS: CallDraws = { jitter: 1, failDraw: 1, tail: 1 };

/** How one call ends: after `ms`, having delivered its recipients or not. */
interface CallEnd {
  readonly ms: number;
  readonly ok: boolean;
}

/** The next call that the server will not refuse for its rate: its draws (k from now), its start, and the longest refusal before it. */
interface Ahead {
  readonly k: number;
  readonly at: number;
  readonly refusedMs: number;
}

/** What the oracle sends next, and when that call will start. */
interface Decision {
  readonly size: number;
  readonly timeoutMs: number;
  /** The start of the call that carries it (after any refusals for the rate, which carry the same batch). */
  readonly at: number;
  /** The call fails at random whatever it carries. */
  readonly doomed: boolean;
  /** Chosen over the base rule by playing plans out. */
  readonly planned: boolean;
  /** The call will stall, and is waited for rather than given up on. */
  readonly rides: boolean;
}

/**
 * Plans the oracle's sends. A call is judged by its start, so what matters is
 * when each call starts: the next one starts at the later of the previous
 * call's end and its pacing slot. Each decision tries a range of next sizes
 * (those that end the call just before or after a change in the schedule, and
 * near the end every way to split the last calls, included) and plays each plan
 * out exactly, call k meeting the jitter, tail and random failure the network
 * will draw for call k, with the base rule for every call after the first;
 * calls start where the engine's pacer puts them and the server refuses those
 * its rate windows are full for (PaceModel), a refused batch going again with
 * the next call's draws. A plan that is not strictly sooner than the base
 * rule's is not taken. On a call that will stall, or after a refusal that
 * will, the timeout that waits it out is weighed against giving up on it.
 */
export class SchedulePlanner {
  private readonly interval: number;
  private readonly jitter: number;
  private readonly bestByCapacity = new Map<number, number>();
  /** Times at which the capacity or the failure rate changes, ascending. */
  private readonly changes: readonly number[];
  private draws: UpcomingCalls = () => MEAN_DRAWS;
  /** The engine's pacer and the server's rate windows as they stand at the next decision. */
  private pace: PaceModel;
  /** When the next decision is made (the schedule's time base). */
  private now = 0;

  constructor(
    private readonly network: SimOracle,
    private readonly config: SmartSendConfig,
  ) {
    this.interval = 1000 / config.maxBatchesPerSecond;
    this.jitter = network.profile.jitterPct / 100;
    const { capacitySchedule, failureBursts } = network.profile;
    const times = [...capacitySchedule.map((s) => s.atMs), ...failureBursts.flatMap((b) => [b.atMs, b.atMs + b.durationMs])];
    this.changes = [...new Set(times)].sort((a, b) => a - b);
    this.pace = new PaceModel(config.maxBatchesPerSecond, network.rateLimits);
  }

  /**
   * From now on, plans meet these draws (call 0 is the next call; the model's
   * mean without them), the next call is asked for at `now`, and the engine's
   * pacer and the server's windows stand as `pace` says (by default, as before
   * any call).
   */
  see(draws: UpcomingCalls | undefined, now = 0, pace?: PaceModel): void {
    this.draws = draws ?? (() => MEAN_DRAWS);
    this.now = now;
    this.pace = pace ?? new PaceModel(this.config.maxBatchesPerSecond, this.network.rateLimits);
  }

  /** How long a refusal for the rate takes with call k's draws: the server answers after a base round trip. */
  private refusalMs(k: number): number {
    const { jitter, tail } = this.draws(k);
    return Math.round(this.network.profile.baseMs * jitter * tail);
  }

  /**
   * The next call the server accepts, asked for at `now` with call k's draws
   * next: the pacer gives it its slot, and each refusal before it spends a
   * call's draws, slows the pacer and holds the next call for the server's hint.
   */
  private lookahead(pace: PaceModel, now: number, k: number): Ahead {
    const at = pace.peek(now);
    if (!pace.limited || pace.refusal(at) === undefined) return { k, at, refusedMs: 0 };
    const copy = pace.clone();
    let t = now;
    let refusedMs = 0;
    for (let i = k; i < k + MAX_CALLS; i++) {
      const slot = copy.slot(t);
      const freesAt = copy.refusal(slot.at);
      if (freesAt === undefined) return { k: i, at: slot.at, refusedMs };
      const ms = this.refusalMs(i);
      refusedMs = Math.max(refusedMs, ms);
      t = slot.at + ms;
      copy.observe(slot, { refused: true, hintMs: Math.max(0, freesAt - t) }, t);
    }
    return { k, at: Number.POSITIVE_INFINITY, refusedMs };
  }

  /**
   * The timeout the engine applies to call k of n at `at` (timeoutMs, within the engine's bounds). A refusal
   * for the rate before it that takes longer (a stalled one) is given up on, as a failed call: the pacer
   * then neither slows down nor waits for a hint. next() weighs waiting it out instead.
   */
  private limit(k: number, at: number, n: number): number {
    return Math.min(this.config.batchTimeoutMs, Math.max(MIN_CALL_TIMEOUT_MS, this.timeoutMs(k, at, n)));
  }

  /**
   * Times at which a call k starting at `at` could end so that, after j = 0..LEAD_CALLS best-size calls
   * with their own draws, a call starts just before or just after the next change in the schedule.
   */
  private beforeChange(k: number, at: number): number[] {
    const change = this.changes.find((t) => t > at);
    if (change === undefined) return [];
    const best = this.best(this.capacity(at));
    const ends: number[] = [];
    let room = change;
    for (let j = 0; j <= LEAD_CALLS && room > at; j++) {
      ends.push(room - 1, room + 1);
      const d = this.draws(k + 1 + j);
      room -= Math.max(this.interval, Math.round(this.network.baseLatencyMs(best) * d.jitter * d.tail));
    }
    return ends;
  }

  /** The timeout that waits out call k of n's stall, if it would succeed within the engine's longest timeout. */
  private rideLimit(k: number, at: number, n: number): number | undefined {
    if (this.fails(k, at)) return undefined;
    const { jitter, tail } = this.draws(k);
    const ms = Math.round(this.network.baseLatencyMs(n) * jitter * tail) + 1;
    return ms <= this.config.batchTimeoutMs ? Math.max(MIN_CALL_TIMEOUT_MS, ms) : undefined;
  }

  capacity(at: number): number {
    return Math.min(this.network.capacityAt(at), this.config.maxBatchSize);
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

  /** Call k of n starting at `at`, exactly as the network and the engine's timeout (`limit`) will play it. */
  private call(k: number, at: number, n: number, limit: number): CallEnd {
    const { profile } = this.network;
    const draws = this.draws(k);
    const slowdown = draws.jitter * draws.tail;
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
    return size > 1 && !this.call(k, at, size, this.limit(k, at, size)).ok ? 1 : size;
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
   * When the last call ends if the next accepted call (`ahead`) sends `first`
   * with the engine's timeout `limit` and the base rule sends the rest: call by
   * call as the engine's pacer starts them, the server's windows refuse them
   * (a refused batch goes again, the same size with the same timeout) and the
   * network plays each with its own draws.
   */
  private rollout(remaining: number, first: number, limit: number): number {
    const pace = this.pace.clone();
    let now = this.now;
    let left = remaining;
    let size = first;
    let timeout = limit;
    for (let k = 0; k < MAX_CALLS; k++) {
      const slot = pace.slot(now);
      const start = slot.at;
      const freesAt = pace.limited ? pace.refusal(start) : undefined;
      let end: number;
      let ok = false;
      if (freesAt !== undefined) {
        const ms = this.refusalMs(k);
        if (ms <= timeout) {
          now = start + ms;
          pace.observe(slot, { refused: true, hintMs: Math.max(0, freesAt - now) }, now);
          continue;
        }
        // Given up on before the refusal came back: a failed call like any other.
        end = start + timeout;
      } else {
        if (size > this.capacity(start)) return Number.POSITIVE_INFINITY;
        pace.count(start);
        const call = this.call(k, start, size, timeout);
        end = start + call.ms;
        ok = call.ok;
      }
      pace.observe(slot, { refused: false, ok }, end);
      if (ok) left -= size;
      if (left <= 0) return end;
      now = end;
      const next = this.lookahead(pace, now, k + 1);
      size = this.base(next.k, next.at, left);
      timeout = this.limit(next.k, next.at, size);
    }
    return Number.POSITIVE_INFINITY;
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

  /**
   * The oracle's next call, `streak` calls having failed just before it: one
   * that will fail whatever it carries gets doomedSize; any other the size (and
   * for a call that will stall, whether to wait it out) whose plan finishes
   * soonest.
   */
  decide(remaining: number, streak: number): Decision {
    const ahead = this.lookahead(this.pace, this.now, 0);
    const { k, at } = ahead;
    if (this.fails(k, at)) {
      const size = this.doomedSize(at, remaining, streak);
      let timeoutMs = this.limit(k, at, size);
      if (this.network.profile.failure === 'timeout' && (this.pace.limited || this.changes.some((t) => t > at))) {
        // A hang ends when the oracle says: given up on as soon as allowed, or just when the server's
        // windows have room again, so that the call after it is not refused for the rate.
        let finish = this.rollout(remaining, size, timeoutMs);
        for (const free of [...this.pace.roomAfter(at), ...this.beforeChange(k, at)]) {
          const limit = free - at;
          if (limit <= timeoutMs || limit > this.config.batchTimeoutMs) continue;
          const f = this.rollout(remaining, size, limit);
          if (f < finish) [timeoutMs, finish] = [limit, f];
        }
      }
      return { size, timeoutMs, at, doomed: true, planned: false, rides: false };
    }
    return { ...this.next(ahead, remaining), at, doomed: false };
  }

  /** The next call's size and timeout, sent as is by the engine (everything that remains, or at most remaining / TAIL_FACTOR). */
  private next(ahead: Ahead, remaining: number): { size: number; timeoutMs: number; planned: boolean; rides: boolean } {
    const { k: k0, at, refusedMs } = ahead;
    const base = this.base(k0, at, remaining);
    const baseLimit = this.limit(k0, at, base);
    const capacity = this.capacity(at);
    const best = this.best(capacity);
    // Mid-send on a network that stands still, every plan meets the same draws call for call and the
    // base rule is as good as any; near a change in the schedule, near the end (which draw each of the
    // last calls meets) or on a call the tail will stall, the plans are weighed. Without jitter, sizes
    // just under the best one may round their way to a finish a few ms sooner anywhere.
    const exact = this.jitter === 0;
    const endgame = remaining <= ENDGAME_CALLS * best;
    // A stall, on the call or on a refusal before it, may be worth waiting out rather than giving up on.
    const struck = this.draws(k0).tail !== 1 || refusedMs >= baseLimit;
    if (!exact && !endgame && !struck && !this.changes.some((t) => t > at))
      return { size: base, timeoutMs: baseLimit, planned: false, rides: false };
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
    if (struck) {
      // A stall waited out may carry more than a healthy call could in the time: up to what the engine's timeout allows.
      for (let k = 1; k <= FRACTIONS; k++) candidates.add(Math.round((Math.min(capacity, remaining) * k) / FRACTIONS));
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
    // The same a few full calls later: this call takes what the best-size calls after it, with their own
    // draws, leave of the time to the change, so that the last of them starts just before it.
    for (const t of this.changes) {
      if (t <= at) continue;
      const { jitter, tail } = this.draws(k0);
      let room = t - at;
      for (let j = 1; j <= LEAD_CALLS; j++) {
        const d = this.draws(k0 + j);
        room -= Math.max(this.interval, Math.round(this.network.baseLatencyMs(best) * d.jitter * d.tail));
        if (room <= 0) break;
        const n = this.sizeWithin((room - 1) / (jitter * tail), capacity);
        candidates
          .add(n)
          .add(n + 1)
          .add(n - 1);
      }
      break;
    }
    let chosen = { size: base, timeoutMs: baseLimit, planned: false, rides: false };
    let finish = this.rollout(remaining, base, baseLimit);
    for (const n of candidates) {
      if (n < 1 || n > capacity || (n !== remaining && n > tail)) continue;
      // The healthy timeout, and where something stalls, one that waits out the call's stall or a refusal's.
      const plain = this.limit(k0, at, n);
      const ride = struck ? this.rideLimit(k0, at, n) : undefined;
      const limits = new Map<number, boolean>();
      if (n !== base && this.latency(n) * (1 + this.jitter) < this.config.batchTimeoutMs) limits.set(plain, false);
      if (ride !== undefined && ride > plain) limits.set(ride, true);
      if (refusedMs >= plain && refusedMs < this.config.batchTimeoutMs) {
        const wait = refusedMs + 1;
        limits.set(Math.max(wait, plain), ride !== undefined && wait >= ride);
      }
      for (const [limit, rides] of limits) {
        const f = this.rollout(remaining, n, limit);
        if (f < finish) {
          chosen = { size: n, timeoutMs: limit, planned: true, rides };
          finish = f;
        }
      }
    }
    return chosen;
  }
}
