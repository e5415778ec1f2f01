/**
 * FakeWhatsApp: a scripted WhatsApp server on 127.0.0.1 that a real Baileys
 * 6.17 socket (makeWASocket, `waWebSocketUrl: server.url`) logs in to.
 *
 * WHAT IT MODELS
 * - The server half of the noise XX handshake (a throwaway static key, a
 *   certificate with issuerSerial WA_CERT_DETAILS.SERIAL, which is all Baileys
 *   checks) and the encrypted, length-prefixed frames after it (noise-server.ts).
 * - Login of already linked credentials (creds.ts): `<success t lid>` and then
 *   `<ib><offline count="0"/>`, so the socket reaches 'open' and stops
 *   buffering events. The account's own user joins the directory with devices
 *   [0, its own device].
 * - Every query Baileys makes on connect: prekey count (`preKeyCount`; 5 or
 *   less makes it upload 30, recorded in `preKeyUploads`), passive, props,
 *   blocklist, privacy (`privacy`), ping. Any other iq gets an empty result.
 * - usync device and contact lookups and prekey fetches from `directory`, with
 *   real bundles per fake device (keys.ts): libsignal sessions really get built
 *   and what Baileys encrypts really decrypts (`decrypt`).
 * - Message stanzas: decoded, recorded in `stanzas` (participants and their
 *   pkmsg/msg, skmsg, device-identity) and acked per the `acks` script: at
 *   once, late, with an error, twice, never, or held until released.
 * - Server-sent frames on demand: acks, delivery/read/retry receipts, any node,
 *   `<failure>`, `<stream:error>`, `<xmlstreamend>`, a dropped connection, and
 *   a server that stops reading (`pauseReading`).
 * - Per-xmlns delays and errors for queries (`delays`, `queryErrors`), refused
 *   logins (`loginFailure`).
 *
 * WHAT IT CANNOT MODEL
 * - Linking a new device (QR or pairing code): a login without `me` is
 *   answered `<failure reason="401"/>`.
 * - Any server-side judgement: it accepts whatever it is sent. No check of the
 *   ClientPayload, device identity or phash; no status-privacy filtering of
 *   statusJidList (the privacy setting is only reported); no size, rate or
 *   spam limits. Errors (acks with error=, prekey `<error>`, failures) happen
 *   only when a test scripts them, with whatever code the test picks: which
 *   codes WhatsApp really sends, and when, is not known here.
 * - Recipients: nothing is fanned out to anyone. Fake devices never send
 *   delivery/read receipts or retries by themselves; a test sends them.
 * - WhatsApp's exact answers where they are not public: device lookups go by
 *   exact JID (an alias spelling has no devices), unknown devices get a 404
 *   `<error>` in prekey fetches, acks carry only class/id/from/t/error.
 * - LID addressing, groups, media upload (`media_conn` gets an empty result,
 *   so waUploadToServer fails), app-state and history sync, offline message
 *   delivery, notifications, calls, edge routing, dirty bits.
 * - A second login of the same account does not replace the first; send
 *   `sendStreamError({ reason: 'conflict', attrs: { type: 'replaced' } })`.
 * - Network timing: loopback has no latency or bandwidth limit beyond what
 *   `delays`, ack delays and `pauseReading` add. `pauseReading` stalls the
 *   client's write callbacks only once the kernel's TCP buffers are full (a
 *   few MB on loopback): fill the pipe first (see test/baileys-wire.test.ts).
 */
import { EventEmitter } from 'node:events';
import { WebSocketServer } from 'ws';
import { AckScript, type AckPlan } from './acks.js';
import { B, STATUS_JID, child, children, iqResult, unixSeconds, userOf, type BinaryNode } from './baileys.js';
import { ClientConnection } from './connection.js';
import { Directory, type FakeUserOptions } from './directory.js';
import type { DecryptedMessage } from './keys.js';
import {
  ackNode,
  failureNode,
  readStanza,
  receiptNode,
  retryReceiptNode,
  streamErrorNode,
  type ReceiptOptions,
  type RecordedStanza,
  type RetryReceiptOptions,
} from './stanzas.js';

export interface FakeWhatsAppOptions {
  /** Users on WhatsApp: number -> options, or just its device ids. */
  users?: Record<string, FakeUserOptions | number[]>;
  /** What any number not in `users` is (default: not on WhatsApp). */
  everyone?: FakeUserOptions;
  /** Privacy categories fetchPrivacySettings reads (merged over WhatsApp-like defaults). */
  privacy?: Record<string, string>;
  /** What the prekey-count query answers (default 30; 5 or less makes Baileys upload 30). */
  preKeyCount?: number;
  /** Wait before `<success>` (Baileys switches to transport keys without awaiting it; default 15 ms). */
  successDelayMs?: number;
  /** The `lid` attribute of `<success>` (default 200000000000001:<device>@lid). */
  lid?: string;
}

export interface HeldAck {
  readonly stanza: RecordedStanza;
  readonly error?: string | number;
}

type ClientPayload = ReturnType<typeof B.proto.ClientPayload.decode>;

export class FakeWhatsApp {
  readonly directory = new Directory();
  readonly acks = new AckScript();
  readonly stanzas: RecordedStanza[] = [];
  /** Every node any client wrote after its handshake, in order. */
  readonly received: { readonly connection: number; readonly node: BinaryNode }[] = [];
  readonly connections: ClientConnection[] = [];
  readonly logins: { readonly connection: number; readonly jid?: string; readonly passive: boolean }[] = [];
  /** Prekeys uploaded per upload query. */
  readonly preKeyUploads: number[] = [];
  readonly held: HeldAck[] = [];
  privacy: Record<string, string>;
  preKeyCount: number;
  successDelayMs: number;
  /** Delay the answer to every iq of this xmlns ('encrypt': prekey fetches and counts, 'usync': device/contact lookups, …). */
  delays: Record<string, number> = {};
  /** Answer every iq of this xmlns with `<iq type="error"><error code text/></iq>`. */
  queryErrors: Record<string, { code: number | string; text?: string }> = {};
  /** When set, logins are answered `<failure reason=…/>` instead of `<success>`. */
  loginFailure: string | number | undefined;
  private readonly changes = new EventEmitter();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly decrypted = new Map<string, Promise<DecryptedMessage>>();
  private readonly serverStatic = B.Curve.generateKeyPair();

  private constructor(
    private readonly wss: WebSocketServer,
    readonly url: string,
    private readonly options: FakeWhatsAppOptions,
  ) {
    for (const [user, o] of Object.entries(options.users ?? {})) this.directory.set(user, o);
    this.directory.fallback = options.everyone;
    this.privacy = {
      readreceipts: 'all',
      last: 'all',
      online: 'all',
      profile: 'all',
      status: 'contacts',
      groupadd: 'all',
      calladd: 'all',
      ...options.privacy,
    };
    this.preKeyCount = options.preKeyCount ?? 30;
    this.successDelayMs = options.successDelayMs ?? 15;
    this.changes.setMaxListeners(0);
    wss.on('connection', (ws) => {
      const conn = new ClientConnection(this.connections.length, ws, this.serverStatic, {
        login: (c, payload) => this.login(c, payload),
        node: (c, node) => this.node(c, node),
        closed: () => this.changed(),
      });
      this.connections.push(conn);
      this.changed();
    });
  }

  static async start(options: FakeWhatsAppOptions = {}): Promise<FakeWhatsApp> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve, reject) => wss.once('listening', resolve).once('error', reject));
    const { port } = wss.address() as { port: number };
    return new FakeWhatsApp(wss, `ws://127.0.0.1:${port}/ws/chat`, options);
  }

  /** The newest connection. */
  get connection(): ClientConnection | undefined {
    return this.connections.at(-1);
  }

  /** Resolves with check()'s first truthy result, re-checked whenever anything arrives or changes. */
  waitFor<T>(check: () => T | undefined | null | false, timeoutMs = 3000, what = 'condition'): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const test = () => {
        const value = check();
        if (!value) return false;
        cleanup();
        resolve(value);
        return true;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`fake WhatsApp: timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.changes.off('change', test);
      };
      if (!test()) this.changes.on('change', test);
    });
  }

  /** The index-th message stanza (0-based, in arrival order). */
  waitForStanza(index: number, timeoutMs = 3000): Promise<RecordedStanza> {
    return this.waitFor(() => this.stanzas[index], timeoutMs, `message stanza #${index}`);
  }

  /** The first node a client wrote after `from` (an index into `received`) that matches. */
  waitForNode(match: (node: BinaryNode) => boolean, { from = 0, timeoutMs = 3000 } = {}): Promise<BinaryNode> {
    return this.waitFor(() => this.received.slice(from).find((r) => match(r.node))?.node, timeoutMs, 'a matching client node');
  }

  /** Sends a node to the newest connection; false when it is not open. */
  send(node: BinaryNode): boolean {
    return this.connection?.send(node) ?? false;
  }

  /** An ack for `id` now, on the newest connection (from: the last stanza with that id's `to`, else status@broadcast). */
  sendAck(id: string, { error, from }: { error?: string | number; from?: string } = {}): boolean {
    const to = from ?? this.stanzas.findLast((s) => s.id === id)?.to ?? STATUS_JID;
    return this.send(ackNode(id, to, error));
  }

  /** Sends a held ack (the first held for `id`, or the oldest held), on the connection its stanza came on. */
  releaseAck(id?: string, override?: { error?: string | number }): boolean {
    const at = this.held.findIndex((h) => id === undefined || h.stanza.id === id);
    if (at < 0) throw new Error(`fake WhatsApp: no held ack${id === undefined ? '' : ` for ${id}`}`);
    const [h] = this.held.splice(at, 1);
    const error = override && 'error' in override ? override.error : h!.error;
    return this.connections[h!.stanza.connection]?.send(ackNode(h!.stanza.id, h!.stanza.to, error)) ?? false;
  }

  /** Releases every held ack, oldest first. */
  releaseAll(): void {
    while (this.held.length) this.releaseAck();
  }

  /** A delivery (no type) or read/played receipt from a participant, as WhatsApp relays it. */
  sendReceipt(receipt: ReceiptOptions): boolean {
    return this.send(receiptNode(receipt));
  }

  /** A retry receipt: the participant's device could not decrypt and asks for the message again. */
  sendRetryReceipt(retry: RetryReceiptOptions): boolean {
    const registrationId = retry.registrationId ?? this.directory.keys.get(retry.participant)?.registrationId ?? 0;
    return this.send(retryReceiptNode({ ...retry, registrationId }));
  }

  /** `<failure reason=…/>` (Baileys closes with that status code: 401 logged out, 403 forbidden, 402, …). */
  sendFailure(reason: string | number, attrs?: Record<string, string>): boolean {
    return this.send(failureNode(reason, attrs));
  }

  /** `<stream:error>`: e.g. { code: 515 } (restart required) or { reason: 'conflict', attrs: { type: 'replaced' } }. */
  sendStreamError(error: { code?: string | number; reason?: string; attrs?: Record<string, string> }): boolean {
    return this.send(streamErrorNode(error));
  }

  /** `<xmlstreamend/>`: the server ending the stream (Baileys: "Connection Terminated by Server"). */
  sendStreamEnd(): boolean {
    return this.send({ tag: 'xmlstreamend', attrs: {} });
  }

  /** Closes the newest connection from the server side. */
  drop(options?: { abrupt?: boolean; code?: number }): void {
    this.connection?.close(options);
  }

  /** Stops/starts reading the newest connection's TCP stream (see index.ts on what this can and cannot model). */
  pauseReading(): void {
    this.connection?.pause();
  }

  resumeReading(): void {
    this.connection?.resume();
  }

  /**
   * Decrypts a recorded stanza as `deviceJid` would, with that fake device's
   * keys and Baileys' own receive path. Each (stanza, device) is decrypted once
   * and remembered: Signal refuses to decrypt the same message twice.
   */
  decrypt(stanza: RecordedStanza, deviceJid: string): Promise<DecryptedMessage> {
    const key = `${stanza.index}|${deviceJid}`;
    let result = this.decrypted.get(key);
    if (!result) {
      const device = this.directory.keys.get(deviceJid);
      if (!device) return Promise.reject(new Error(`fake WhatsApp: ${deviceJid} never handed out keys`));
      const enc = stanza.participants.find((p) => p.jid === deviceJid)?.enc;
      result = device.decrypt({
        id: stanza.id,
        sender: stanza.sender,
        from: STATUS_JID,
        ...(enc ? { enc } : {}),
        ...(stanza.skmsg ? { skmsg: stanza.skmsg } : {}),
      });
      this.decrypted.set(key, result);
    }
    return result;
  }

  async stop(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const conn of this.connections) if (!conn.closed) conn.close({ abrupt: true });
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private later(ms: number, work: () => void): void {
    if (ms <= 0) {
      work();
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      work();
    }, ms);
    this.timers.add(timer);
  }

  private changed(): void {
    this.changes.emit('change');
  }

  private login(conn: ClientConnection, payload: ClientPayload): void {
    this.logins.push({ connection: conn.id, ...(conn.jid ? { jid: conn.jid } : {}), passive: !!payload.passive });
    this.changed();
    // Linking a new device (QR / pairing code) is not modelled.
    const failure = conn.jid ? this.loginFailure : 401;
    if (failure !== undefined) return void conn.send(failureNode(failure));
    const user = userOf(conn.jid!);
    const device = B.jidDecode(conn.jid!)?.device ?? 0;
    if (!this.directory.has(user)) this.directory.set(user, { devices: [...new Set([0, device])] });
    this.later(this.successDelayMs, () => {
      const t = unixSeconds();
      conn.send({
        tag: 'success',
        attrs: { t, props: '1', location: 'frc', creation: t, lid: this.options.lid ?? `200000000000001:${device}@lid` },
      });
      conn.send({ tag: 'ib', attrs: {}, content: [{ tag: 'offline', attrs: { count: '0' } }] });
    });
  }

  private node(conn: ClientConnection, node: BinaryNode): void {
    this.received.push({ connection: conn.id, node });
    if (node.tag === 'iq') this.iq(conn, node);
    else if (node.tag === 'message') this.message(conn, node);
    this.changed();
  }

  private message(conn: ClientConnection, node: BinaryNode): void {
    const stanza = readStanza(node, this.stanzas.length, conn.id, conn.jid ?? '');
    const plan: AckPlan = this.acks.take(stanza.id);
    stanza.ack = plan;
    this.stanzas.push(stanza);
    const ack = () => conn.send(ackNode(stanza.id, stanza.to, 'error' in plan ? plan.error : undefined));
    if (plan.kind === 'hold') this.held.push({ stanza, ...(plan.error !== undefined ? { error: plan.error } : {}) });
    else if (plan.kind === 'ack') this.later(plan.delayMs ?? 0, ack);
    else if (plan.kind === 'duplicate') {
      this.later(plan.delayMs ?? 0, () => {
        ack();
        this.later(plan.gapMs ?? 0, ack);
      });
    }
  }

  private iq(conn: ClientConnection, node: BinaryNode): void {
    const { xmlns = '', type } = node.attrs;
    if (type === 'result' || type === 'error') return;
    const error = this.queryErrors[xmlns];
    const reply = error
      ? {
          tag: 'iq',
          attrs: { id: node.attrs.id ?? '', type: 'error', from: 's.whatsapp.net' },
          content: [{ tag: 'error', attrs: { code: String(error.code), text: error.text ?? 'error' } }],
        }
      : this.answer(node);
    this.later(this.delays[xmlns] ?? 0, () => conn.send(reply));
  }

  private answer(iq: BinaryNode): BinaryNode {
    const { xmlns, type } = iq.attrs;
    if (xmlns === 'encrypt' && type === 'get' && child(iq, 'count'))
      return iqResult(iq, [{ tag: 'count', attrs: { value: String(this.preKeyCount) } }]);
    if (xmlns === 'encrypt' && type === 'get' && child(iq, 'key')) return this.directory.preKeys(iq);
    if (xmlns === 'encrypt' && type === 'set') {
      const uploaded = children(child(iq, 'list'), 'key').length;
      this.preKeyUploads.push(uploaded);
      this.preKeyCount += uploaded;
    }
    if (xmlns === 'usync') return this.directory.usync(iq);
    if (xmlns === 'privacy' && type === 'get') {
      return iqResult(iq, [
        {
          tag: 'privacy',
          attrs: {},
          content: Object.entries(this.privacy).map(([name, value]) => ({ tag: 'category', attrs: { name, value } })),
        },
      ]);
    }
    if (xmlns === 'privacy' && type === 'set') {
      for (const { attrs } of children(child(iq, 'privacy'), 'category'))
        if (attrs.name && attrs.value) this.privacy[attrs.name] = attrs.value;
    }
    if (xmlns === 'w' && child(iq, 'props')) return iqResult(iq, [{ tag: 'props', attrs: { protocol: '2' }, content: [] }]);
    if (xmlns === 'blocklist' && type === 'get') return iqResult(iq, [{ tag: 'list', attrs: {}, content: [] }]);
    return iqResult(iq);
  }
}
