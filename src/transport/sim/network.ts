/**
 * A seeded, simulated WhatsApp network behind the Transport seam. It reads
 * time only through the injected Clock, so the same model runs in virtual
 * time (tests, the benchmark) and in scaled real time (`npm start`).
 */
import type { Clock } from '../../clock.js';
import { assertInlineMediaSize, DEFAULT_MAX_MEDIA_BYTES } from '../../media/limits.js';
import {
  TransportError,
  type PreparedStory,
  type SendRequest,
  type Story,
  type Transport,
  type TransportErrorCode,
} from '../port.js';
import {
  capacityAt,
  failureAt,
  jitterFactor,
  modelLatencyMs,
  RateLimiter,
  rateWindows,
  tailFactor,
  type RateWindow,
} from './model.js';
import { parseProfile, receiptShares, type SimProfile, type SimProfileInput } from './profile.js';
import { drawReceipts, playReceipts, type SimReceipt } from './receipts.js';
import { createRng, deriveSeed, type Rng } from './rng.js';

export interface SimulatedNetworkOptions {
  /** Parsed again here, so a hand-written object gets the same checks and defaults as a file. */
  readonly profile: SimProfileInput;
  readonly clock: Clock;
  /** Default 0: runs are reproducible unless asked otherwise. */
  readonly seed?: number;
  /** Keep each call's recipients in `calls` (off by default: 100k-recipient runs would hold them all). */
  readonly recordRecipients?: boolean;
  /** Inline media over this is refused as the real transport refuses it (STORYCAST_MAX_MEDIA_BYTES). */
  readonly maxMediaBytes?: number;
  /** Hears the receipts recipients' phones send back (the profile's deliveryShare and readShare; none without it). Must not throw. */
  readonly onReceipt?: (receipt: SimReceipt) => void;
}

/** Why a call failed, for benchmarks that compare a strategy against the network's truth. */
export type SimFailureCause =
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

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

interface Session {
  readonly rng: Rng;
  /**
   * The tail's draws come from their own stream so that profiles without a
   * tail keep the exact jitter and failure sequence they had before tails
   * existed, and a tail never shifts the main stream.
   */
  readonly tailRng: Rng;
  /** Receipts draw from their own stream too: listening for them never changes a send. */
  readonly receiptRng: Rng;
  readonly limiter: RateLimiter;
  readonly messageIds: Set<string>;
  readonly scripted: { code: TransportErrorCode; remaining: number }[];
  prepares: number;
  loggedOut: boolean;
}

export class SimulatedNetwork implements Transport {
  readonly profile: SimProfile;
  private readonly clock: Clock;
  private readonly seed: number;
  private readonly recordRecipients: boolean;
  private readonly maxMediaBytes: number;
  private readonly createdAt: number;
  private readonly sessions = new Map<string, Session>();
  /** The recipient lists of successful calls, per message id: counted only when asked (a benchmark never asks). */
  private readonly delivered = new Map<string, (readonly string[])[]>();
  private readonly issuedIds = new Set<string>();
  private readonly log: Mutable<SimCall>[] = [];
  private readonly onReceipt: ((receipt: SimReceipt) => void) | undefined;
  private readonly receiptsStop = new AbortController();

  constructor(options: SimulatedNetworkOptions) {
    this.profile = parseProfile(options.profile, 'SimulatedNetwork options');
    this.clock = options.clock;
    this.seed = options.seed ?? 0;
    this.recordRecipients = options.recordRecipients ?? false;
    this.maxMediaBytes = options.maxMediaBytes ?? DEFAULT_MAX_MEDIA_BYTES;
    this.onReceipt = options.onReceipt;
    this.createdAt = this.clock.now();
  }

  /** Stops the receipts still to come. */
  close(): void {
    this.receiptsStop.abort();
  }

  /** Every send so far, in the order they started (pending ones included). */
  get calls(): readonly SimCall[] {
    return this.log;
  }

  /** Recipient -> number of successful deliveries of that message id so far (empty if unknown): a snapshot. */
  deliveries(messageId: string): ReadonlyMap<string, number> {
    const counts = new Map<string, number>();
    for (const batch of this.delivered.get(messageId) ?? []) for (const r of batch) counts.set(r, (counts.get(r) ?? 0) + 1);
    return counts;
  }

  /** How many times prepare() was called for a session. */
  prepareCount(sessionId: string): number {
    return this.sessions.get(sessionId)?.prepares ?? 0;
  }

  // Oracle accessors: the network's truth, without randomness. Times are on
  // the schedule's time base (see sinceStart); a call is judged by its start.

  /**
   * Converts a reading of this network's clock (default: now) to ms since the
   * network was created, the time base of capacitySchedule and failureBursts.
   */
  sinceStart(clockNow: number = this.clock.now()): number {
    return clockNow - this.createdAt;
  }

  /** The capacity in force `ms` after the network was created (Infinity = unlimited). */
  capacityAt(ms: number): number {
    return capacityAt(this.profile, ms);
  }

  /**
   * The latency model for `size` recipients before jitter and tail, unrounded:
   * baseMs + perRecipientMs * size + the knee's extra. A successful call takes
   * round(this * jitter * tail) ms.
   */
  baseLatencyMs(size: number): number {
    return modelLatencyMs(this.profile, size);
  }

  /** Probability that a call starting `ms` after creation fails at random (a burst's rate inside one). */
  failureRateAt(ms: number): number {
    return failureAt(this.profile, ms).rate;
  }

  /** Every sliding window a session's calls must fit in (rateLimitPerSecond included as a 1000 ms window). */
  get rateLimits(): readonly RateWindow[] {
    return rateWindows(this.profile);
  }

  /** Test hook: from now on every call for the session fails with LOGGED_OUT, in-flight ones included. */
  logout(sessionId: string): void {
    this.session(sessionId).loggedOut = true;
  }

  /** Links a logged-out session again (what pairing a new device does on the real network). */
  relink(sessionId: string): void {
    this.session(sessionId).loggedOut = false;
  }

  /**
   * Test hook: the session's next `count` sends fail with `code`. TIMEOUT hangs
   * until the caller aborts (what a timeout is on this network); any other code
   * rejects after the base latency.
   */
  failNext(sessionId: string, code: TransportErrorCode, count = 1): void {
    if (count > 0) this.session(sessionId).scripted.push({ code, remaining: count });
  }

  async prepare(sessionId: string, story: Story, signal: AbortSignal): Promise<PreparedStory> {
    const session = this.session(sessionId);
    session.prepares++;
    throwIfAborted(signal);
    if (session.loggedOut) throw loggedOut(sessionId);
    if (story.kind !== 'text') {
      if ((story.data === undefined) === (story.url === undefined)) {
        throw new TransportError('SEND_FAILED', `a ${story.kind} story needs exactly one of data and url`);
      }
      if (story.data) assertInlineMediaSize(story.data, this.maxMediaBytes, `story.${story.kind}.data`);
      // The upload: one base round trip, no jitter so tests can rely on it.
      await this.clock.sleep(this.profile.baseMs, signal);
      if (session.loggedOut) throw loggedOut(sessionId);
    }
    return { story, payload: { simulated: true } };
  }

  async send(request: SendRequest, signal: AbortSignal): Promise<{ messageId: string }> {
    const call: Mutable<SimCall> = {
      sessionId: request.sessionId,
      messageId: request.messageId,
      anchor: request.messageId === undefined,
      size: request.recipients.length,
      startedAt: this.clock.now(),
      endedAt: undefined,
      outcome: 'pending',
    };
    if (this.recordRecipients) call.recipients = [...request.recipients];
    this.log.push(call);
    try {
      const result = await this.perform(request, signal, call);
      call.outcome = 'ok';
      return result;
    } catch (error) {
      const aborted = signal.aborted && (error === signal.reason || !(error instanceof TransportError));
      call.outcome = aborted ? 'aborted' : error instanceof TransportError ? error.code : 'SEND_FAILED';
      throw error;
    } finally {
      call.endedAt = this.clock.now();
    }
  }

  private async perform(
    request: SendRequest,
    signal: AbortSignal,
    call: Mutable<SimCall>,
  ): Promise<{ messageId: string }> {
    const { sessionId, recipients } = request;
    const session = this.session(sessionId);
    const start = call.startedAt;
    throwIfAborted(signal);
    if (session.loggedOut) {
      call.cause = 'logged-out';
      throw loggedOut(sessionId);
    }

    // Fixed draws per call, whatever its fate, so one outcome never shifts the
    // random numbers of the calls after it, and call k of two strategies on
    // one seed has the same luck (bursts reuse failDraw, so a burst only
    // raises the bar that draw must clear).
    const jitter = jitterFactor(this.profile.jitterPct, session.rng.next());
    const failDraw = session.rng.next();
    const tail = tailFactor(this.profile.latencyTail, session.tailRng.next(), session.tailRng.next());
    const messageId = request.messageId ?? this.newMessageId(session);
    if (tail !== 1) call.tailFactor = tail;

    if (request.messageId !== undefined && !session.messageIds.has(request.messageId)) {
      call.cause = 'unknown-message-id';
      throw new TransportError('SEND_FAILED', 'unknown message id');
    }
    const slowdown = jitter * tail;
    const baseLatency = wholeMs(this.profile.baseMs * slowdown);

    const scripted = session.scripted[0];
    if (scripted) {
      if (--scripted.remaining <= 0) session.scripted.shift();
      call.cause = 'scripted';
      if (scripted.code === 'TIMEOUT') return hang(signal);
      await this.clock.sleep(baseLatency, signal);
      throw new TransportError(scripted.code, `simulated ${scripted.code}`);
    }

    const refused = session.limiter.tryAccept(start);
    if (refused) {
      call.cause = 'rate-limit';
      const { calls, windowMs } = refused.window;
      await this.clock.sleep(baseLatency, signal);
      const retryAfterMs = Math.max(0, refused.freesAt - this.clock.now());
      const rate = windowMs === 1000 ? `${calls} calls per second` : `${calls} calls in ${windowMs} ms`;
      throw new TransportError('RATE_LIMITED', `more than ${rate}`, retryAfterMs);
    }

    const elapsed = this.sinceStart(start);
    const capacity = this.capacityAt(elapsed);
    if (recipients.length > capacity) {
      call.cause = 'capacity';
      const why = `${recipients.length} recipients exceed the capacity of ${capacity}`;
      return this.fail(why, baseLatency, signal);
    }
    const regime = failureAt(this.profile, elapsed);
    if (failDraw < regime.rate) {
      call.cause = regime.burst ? 'burst' : 'random';
      const why = regime.burst ? 'failure burst' : 'random network failure';
      return this.fail(why, baseLatency, signal);
    }

    await this.clock.sleep(wholeMs(this.baseLatencyMs(recipients.length) * slowdown), signal);
    if (session.loggedOut) {
      call.cause = 'logged-out';
      throw loggedOut(sessionId);
    }
    if (request.messageId === undefined) {
      session.messageIds.add(messageId);
      call.messageId = messageId;
    }
    this.deliver(messageId, recipients);
    if (this.onReceipt) {
      const due = drawReceipts(receiptShares(this.profile), session.receiptRng, this.clock.now(), { sessionId, messageId, recipients });
      playReceipts(this.clock, due, this.onReceipt, this.receiptsStop.signal);
    }
    return { messageId };
  }

  /** A failure in the profile's mode: hang until aborted, or reject after the base latency. */
  private async fail(why: string, baseLatency: number, signal: AbortSignal): Promise<never> {
    if (this.profile.failure === 'timeout') return hang(signal);
    await this.clock.sleep(baseLatency, signal);
    throw new TransportError('SEND_FAILED', `simulated failure: ${why}`);
  }

  /** Baileys-style ids ('3EB0' + 16 hex digits), unique within this network. */
  private newMessageId(session: Session): string {
    for (;;) {
      const hex = (n: number) => n.toString(16).toUpperCase().padStart(8, '0');
      const id = `3EB0${hex(session.rng.uint32())}${hex(session.rng.uint32())}`;
      if (!this.issuedIds.has(id)) {
        this.issuedIds.add(id);
        return id;
      }
    }
  }

  private deliver(messageId: string, recipients: readonly string[]): void {
    let batches = this.delivered.get(messageId);
    if (!batches) this.delivered.set(messageId, (batches = []));
    batches.push(recipients);
  }

  private session(sessionId: string): Session {
    let session = this.sessions.get(sessionId);
    if (!session) {
      session = {
        rng: createRng(deriveSeed(this.seed, sessionId)),
        tailRng: createRng(deriveSeed(deriveSeed(this.seed, 'latency-tail'), sessionId)),
        receiptRng: createRng(deriveSeed(deriveSeed(this.seed, 'receipts'), sessionId)),
        limiter: new RateLimiter(rateWindows(this.profile)),
        messageIds: new Set(),
        scripted: [],
        prepares: 0,
        loggedOut: false,
      };
      this.sessions.set(sessionId, session);
    }
    return session;
  }
}

/**
 * Latencies are whole milliseconds so virtual time stays integral: durations
 * computed as differences of clock readings are then exact (1400, not
 * 1399.9999999999998), which the engine's events and tests compare.
 */
function wholeMs(ms: number): number {
  return Math.round(ms);
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted', 'AbortError');
}

function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw abortReason(signal);
}

/** Never settles by itself and sets no timer: only the caller's abort ends it. */
function hang(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) return reject(abortReason(signal));
    signal.addEventListener('abort', () => reject(abortReason(signal)), { once: true });
  });
}

function loggedOut(sessionId: string): TransportError {
  return new TransportError('LOGGED_OUT', `session ${sessionId} is logged out`);
}
