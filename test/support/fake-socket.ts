/**
 * A stand-in for a Baileys socket with exactly the surface the transport uses,
 * emitting what real Baileys 6.17 emits: every incoming frame goes out on `ws`
 * under 'frame', 'TAG:<id>' and the 'CB:<tag>,<attr>:<value>' family
 * (Socket/socket.js onMessageReceived), and an ack carrying `error` is also
 * turned into a messages.update with status ERROR (Socket/messages-recv.js
 * handleBadAck). A good ack produces no ev event at all, as in Baileys.
 */
import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import { Boom } from '@hapi/boom';
import { DisconnectReason, WAMessageStatus } from '@whiskeysockets/baileys';
import type { Clock } from '../../src/clock.js';
import type { BinaryNodeLike, RelayOptions, SessionEntry, SessionSockets, WASocketLike } from '../../src/transport/baileys/socket.js';
import type { SessionStateName } from '../../src/transport/sessions.js';

/**
 * What one relayMessage call does. `writeAfterMs` is the time Baileys spends
 * before the stanza goes out (device lookup, prekeys, encryption, the key
 * commit): relayMessage resolves then, and the ack's `afterMs` counts from there.
 */
export type Outcome =
  | { readonly kind: 'ack'; readonly afterMs?: number; readonly writeAfterMs?: number }
  | { readonly kind: 'error-ack'; readonly code: string; readonly afterMs?: number; readonly writeAfterMs?: number }
  | { readonly kind: 'throw'; readonly error: unknown }
  /** The frame went out, then relayMessage rejected (a slow write callback is a 408); the ack still comes. */
  | { readonly kind: 'throw-after-write'; readonly error: unknown; readonly afterMs: number; readonly code?: string }
  /** Written, never acked (a lost ack). */
  | { readonly kind: 'silent'; readonly writeAfterMs?: number };

export interface RelayCall {
  readonly jid: string;
  readonly message: unknown;
  readonly opts: RelayOptions;
}

/** A Boom exactly as Baileys builds one (Baileys depends on @hapi/boom; it is not ours to declare). */
export function boom(message: string, options: { statusCode?: number; data?: unknown } = {}): Error {
  return new Boom(message, options);
}

export class FakeSocket implements WASocketLike {
  readonly ws = new EventEmitter();
  readonly ev = new EventEmitter();
  readonly calls: RelayCall[] = [];
  uploads = 0;
  uploadedBytes = 0;
  user: { id: string } | undefined = { id: '15559990000:7@s.whatsapp.net' };
  private readonly script: Outcome[] = [];

  constructor(
    private readonly clock: Clock,
    /** What calls get once the script runs out. */
    private readonly fallback: Outcome = { kind: 'ack', afterMs: 50 },
    /** The socket config's getMessage, which Baileys calls to answer a retry request. */
    private readonly getMessage?: (key: { remoteJid: string; id: string }) => Promise<unknown>,
  ) {}

  /** Outcomes for the next relay calls, in order. */
  next(...outcomes: Outcome[]): this {
    this.script.push(...outcomes);
    return this;
  }

  readonly waUploadToServer = async (stream: Readable, _opts: { fileEncSha256B64: string; mediaType: string }) => {
    this.uploads++;
    for await (const chunk of stream) this.uploadedBytes += (chunk as Buffer).length;
    return { mediaUrl: `https://mmg.whatsapp.net/fake/${this.uploads}`, directPath: `/fake/${this.uploads}` };
  };

  async relayMessage(jid: string, message: unknown, opts: RelayOptions): Promise<string> {
    const outcome = this.script.shift() ?? this.fallback;
    // Baileys does device lookups and encryption before writing the stanza.
    await Promise.resolve();
    if (outcome.kind === 'throw') throw outcome.error;
    if ('writeAfterMs' in outcome && outcome.writeAfterMs) await this.clock.sleep(outcome.writeAfterMs);
    this.calls.push({ jid, message, opts: { ...opts, statusJidList: [...opts.statusJidList] } });
    if (outcome.kind === 'throw-after-write') {
      void this.clock.sleep(outcome.afterMs).then(() => this.ack(opts.messageId, outcome.code));
      throw outcome.error;
    }
    if (outcome.kind === 'ack' || outcome.kind === 'error-ack') {
      const error = outcome.kind === 'error-ack' ? outcome.code : undefined;
      void this.clock.sleep(outcome.afterMs ?? 0).then(() => this.ack(opts.messageId, error));
    }
    return opts.messageId;
  }

  /**
   * A recipient's phone could not decrypt the status and asks for it again:
   * Baileys (messages-recv.js sendMessagesAgain) fetches it with getMessage and
   * relays it to status@broadcast with the same id; the server acks that relay
   * like any other. Resolves once that relay is written.
   */
  async retryRequest(id: string, ackAfterMs = 10): Promise<boolean> {
    const message = await this.getMessage?.({ remoteJid: 'status@broadcast', id });
    if (!message) return false;
    this.retryRelays++;
    void this.clock.sleep(ackAfterMs).then(() => this.ack(id));
    return true;
  }

  /** Relays Baileys made by itself for retry requests. */
  retryRelays = 0;

  /** Delivers a server ack for a status, as the wire would. */
  ack(id: string, error?: string): void {
    const attrs: Record<string, string> = { class: 'message', id, from: 'status@broadcast', t: '1700000000', ...(error ? { error } : {}) };
    this.receive({ tag: 'ack', attrs });
    if (error) {
      const key = { remoteJid: 'status@broadcast', fromMe: true, id };
      this.ev.emit('messages.update', [{ key, update: { status: WAMessageStatus.ERROR, messageStubParameters: [error] } }]);
    }
  }

  /** The socket closes: Baileys emits connection.update with the Boom that ended it. */
  close(error: Error = boom('Connection Closed', { statusCode: DisconnectReason.connectionClosed })): void {
    this.ev.emit('connection.update', { connection: 'close', lastDisconnect: { error, date: new Date() } });
  }

  private receive(frame: BinaryNodeLike): void {
    this.ws.emit('frame', frame);
    this.ws.emit(`TAG:${frame.attrs.id}`, frame);
    for (const [key, value] of Object.entries(frame.attrs)) {
      this.ws.emit(`CB:${frame.tag},${key}:${value},`, frame);
      this.ws.emit(`CB:${frame.tag},${key}:${value}`, frame);
      this.ws.emit(`CB:${frame.tag},${key}`, frame);
    }
    this.ws.emit(`CB:${frame.tag},,`, frame);
    this.ws.emit(`CB:${frame.tag}`, frame);
  }
}

/** Sessions by id, with a state each; the transport only reads them. */
export class FakeSessions implements SessionSockets {
  readonly entries = new Map<string, SessionEntry>();

  set(sessionId: string, state: SessionStateName, socket?: WASocketLike): this {
    this.entries.set(sessionId, socket ? { state, socket } : { state });
    return this;
  }

  get(sessionId: string): SessionEntry | undefined {
    return this.entries.get(sessionId);
  }
}
