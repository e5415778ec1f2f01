/**
 * The call rate per WhatsApp session, applied. One pacer is shared by every
 * send of a process, so two sends on one session share the session's budget
 * and what either learns about it. Calls are spaced 1000/rate ms apart rather
 * than counted per window: spacing never bursts, and it guarantees at most
 * `rate` starts in any 1 s window. The rate starts at maxBatchesPerSecond (or
 * what session memory remembers) and follows the server's answers through
 * AimdCallRate (call-rate.ts); a server's retry-after hint holds every send of
 * the session until it has passed.
 */
import type { Clock } from '../clock.js';
import type { CallResult } from './call.js';
import { AimdCallRate, callRateDefaults, type CallRateTuning } from './call-rate.js';

const PRUNE_ABOVE = 10_000;

/** A call's place in its session's pace: hand it back with the call's result. */
export interface PaceSlot {
  readonly sessionId: string;
  /** When the call may start. */
  readonly at: number;
  /** The rate, not an earlier call or a hint, decided when: only such a call tells whether the rate is too high. */
  readonly held: boolean;
}

interface SessionPace {
  readonly rate: AimdCallRate;
  /** Start of the latest slot given out: no two calls start closer than the configured maximum allows. */
  last: number;
  /** Where the session's rate spaces the next call from: the latest slot, or none after a refusal with a hint. */
  spacedFrom: number;
  /** A server's hint: no call before this. */
  notBefore: number;
  /** When the rate was last lowered: calls slotted before it were made at the old rate. */
  loweredAt: number;
}

export class SessionPacer {
  private readonly sessions = new Map<string, SessionPace>();

  constructor(
    private readonly clock: Clock,
    private readonly maxPerSecond: number,
    private readonly tuning: CallRateTuning = callRateDefaults,
  ) {
    if (!(maxPerSecond > 0)) throw new RangeError(`maxPerSecond must be > 0, got ${maxPerSecond}`);
  }

  /**
   * Starts a session that this process has not paced yet at a remembered rate
   * (session memory's learnedCallsPerSecond). A session already paced keeps its
   * own rate: it is fresher than anything stored.
   */
  prime(sessionId: string, callsPerSecond: number | undefined): void {
    if (!callsPerSecond || this.sessions.has(sessionId)) return;
    this.sessions.set(sessionId, this.fresh(callsPerSecond));
  }

  /** Waits for this session's next slot and takes it. Rejects if `signal` aborts first (the slot is then spent). */
  async acquire(sessionId: string, signal?: AbortSignal): Promise<PaceSlot> {
    const now = this.clock.now();
    let pace = this.sessions.get(sessionId);
    if (!pace) {
      pace = this.fresh();
      this.sessions.set(sessionId, pace);
    }
    const paced = Math.max(now, pace.spacedFrom + this.intervalOf(pace));
    const at = Math.max(paced, pace.notBefore, pace.last + 1000 / this.maxPerSecond);
    // The call after a refusal goes through a window the refused call never took: it proves nothing.
    const held = paced > now && at === paced && pace.last > pace.loweredAt;
    pace.last = at;
    pace.spacedFrom = at;
    if (this.sessions.size > PRUNE_ABOVE) this.prune(now);
    if (at > now) await this.clock.sleep(at - now, signal);
    return { sessionId, at, held };
  }

  /** What the call made in `slot` came to: a refusal for its rate lowers the session's rate, a clean call it held back raises it. */
  observe(slot: PaceSlot, result: CallResult<unknown>): void {
    const pace = this.sessions.get(slot.sessionId);
    if (!pace) return;
    if (result.ok) {
      if (slot.held) pace.rate.recover();
      return;
    }
    if (result.error.code !== 'RATE_LIMITED') return;
    const now = this.clock.now();
    // Several calls made at the old rate may be refused together: one lesson, not one per call.
    if (slot.at >= pace.loweredAt) {
      pace.rate.backOff();
      pace.loweredAt = now;
    }
    const hint = result.error.retryAfterMs;
    if (hint !== undefined && hint >= 0) {
      pace.notBefore = Math.max(pace.notBefore, now + hint);
      // The server says when it takes a call again, and the call it refused took no place in its
      // window: the next call goes at the hint (never closer to the refused one than the configured
      // maximum allows), and the lowered rate spaces the calls after it.
      if (pace.last === slot.at) pace.spacedFrom = Number.NEGATIVE_INFINITY;
    }
  }

  /** The session's rate when it is below the configured maximum, for session memory; 0 when at it. */
  learned(sessionId: string): number {
    const rate = this.sessions.get(sessionId)?.rate;
    return !rate || rate.atCeiling ? 0 : rate.perSecond;
  }

  /** Calls per second the session may make now. */
  rateOf(sessionId: string): number {
    return this.sessions.get(sessionId)?.rate.perSecond ?? this.maxPerSecond;
  }

  /**
   * A learned rate's spacing is rounded up to a whole millisecond, so slots stay
   * on the whole milliseconds the simulated network keeps virtual time on; at
   * the configured maximum the spacing is exactly what it always was.
   */
  private intervalOf(pace: SessionPace): number {
    return pace.rate.atCeiling ? 1000 / this.maxPerSecond : Math.ceil(pace.rate.intervalMs);
  }

  private fresh(initial?: number): SessionPace {
    return {
      rate: new AimdCallRate(this.maxPerSecond, initial, this.tuning),
      last: Number.NEGATIVE_INFINITY,
      spacedFrom: Number.NEGATIVE_INFINITY,
      notBefore: Number.NEGATIVE_INFINITY,
      loweredAt: Number.NEGATIVE_INFINITY,
    };
  }

  /** Forgets sessions with nothing pending; a learned rate survives in session memory. */
  private prune(now: number): void {
    for (const [session, pace] of this.sessions) {
      if (pace.last + this.intervalOf(pace) <= now && pace.notBefore <= now) this.sessions.delete(session);
    }
  }
}
