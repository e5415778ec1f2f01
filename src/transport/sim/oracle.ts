/**
 * The simulated network's truth, for those who judge a send against it (the
 * benchmark's oracle baseline, tests): the model, the random draws the next
 * calls will meet, and a log of what each call did and why. Nothing here
 * changes the network.
 */
import type { TransportErrorCode } from '../port.js';
import { capacityAt, failureAt, modelLatencyMs, rateWindows, type RateWindow } from './model.js';
import type { SimProfile } from './profile.js';
import type { SimState } from './state.js';

/** Why a call failed, for benchmarks that compare a strategy against the network's truth. */
type SimFailureCause =
  | 'logged-out'
  | 'unknown-message-id'
  | 'scripted'
  | 'rate-limit'
  | 'capacity'
  | 'random'
  /** A random failure inside one of the profile's failureBursts. */
  | 'burst';

export interface SimCall {
  readonly sessionId: string;
  /** The id sent with, or for an anchor the id it created (undefined if the anchor failed). */
  readonly messageId: string | undefined;
  readonly anchor: boolean;
  readonly size: number;
  readonly startedAt: number;
  /** Undefined while the call is in flight. */
  readonly endedAt: number | undefined;
  readonly outcome: 'pending' | 'ok' | 'aborted' | TransportErrorCode;
  /** Set when the call was failed (or doomed to hang) by the network, even if the caller then aborted. */
  readonly cause?: SimFailureCause;
  /** Set when the latency tail struck this call: the factor its round trip was slowed by. */
  readonly tailFactor?: number;
  readonly recipients?: readonly string[];
}

/** The random draws of one call: it takes round(latency * jitter * tail) ms, and fails at random if failDraw < the failure rate at its start. */
export interface CallDraws {
  /** Uniform over [1 - jitterPct/100, 1 + jitterPct/100]. */
  readonly jitter: number;
  /** Uniform in [0, 1). */
  readonly failDraw: number;
  /** 1 unless the latency tail strikes the call. */
  readonly tail: number;
}

/** Call k from now (0: the next) -> its draws; drawn on demand, the same for the same k. */
export type UpcomingCalls = (k: number) => CallDraws;

/** Times are on the schedule's time base (see sinceStart); a call is judged by its start. */
export class SimOracle {
  constructor(
    private readonly state: SimState,
    private readonly preview: (sessionId: string) => UpcomingCalls,
  ) {}

  get profile(): SimProfile {
    return this.state.profile;
  }

  /**
   * Converts a reading of the network's clock (default: now) to ms since the
   * network was created, the time base of capacitySchedule and failureBursts.
   */
  sinceStart(clockNow: number = this.state.clock.now()): number {
    return clockNow - this.state.createdAt;
  }

  /** The capacity in force `ms` after the network was created (Infinity = unlimited). */
  capacityAt(ms: number): number {
    return capacityAt(this.state.profile, ms);
  }

  /**
   * The latency model for `size` recipients before jitter and tail, unrounded:
   * baseMs + perRecipientMs * size + the knee's extra. A successful call takes
   * round(this * jitter * tail) ms.
   */
  baseLatencyMs(size: number): number {
    return modelLatencyMs(this.state.profile, size);
  }

  /** Probability that a call starting `ms` after creation fails at random (a burst's rate inside one). */
  failureRateAt(ms: number): number {
    return failureAt(this.state.profile, ms).rate;
  }

  /**
   * What the session's next sends will draw (see CallDraws), read from a copy of
   * its random streams: a lower bound may be clairvoyant, and looking must not
   * change what any call meets. Holds for sends with a message id that reach
   * the network in order; a later look sees any call made since.
   */
  upcomingCalls(sessionId: string): UpcomingCalls {
    return this.preview(sessionId);
  }

  /** Every sliding window a session's calls must fit in (rateLimitPerSecond included as a 1000 ms window). */
  get rateLimits(): readonly RateWindow[] {
    return rateWindows(this.state.profile);
  }

  /** Every send so far, in the order they started (pending ones included), each with its outcome and cause. */
  get calls(): readonly SimCall[] {
    return this.state.log;
  }

  /** Recipient -> number of successful deliveries of that message id so far (empty if unknown): a snapshot. */
  deliveries(messageId: string): ReadonlyMap<string, number> {
    const counts = new Map<string, number>();
    for (const batch of this.state.delivered.get(messageId) ?? []) for (const r of batch) counts.set(r, (counts.get(r) ?? 0) + 1);
    return counts;
  }

  /** How many times prepare() was called for a session. */
  prepareCount(sessionId: string): number {
    return this.state.peek(sessionId)?.prepares ?? 0;
  }
}
