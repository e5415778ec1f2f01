/**
 * A seeded, simulated WhatsApp network behind the Transport seam. It reads
 * time only through the injected Clock, so the same model runs in virtual
 * time (tests, the benchmark) and in scaled real time (`npm start`). The
 * network's truth is read through `oracle` (oracle.ts), and tests script it
 * through `controls` (controls.ts): the engine gets only the Transport.
 */
import type { Clock } from '../../clock.js';
import { assertInlineMediaSize, DEFAULT_MAX_MEDIA_BYTES } from '../../media/limits.js';
import { TransportError, type PreparedStory, type SendRequest, type Story, type Transport } from '../port.js';
import { capacityAt, failureAt, jitterFactor, modelLatencyMs, tailFactor } from './model.js';
import { parseProfile, receiptShares, type SimProfile, type SimProfileInput } from './profile.js';
import { drawReceipts, playReceipts, type SimReceipt } from './receipts.js';
import { openCallLog, type CallLog } from './call-log.js';
import { SimControls } from './controls.js';
import { SimOracle, type CallDraws, type SimCall, type UpcomingCalls } from './oracle.js';
import type { Rng } from './rng.js';
import { SimState, type Mutable, type SimSession } from './state.js';
import { decodeStory, encodeStory } from '../story-codec.js';

export interface SimulatedNetworkOptions {
  /** Parsed again here, so a hand-written object gets the same checks and defaults as a file. */
  readonly profile: SimProfileInput;
  readonly clock: Clock;
  /** Default 0: runs are reproducible unless asked otherwise. */
  readonly seed?: number;
  /** Keep each call's recipients in `oracle.calls` (off by default: 100k-recipient runs would hold them all). */
  readonly recordRecipients?: boolean;
  /** Inline media over this is refused as the real transport refuses it (STORYCAST_MAX_MEDIA_BYTES). */
  readonly maxMediaBytes?: number;
  /** Hears the receipts recipients' phones send back (the profile's deliveryShare and readShare; none without it). Must not throw. */
  readonly onReceipt?: (receipt: SimReceipt) => void;
  /**
   * A file every send call appends a start and an end line to, shared with other
   * processes (STORYCAST_SIM_CALL_LOG; see call-log.ts). Unset: no file.
   */
  readonly callLog?: string;
}

export class SimulatedNetwork implements Transport {
  /** The network's truth: its model and a log of every call. */
  readonly oracle: SimOracle;
  /** Test hooks: logout, relink, scripted failures. */
  readonly controls: SimControls;
  private readonly state: SimState;
  private readonly profile: SimProfile;
  private readonly clock: Clock;
  private readonly recordRecipients: boolean;
  private readonly maxMediaBytes: number;
  private readonly issuedIds = new Set<string>();
  private readonly onReceipt: ((receipt: SimReceipt) => void) | undefined;
  /**
   * One per call whose receipts are still to come, so close() can stop them. Not
   * one signal for all: every tick's sleep listens on its playback's signal, and
   * an EventTarget checks its whole listener list on each add and remove, which
   * with a listener per playing call (hundreds under load) is quadratic.
   */
  private readonly playing = new Set<AbortController>();
  private closed = false;
  private readonly callLog: CallLog | undefined;

  constructor(options: SimulatedNetworkOptions) {
    this.profile = parseProfile(options.profile, 'SimulatedNetwork options');
    this.clock = options.clock;
    this.state = new SimState(this.profile, this.clock, options.seed ?? 0);
    this.oracle = new SimOracle(this.state, (sessionId) => this.upcoming(sessionId));
    this.controls = new SimControls(this.state);
    this.recordRecipients = options.recordRecipients ?? false;
    this.maxMediaBytes = options.maxMediaBytes ?? DEFAULT_MAX_MEDIA_BYTES;
    this.onReceipt = options.onReceipt;
    this.callLog = options.callLog === undefined ? undefined : openCallLog(options.callLog);
  }

  /** Stops the receipts still to come. */
  close(): void {
    this.closed = true;
    for (const play of this.playing) play.abort();
  }

  async prepare(sessionId: string, story: Story, signal: AbortSignal): Promise<PreparedStory> {
    const session = this.state.session(sessionId);
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

  /** The simulated payload holds nothing but the story. */
  saveStory(prepared: PreparedStory): Uint8Array {
    return encodeStory(prepared.story);
  }

  /** A status an earlier process created on this simulated network: calls with its id are accepted. */
  restoreStory(sessionId: string, saved: Uint8Array, messageId?: string): PreparedStory {
    const story = decodeStory(saved);
    if (messageId !== undefined) {
      this.state.session(sessionId).messageIds.add(messageId);
      this.issuedIds.add(messageId);
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
    // First: if the file cannot be written, the call fails before the oracle logs it as pending for ever.
    const logged = this.callLog?.start({ sessionId: call.sessionId, messageId: call.messageId, recipients: call.size });
    this.state.log.push(call);
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
      logged?.end(call.outcome, call.messageId);
    }
  }

  private async perform(request: SendRequest, signal: AbortSignal, call: Mutable<SimCall>): Promise<{ messageId: string }> {
    const { sessionId, recipients } = request;
    const session = this.state.session(sessionId);
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
    const { jitter, failDraw, tail } = drawCall(this.profile, session);
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

    const elapsed = start - this.state.createdAt;
    const capacity = capacityAt(this.profile, elapsed);
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

    await this.clock.sleep(wholeMs(modelLatencyMs(this.profile, recipients.length) * slowdown), signal);
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
      if (!this.closed) {
        const play = new AbortController();
        this.playing.add(play);
        void playReceipts(this.clock, due, this.onReceipt, play.signal).finally(() => this.playing.delete(play));
      }
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
  private newMessageId(session: SimSession): string {
    for (;;) {
      const hex = (n: number) => n.toString(16).toUpperCase().padStart(8, '0');
      const id = `3EB0${hex(session.rng.uint32())}${hex(session.rng.uint32())}`;
      if (!this.issuedIds.has(id)) {
        this.issuedIds.add(id);
        return id;
      }
    }
  }

  /**
   * What the session's next sends will draw, call k the k-th from now, if each
   * is a send with a message id that reaches the network (an anchor also draws
   * its id). Drawn from clones of the session's streams at the point they
   * stand: the network's own streams never move for it.
   */
  private upcoming(sessionId: string): UpcomingCalls {
    const session = this.state.session(sessionId);
    const copy = { rng: session.rng.clone(), tailRng: session.tailRng.clone() };
    const calls: CallDraws[] = [];
    return (k) => {
      while (calls.length <= k) calls.push(drawCall(this.profile, copy));
      return calls[k]!;
    };
  }

  private deliver(messageId: string, recipients: readonly string[]): void {
    let batches = this.state.delivered.get(messageId);
    if (!batches) {
      batches = [];
      this.state.delivered.set(messageId, batches);
    }
    batches.push(recipients);
  }
}

/**
 * Every call's draws, whatever its fate, in one place so that the network and
 * its preview cannot drift apart: jitter and the failure draw from the main
 * stream, the tail's two from its own.
 */
function drawCall(profile: SimProfile, streams: { rng: Rng; tailRng: Rng }): CallDraws {
  const jitter = jitterFactor(profile.jitterPct, streams.rng.next());
  const failDraw = streams.rng.next();
  const tail = tailFactor(profile.latencyTail, streams.tailRng.next(), streams.tailRng.next());
  return { jitter, failDraw, tail };
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
