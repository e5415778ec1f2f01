/**
 * The Transport over Baileys. prepare() builds the status once with Baileys'
 * own generateWAMessage (media is encrypted and uploaded here, exactly once);
 * every send() relays that same message with one message id and a different
 * statusJidList. relayMessage only says the stanza was written, so a call
 * counts as delivered when WhatsApp's ack for it arrives without an error
 * (see acks.ts for how acks are matched to calls).
 */
import { jidNormalizedUser } from '@whiskeysockets/baileys';
import type { WAMessage, WAMessageContent } from '@whiskeysockets/baileys';
import { systemClock, type Clock } from '../../clock.js';
import { silentLogger, type Logger } from '../../log.js';
import {
  TransportError,
  type LateOutcome,
  type PreparedStory,
  type RecipientCheck,
  type SendRequest,
  type SendResult,
  type Story,
  type Transport,
} from '../port.js';
import { untilAborted, withinDeadline } from '../../util/abort.js';
import { AckLedger, STATUS_JID } from './acks.js';
import { KeyStoreHealth, type CommitWatch } from './key-commits.js';
import { assertSessionsPerUser } from './prekeys.js';
import { RecipientDirectory, statusAudience } from './preflight.js';
import { buildStatus } from './status-message.js';
import { SendError } from '../../engine/send-error.js';
import type { MediaOptions } from '../../media/story-media.js';
import { classifyBaileysError } from './errors.js';
import { RecentMessages, type MessageKeyLike } from './message-store.js';
import { isReconnecting } from '../sessions.js';
import type { SessionEntry, SessionSockets, WASocketLike } from './socket.js';
import { decodeStory, encodeStory } from '../story-codec.js';
import { proto } from './proto.js';

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
  /** How long after its write a given-up call's ack is still awaited before the next call of its id goes (see acks.ts). */
  readonly ackQuietMs?: number;
  /** Time budget of each chunk of the recipient pre-flight. */
  readonly preflightChunkTimeoutMs?: number;
  /** The media size cap, the URL fetch's time budget and address policy (src/media); production's by default. */
  readonly media?: MediaOptions;
}

/** One chunk of 500 numbers: WhatsApp usually answers in a second or two. */
const DEFAULT_PREFLIGHT_CHUNK_MS = 10_000;

/** Long enough for WhatsApp to ack a large stanza that was slow, short enough that a lost ack costs little. */
const DEFAULT_ACK_QUIET_MS = 30_000;

/** What prepare() hands the engine, opaque to it. */
export interface BaileysPayload {
  readonly message: WAMessage;
}

const RECONNECT_POLL_MS = 250;

export class BaileysTransport implements Transport {
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly includeOwnJid: boolean;
  /** Sent statuses by id, with the session that sent them: getMessage answers retry requests from here. */
  private readonly store: RecentMessages<{ sessionId: string; content: WAMessageContent }>;
  private readonly ledgers = new WeakMap<WASocketLike, AckLedger>();
  /** Late outcomes by session and message id, until the engine settles them. */
  private readonly late = new Map<string, LateOutcome[]>();
  private readonly directory: RecipientDirectory;
  private readonly keyStore: KeyStoreHealth;

  constructor(private readonly options: BaileysTransportOptions) {
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.includeOwnJid = options.includeOwnJidInAnchor ?? true;
    this.store = new RecentMessages(options.recentMessages ?? 500);
    this.keyStore = new KeyStoreHealth(options.sockets);
    this.directory = new RecipientDirectory({
      clock: this.clock,
      logger: this.logger,
      chunkTimeoutMs: options.preflightChunkTimeoutMs ?? DEFAULT_PREFLIGHT_CHUNK_MS,
    });
  }

  /**
   * Not raced against the signal: the engine waits for a timed-out prepare to
   * settle before it tries again, so this must not return while an upload still
   * runs. The fetch and the upload each stop on abort instead.
   */
  async prepare(sessionId: string, story: Story, signal: AbortSignal): Promise<PreparedStory> {
    const socket = this.socketFor(sessionId);
    const user = ownJid(socket);
    try {
      const message = await buildStatus(socket, user, story, { logger: this.logger, media: this.options.media ?? {} }, signal);
      if (signal.aborted) throw signal.reason;
      const payload: BaileysPayload = { message };
      return { story, payload };
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      if (error instanceof SendError || error instanceof TransportError) throw error;
      throw classifyBaileysError(error);
    }
  }

  /**
   * The built message in WhatsApp's own protobuf (its media keys and upload
   * paths with it), so a resumed send relays the same upload; the story
   * without its media bytes, which are uploaded already.
   */
  saveStory(prepared: PreparedStory): Uint8Array {
    const { message } = prepared.payload as BaileysPayload;
    const story: Story = prepared.story.kind === 'text' ? prepared.story : { ...prepared.story, data: undefined };
    const saved = {
      story: Buffer.from(encodeStory(story)).toString('base64'),
      message: Buffer.from(proto.WebMessageInfo.encode(message).finish()).toString('base64'),
    };
    return Buffer.from(JSON.stringify(saved));
  }

  /** Also remembers the status, so recipients' retry requests for it are answered after a restart. */
  restoreStory(sessionId: string, saved: Uint8Array, messageId?: string): PreparedStory {
    const { story, message } = JSON.parse(Buffer.from(saved).toString('utf8')) as { story?: unknown; message?: unknown };
    if (typeof story !== 'string' || typeof message !== 'string') throw new Error('not a story this transport saved');
    const payload: BaileysPayload = { message: proto.WebMessageInfo.decode(Buffer.from(message, 'base64')) };
    const id = messageId ?? payload.message.key.id;
    if (id && payload.message.message) this.store.remember(id, { sessionId, content: payload.message.message });
    return { story: decodeStory(Buffer.from(story, 'base64')), payload };
  }

  async send(request: SendRequest, signal: AbortSignal): Promise<SendResult> {
    const socket = await this.readySocket(request.sessionId, signal);
    const { message } = payloadOf(request);
    const messageId = request.messageId ?? message.key.id;
    if (!messageId || !message.message) throw new TransportError('SEND_FAILED', 'the prepared status has no message id or content');
    // WhatsApp's spelling of each number (preflight.ts), and back, to report refusals in the caller's terms.
    const spelled = new Map(request.recipients.map((jid) => [this.directory.spelling(request.sessionId, jid), jid]));
    const commits = this.keyStore.watch(request.sessionId);
    try {
      const setupStarted = this.clock.now();
      const refused = await this.refusedUsers(socket, [...spelled.keys()], request.messageId === undefined);
      const lookupMs = this.clock.now() - setupStarted;
      const jids = new Set([...spelled.keys()].filter((jid) => !refused.has(jid)));
      if (request.messageId === undefined && this.includeOwnJid) jids.add(jidNormalizedUser(ownJid(socket)));
      this.store.remember(messageId, { sessionId: request.sessionId, content: message.message });
      await this.relay(socket, request, messageId, message.message, [...jids], commits, signal);
      const setupMs = lookupMs + commits.ms;
      return {
        messageId,
        ...(setupMs > 0 ? { setupMs } : {}),
        ...(refused.size ? { refused: [...refused].map(([jid, error]) => ({ recipient: spelled.get(jid) ?? jid, error })) } : {}),
      };
    } finally {
      commits.stop();
    }
  }

  /**
   * One stanza, attributed by the ledger (acks.ts): waits until no earlier
   * stanza of the id is in doubt (the engine settles before each batch; this
   * also waits out a retry relay Baileys started since), relays, and waits for
   * its own ack. A store that failed the relay's key commit fails the call.
   */
  private async relay(
    socket: WASocketLike,
    request: SendRequest,
    messageId: string,
    content: WAMessageContent,
    statusJidList: string[],
    commits: CommitWatch,
    signal: AbortSignal,
  ): Promise<void> {
    const call = await this.ledgerFor(socket, request.sessionId).open(messageId, request.recipients, request.batchIndex, signal);
    const relayed = socket.relayMessage(STATUS_JID, content, { messageId, statusJidList }).then(
      () => {
        call.written();
        return call.acked;
      },
      (error: unknown) => {
        call.failed(mayHaveWritten(error));
        throw classifyBaileysError(error);
      },
    );
    try {
      await this.untilAckOrGiveUp(relayed, signal);
    } catch (error) {
      call.giveUp();
      // Baileys retries a failing commit for up to 30 s: that, not the batch's size, is what ran out the clock.
      throw commits.failure(true) ?? error;
    }
    const failure = commits.failure(false);
    if (failure) throw failure;
  }

  /**
   * Looks up the devices of recipients about to be sent to and fetches their
   * encryption sessions, while another call is in flight (prekeys.ts): the call
   * that sends to them then finds everything ready.
   */
  async warm(sessionId: string, recipients: readonly string[], signal: AbortSignal): Promise<void> {
    const socket = this.options.sockets.get(sessionId)?.socket;
    if (!socket || signal.aborted || recipients.length === 0) return;
    try {
      await assertSessionsPerUser(
        socket,
        recipients.map((jid) => this.directory.spelling(sessionId, jid)),
      );
    } catch (error) {
      this.logger.debug(
        { err: error, sessionId, recipients: recipients.length },
        'warm-up failed; the batch will set up its own recipients',
      );
    }
  }

  /**
   * Recipients WhatsApp gives no keys for, so the rest can go (prekeys.ts). The
   * anchor is one recipient whose message id every batch needs: there a refusal
   * fails the call, and the engine tries again.
   */
  private async refusedUsers(socket: WASocketLike, jids: readonly string[], anchor: boolean): Promise<Map<string, TransportError>> {
    let refused: Map<string, TransportError>;
    try {
      refused = await assertSessionsPerUser(socket, jids);
    } catch (error) {
      throw classifyBaileysError(error);
    }
    if (anchor && refused.size > 0) throw [...refused.values()][0]!;
    return refused;
  }

  /**
   * Waits until no earlier call of this status is in doubt on the session's
   * socket, and hands over the late outcomes learned since (see acks.ts).
   * A session without a socket has nothing in doubt: a closed socket settled all.
   */
  async settle(sessionId: string, messageId: string, signal: AbortSignal): Promise<readonly LateOutcome[]> {
    const socket = this.options.sockets.get(sessionId)?.socket;
    if (socket) await this.ledgers.get(socket)?.idle(messageId, signal);
    const key = lateKey(sessionId, messageId);
    const outcomes = this.late.get(key) ?? [];
    this.late.delete(key);
    return outcomes;
  }

  /**
   * Pre-flight: the JIDs WhatsApp says are not registered (see preflight.ts),
   * and who can see a status from this account.
   */
  async checkRecipients(sessionId: string, jids: readonly string[], signal: AbortSignal): Promise<RecipientCheck> {
    const socket = this.socketFor(sessionId);
    const canAsk = socket.executeUSyncQuery !== undefined || socket.onWhatsApp !== undefined;
    const notOnWhatsApp = canAsk ? await this.directory.check(sessionId, socket, jids, signal) : new Set<string>();
    const audience = await statusAudience(socket, this.logger);
    return { notOnWhatsApp, ...(audience ? { audience } : {}) };
  }

  /**
   * For the socket's getMessage option: serves recipients' retry requests for
   * recent statuses. Baileys relays what this returns with the same message id,
   * and that relay's ack would be indistinguishable from a batch's; so it waits
   * until no stanza of the id is in doubt and announces the relay to the ledger.
   */
  getMessage = async (key: MessageKeyLike): Promise<WAMessageContent | undefined> => {
    const sent = this.store.get(key);
    if (!sent || !key.id) return undefined;
    const socket = this.options.sockets.get(sent.sessionId)?.socket;
    if (socket) await this.ledgerFor(socket, sent.sessionId).expectForeign(key.id);
    return sent.content;
  };

  private async untilAckOrGiveUp(outcome: Promise<void>, signal: AbortSignal): Promise<void> {
    const { ackTimeoutMs } = this.options;
    if (ackTimeoutMs === undefined) return untilAborted(outcome, signal);
    const expired = () => new TransportError('TIMEOUT', `no ack from WhatsApp within ${ackTimeoutMs} ms`);
    await untilAborted(withinDeadline(this.clock, ackTimeoutMs, outcome, expired), signal);
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
      if (!entry || !isReconnecting(entry.state)) return this.socketFor(sessionId);
      try {
        await this.clock.sleep(RECONNECT_POLL_MS, signal);
      } catch {
        // Told to stop while the session reconnects: that is why this call took so long, not its size.
        throw new TransportError('DISCONNECTED', `session "${sessionId}" was reconnecting for the whole call`);
      }
    }
  }

  private socketFor(sessionId: string): WASocketLike {
    const entry = this.options.sockets.get(sessionId);
    if (!entry) throw new TransportError('SESSION_NOT_FOUND', `no WhatsApp session "${sessionId}"`);
    if (entry.state !== 'open' || !entry.socket) throw notConnected(sessionId, entry);
    return entry.socket;
  }

  private ledgerFor(socket: WASocketLike, sessionId: string): AckLedger {
    let ledger = this.ledgers.get(socket);
    if (!ledger) {
      ledger = new AckLedger(socket, {
        clock: this.clock,
        logger: this.logger.child({ sessionId }),
        quietMs: this.options.ackQuietMs ?? DEFAULT_ACK_QUIET_MS,
        onLate: (messageId, outcome) => {
          const key = lateKey(sessionId, messageId);
          this.late.set(key, [...(this.late.get(key) ?? []), outcome]);
        },
      });
      this.ledgers.set(socket, ledger);
    }
    return ledger;
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

function lateKey(sessionId: string, messageId: string): string {
  return `${sessionId}\n${messageId}`;
}

/**
 * Whether a relay that threw may still have put its frame on the wire: Baileys'
 * sendRawMessage rejects with a 408 when the socket's write callback is slow,
 * after the bytes were handed to it. Everything else fails before the write.
 */
function mayHaveWritten(error: unknown): boolean {
  const status = (error as { output?: { statusCode?: unknown } } | null)?.output?.statusCode;
  return status === 408;
}

/** The error a send gets from a session that cannot send: fatal, and as specific as the state allows. */
function notConnected(sessionId: string, entry: SessionEntry): TransportError {
  const why = entry.reason ? `: ${entry.reason}` : '';
  switch (entry.state) {
    case 'logged-out':
      return new TransportError('LOGGED_OUT', `session "${sessionId}" is logged out${why || '; pair it again'}`);
    case 'forbidden':
    case 'banned':
      return new TransportError('FORBIDDEN', `WhatsApp refused session "${sessionId}"${why}`);
    default:
      return new TransportError('SESSION_NOT_CONNECTED', `session "${sessionId}" is ${entry.state}, not connected${why}`);
  }
}
