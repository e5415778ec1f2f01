/**
 * The Transport over Baileys. prepare() builds the status once with Baileys'
 * own generateWAMessage (media is encrypted and uploaded here, exactly once);
 * every send() relays that same message with one message id and a different
 * statusJidList. relayMessage only says the stanza was written, so a call
 * counts as delivered when WhatsApp's ack for it arrives without an error
 * (see acks.ts for how acks are matched to calls).
 */
import { generateWAMessage, jidNormalizedUser } from '@whiskeysockets/baileys';
import type { AnyMessageContent, WAMessage, WAMessageContent } from '@whiskeysockets/baileys';
import { systemClock, type Clock } from '../clock.js';
import { silentLogger, type Logger } from '../log.js';
import { TransportError, type PreparedStory, type SendRequest, type Story, type Transport } from '../transport.js';
import { AckTracker, STATUS_JID } from './acks.js';
import { classifyBaileysError } from './errors.js';
import { RecentMessages, type MessageKeyLike } from './message-store.js';
import type { SessionSockets, WASocketLike } from './socket.js';

export interface BaileysTransportOptions {
  readonly sockets: SessionSockets;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Add the account's own JID to the anchor, so the status also shows on the sender's phone. */
  readonly includeOwnJidInAnchor?: boolean;
  /** The transport's own limit on waiting for an ack; unset leaves it to the engine's batch timeout. */
  readonly ackTimeoutMs?: number;
  /** How many sent statuses getMessage can still answer retry requests for. */
  readonly recentMessages?: number;
  /** How long a given-up call's late ack is still expected (see acks.ts). */
  readonly lateAckWindowMs?: number;
}

/** What prepare() hands the engine, opaque to it. */
export interface BaileysPayload {
  readonly message: WAMessage;
}

/** Baileys turns the colour into ARGB only from a hex string; a number is silently dropped (assertColor). */
const HEX_COLOUR = /^#?(?:[0-9a-f]{6}|[0-9a-f]{8})$/i;

const RECONNECT_POLL_MS = 250;
const REGISTRATION_TTL_MS = 24 * 60 * 60 * 1000;
const REGISTRATION_CHUNK = 500;
const REGISTRATION_CACHE_MAX = 500_000;

/** "15551234567:3@s.whatsapp.net" -> "15551234567": how onWhatsApp's answers are matched to what was asked. */
function userOf(jid: string): string {
  return jid.split('@')[0]!.split(':')[0]!;
}

export class BaileysTransport implements Transport {
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly includeOwnJid: boolean;
  private readonly store: RecentMessages<WAMessageContent>;
  private readonly trackers = new WeakMap<WASocketLike, AckTracker>();
  /** Pre-flight answers: whether a JID is on WhatsApp, and when we asked. */
  private readonly registered = new Map<string, { on: boolean; at: number }>();

  constructor(private readonly options: BaileysTransportOptions) {
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.includeOwnJid = options.includeOwnJidInAnchor ?? true;
    this.store = new RecentMessages(options.recentMessages ?? 500);
  }

  async prepare(sessionId: string, story: Story, signal: AbortSignal): Promise<PreparedStory> {
    const socket = this.socketFor(sessionId);
    const user = ownJid(socket);
    const { content, backgroundColor, font } = this.contentOf(story);
    const building = generateWAMessage(STATUS_JID, content, {
      userJid: user,
      upload: socket.waUploadToServer,
      logger: this.logger,
      ...(backgroundColor !== undefined ? { backgroundColor } : {}),
      ...(font !== undefined ? { font } : {}),
    });
    try {
      const message = await untilAborted(building, signal);
      const payload: BaileysPayload = { message };
      return { story, payload };
    } catch (error) {
      if (signal.aborted && error === signal.reason) throw error;
      throw classifyBaileysError(error);
    }
  }

  async send(request: SendRequest, signal: AbortSignal): Promise<{ messageId: string }> {
    const socket = await this.readySocket(request.sessionId, signal);
    const { message } = payloadOf(request);
    const messageId = request.messageId ?? message.key.id;
    if (!messageId || !message.message) throw new TransportError('SEND_FAILED', 'the prepared status has no message id or content');
    if (signal.aborted) throw signal.reason;
    const jids = new Set(request.recipients);
    if (request.messageId === undefined && this.includeOwnJid) jids.add(jidNormalizedUser(ownJid(socket)));
    this.store.remember(messageId, message.message);

    const pending = this.trackerFor(socket).expect(messageId);
    const relayed = socket.relayMessage(STATUS_JID, message.message, { messageId, statusJidList: [...jids] }).then(
      () => pending.settled,
      (error: unknown) => {
        pending.cancel();
        throw classifyBaileysError(error);
      },
    );
    try {
      await this.untilAckOrGiveUp(relayed, signal);
    } catch (error) {
      pending.abandon();
      throw error;
    }
    return { messageId };
  }

  /**
   * Pre-flight: the JIDs WhatsApp says are not registered. Answers are cached
   * (a day), so a second send to the same list asks only about new numbers.
   */
  async checkRecipients(sessionId: string, jids: readonly string[], signal: AbortSignal): Promise<ReadonlySet<string>> {
    const socket = this.socketFor(sessionId);
    if (!socket.onWhatsApp) return new Set();
    const now = this.clock.now();
    const unknown = jids.filter((jid) => {
      const known = this.registered.get(jid);
      return known === undefined || now - known.at > REGISTRATION_TTL_MS;
    });
    for (let i = 0; i < unknown.length && !signal.aborted; i += REGISTRATION_CHUNK) {
      const chunk = unknown.slice(i, i + REGISTRATION_CHUNK);
      let found;
      try {
        found = await socket.onWhatsApp(...chunk);
      } catch (error) {
        throw classifyBaileysError(error);
      }
      const on = new Set((found ?? []).filter((f) => f.exists).map((f) => userOf(f.jid)));
      if (this.registered.size > REGISTRATION_CACHE_MAX) this.registered.clear();
      for (const jid of chunk) this.registered.set(jid, { on: on.has(userOf(jid)), at: now });
    }
    return new Set(jids.filter((jid) => this.registered.get(jid)?.on === false));
  }

  /** For the socket's getMessage option: serves recipients' retry requests for recent statuses. */
  getMessage = async (key: MessageKeyLike): Promise<WAMessageContent | undefined> => this.store.get(key);

  private async untilAckOrGiveUp(outcome: Promise<void>, signal: AbortSignal): Promise<void> {
    const { ackTimeoutMs } = this.options;
    if (ackTimeoutMs === undefined) return untilAborted(outcome, signal);
    const stop = new AbortController();
    const timeout = this.clock.sleep(ackTimeoutMs, stop.signal).then(() => {
      throw new TransportError('TIMEOUT', `no ack from WhatsApp within ${ackTimeoutMs} ms`);
    });
    timeout.catch(() => {});
    try {
      await untilAborted(Promise.race([outcome, timeout]), signal);
    } finally {
      stop.abort();
    }
  }

  /**
   * A batch in the middle of a send waits out a reconnect (a 428 close, a
   * restart) for as long as the engine lets the call run, rather than stop the
   * send; a session that stopped for good fails at once. Prepare, where a send
   * begins, does not wait: a send on a session that is not connected is refused
   * with FAILED_PRECONDITION so the caller hears it straight away.
   */
  private async readySocket(sessionId: string, signal: AbortSignal): Promise<WASocketLike> {
    for (;;) {
      const entry = this.options.sockets.get(sessionId);
      if (entry?.state !== 'connecting') return this.socketFor(sessionId);
      await this.clock.sleep(RECONNECT_POLL_MS, signal);
    }
  }

  private socketFor(sessionId: string): WASocketLike {
    const entry = this.options.sockets.get(sessionId);
    if (!entry) throw new TransportError('SESSION_NOT_FOUND', `no WhatsApp session "${sessionId}"`);
    if (entry.state === 'logged-out') throw new TransportError('LOGGED_OUT', `session "${sessionId}" is logged out; pair it again`);
    if (entry.state !== 'open' || !entry.socket) {
      throw new TransportError('SESSION_NOT_CONNECTED', `session "${sessionId}" is ${entry.state}, not connected`);
    }
    return entry.socket;
  }

  private trackerFor(socket: WASocketLike): AckTracker {
    let tracker = this.trackers.get(socket);
    if (!tracker) {
      tracker = new AckTracker(socket, this.clock, this.options.lateAckWindowMs ?? 120_000);
      this.trackers.set(socket, tracker);
    }
    return tracker;
  }

  private contentOf(story: Story): { content: AnyMessageContent; backgroundColor?: string; font?: number } {
    if (story.kind === 'text') {
      let backgroundColor = story.backgroundColor;
      if (backgroundColor !== undefined && !HEX_COLOUR.test(backgroundColor)) {
        this.logger.warn({ backgroundColor }, 'text status background is not a hex colour; sending without it');
        backgroundColor = undefined;
      }
      // Baileys copies font through protobuf, which keeps only ExtendedTextMessage.FontType values.
      return { content: { text: story.text }, backgroundColor, font: story.font };
    }
    const media = story.data ? Buffer.from(story.data.buffer, story.data.byteOffset, story.data.byteLength) : story.url ? { url: story.url } : undefined;
    if (!media) throw new TransportError('SEND_FAILED', `${story.kind} story has neither data nor url`);
    const extra = {
      ...(story.caption !== undefined ? { caption: story.caption } : {}),
      ...(story.mimeType !== undefined ? { mimetype: story.mimeType } : {}),
    };
    return { content: story.kind === 'image' ? { image: media, ...extra } : { video: media, ...extra } };
  }
}

function ownJid(socket: WASocketLike): string {
  const id = socket.user?.id;
  if (!id) throw new TransportError('SESSION_NOT_CONNECTED', 'the socket has not authenticated yet');
  return id;
}

function payloadOf(request: SendRequest): BaileysPayload & { message: WAMessage & { key: { id?: string | null } } } {
  const payload = request.story.payload as BaileysPayload | undefined;
  if (!payload?.message?.key) throw new TransportError('SEND_FAILED', 'story was not prepared by the Baileys transport');
  return payload;
}

/** Settles with `work`, or rejects with the signal's reason as soon as it aborts. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  work.catch(() => {});
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
