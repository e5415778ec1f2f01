/**
 * A real Baileys 6.17 socket (makeWASocket through the production
 * baileysSocketFactory) against FakeWhatsApp, the scripted server double in
 * ./support/wa-server: noise handshake, login, usync, real prekey bundles and
 * libsignal encryption, the key-store commit, acks, receipts and retries, all
 * over a WebSocket on 127.0.0.1. See ./support/wa-server/server.ts for what the
 * double models and what it cannot.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { proto, WAMessage, WASocket } from '@whiskeysockets/baileys';
import { pino } from 'pino';
import { baileysSocketFactory, type ExtraSocketConfig } from '../src/transport/baileys/socket-factory.js';
import {
  FakeWhatsApp,
  baileys as B,
  errorAck,
  fillPipe,
  hold,
  duplicate,
  lost,
  makeRegisteredAuth,
  STATUS_JID,
  type BinaryNode,
  type FakeWhatsAppOptions,
  type RegisteredAuth,
} from './support/wa-server/index.js';

const jid = (user: string, device = 0) => B.jidEncode(user, 's.whatsapp.net', device || undefined);
const A = '15551230001';
const BB = '15551230002'; // two devices: the phone and a linked device 2
const NOBODY = '15551230003'; // not on WhatsApp
const D = '15551230004';
const E = '15551230005';
const users = { [A]: [0], [BB]: [0, 2], [D]: [0], [E]: [0, 1] };
const quiet = pino({ level: 'silent' });

interface Rig {
  server: FakeWhatsApp;
  sock: WASocket;
  auth: RegisteredAuth;
  getMessage: ReturnType<typeof vi.fn<(key: proto.IMessageKey) => Promise<proto.IMessage | undefined>>>;
  updates: Partial<{ connection: string; lastDisconnect: { error?: { output?: { statusCode?: number } } } }>[];
}

const rigs: Rig[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const { sock, server } of rigs.splice(0)) {
    sock.end(undefined);
    await server.stop();
  }
});

/** A fake server and a logged-in real socket made by the production factory, open. */
async function connect(options: FakeWhatsAppOptions = {}, socketConfig: ExtraSocketConfig = {}): Promise<Rig> {
  const server = await FakeWhatsApp.start({ users, ...options });
  const auth = makeRegisteredAuth();
  const getMessage = vi.fn<(key: proto.IMessageKey) => Promise<proto.IMessage | undefined>>(async () => undefined);
  const factory = baileysSocketFactory((key) => getMessage(key), {
    waWebSocketUrl: server.url,
    connectTimeoutMs: 3_000,
    defaultQueryTimeoutMs: 3_000,
    logger: quiet as never,
    ...socketConfig,
  });
  const sock = factory({ auth: auth.state, logger: quiet, sessionId: 's1' }) as unknown as WASocket;
  const rig: Rig = { server, sock, auth, getMessage, updates: [] };
  rigs.push(rig);
  await new Promise<void>((resolve, reject) => {
    sock.ev.on('connection.update', (update) => {
      rig.updates.push(update as Rig['updates'][number]);
      if (update.connection === 'open') resolve();
      if (update.connection === 'close') reject(update.lastDisconnect?.error ?? new Error('closed'));
    });
  });
  return rig;
}

async function textStatus(rig: Rig, text: string): Promise<WAMessage> {
  return B.generateWAMessage(STATUS_JID, { text }, { userJid: rig.auth.me, upload: rig.sock.waUploadToServer });
}

/** Every 'CB:ack,class:message' frame the socket's ws emits, as Baileys decoded it. */
function ackFrames(sock: WASocket): BinaryNode[] {
  const frames: BinaryNode[] = [];
  sock.ws.on('CB:ack,class:message', (frame: BinaryNode) => frames.push(frame));
  return frames;
}

const until = (check: () => boolean, ms = 2_000) => vi.waitFor(() => expect(check()).toBe(true), { timeout: ms, interval: 5 });

describe('FakeWhatsApp: login', () => {
  it('a real socket from baileysSocketFactory completes the noise handshake, logs in and reaches open', async () => {
    const { server, sock, auth } = await connect();
    expect(server.logins).toEqual([{ connection: 0, jid: auth.me, passive: false }]);
    // <success lid=…> reached the creds (not sock.user: Baileys' socket layers copy that getter's value when they are built).
    expect(auth.state.creds.me).toMatchObject({ id: auth.me, lid: '200000000000001:7@lid' });
    expect(sock.user?.id).toBe(auth.me);
    // Every connect-time query was answered.
    await server.waitForNode((n) => n.attrs.xmlns === 'privacy');
    const asked = server.received.map(({ node }) => `${node.tag}:${node.attrs.xmlns ?? ''}`);
    expect(asked).toEqual(expect.arrayContaining(['iq:encrypt', 'iq:passive', 'iq:w', 'iq:blocklist', 'iq:privacy']));
    expect(server.preKeyUploads).toEqual([]); // 30 on the server: nothing to upload
  });

  it('uploads prekeys when the server says it is low on them (uploadPreKeysToServerIfRequired)', async () => {
    const { server, auth } = await connect({ preKeyCount: 3 });
    expect(server.preKeyUploads).toEqual([30]);
    expect(auth.store.written('pre-key')).toHaveLength(30);
  });

  it('answers fetchPrivacySettings and onWhatsApp (an alias spelling comes back as WhatsApp’s JID)', async () => {
    const { sock } = await connect({
      users: { '5511987654321': { aliases: ['551187654321'] } },
      privacy: { status: 'contact_blacklist' },
    });
    expect(await sock.fetchPrivacySettings(true)).toMatchObject({ status: 'contact_blacklist', readreceipts: 'all' });
    expect(await sock.onWhatsApp('551187654321@s.whatsapp.net', '5511912345678@s.whatsapp.net')).toEqual([
      { jid: '5511987654321@s.whatsapp.net', exists: true },
    ]);
  });
});

describe('FakeWhatsApp: relaying a status', () => {
  it('gets one participant node per device of each user, none for a user not on WhatsApp, real Signal inside', async () => {
    const rig = await connect();
    const { server, sock } = rig;
    const status = await textStatus(rig, 'hello status');
    const id = status.key.id!;
    await sock.relayMessage(STATUS_JID, status.message!, { messageId: id, statusJidList: [jid(A), jid(BB), jid(NOBODY)] });

    const first = await server.waitForStanza(0);
    expect(first).toMatchObject({ id, to: STATUS_JID, type: 'text', deviceIdentity: true, sender: rig.auth.me });
    expect(first.participants.map((p) => [p.jid, p.type])).toEqual([
      [jid(A), 'pkmsg'],
      [jid(BB), 'pkmsg'],
      [jid(BB, 2), 'pkmsg'],
    ]);
    expect(first.skmsg).toBeDefined();
    // Each fake device decrypts its pkmsg (the sender key) and then the skmsg with Baileys' own receive path.
    for (const device of [jid(A), jid(BB), jid(BB, 2)]) {
      expect((await server.decrypt(first, device)).extendedTextMessage?.text).toBe('hello status');
    }

    // Same id, other users: only their devices get a participant node (the sender key distribution).
    await sock.relayMessage(STATUS_JID, status.message!, { messageId: id, statusJidList: [jid(D), jid(E)] });
    const second = await server.waitForStanza(1);
    expect(second.id).toBe(id);
    expect(second.participants.map((p) => p.jid)).toEqual([jid(D), jid(E), jid(E, 1)]);
    expect((await server.decrypt(second, jid(E, 1))).extendedTextMessage?.text).toBe('hello status');
    // The sender key is the same across both relays: A reads the second skmsg with the key it got in the first.
    expect((await server.decrypt(second, jid(A))).extendedTextMessage?.text).toBe('hello status');
  });

  it('commits the new Signal sessions to the key store in one write (the transaction commit)', async () => {
    const rig = await connect();
    const status = await textStatus(rig, 'commit');
    const before = rig.auth.store.setCalls;
    await rig.sock.relayMessage(STATUS_JID, status.message!, { messageId: status.key.id!, statusJidList: [jid(A), jid(BB), jid(NOBODY)] });
    await rig.server.waitForStanza(0);

    const sessions = rig.auth.store.writes.filter((w) => w.type === 'session');
    expect(sessions.map((w) => w.id).sort()).toEqual([`${A}.0`, `${BB}.0`, `${BB}.2`]);
    // addTransactionCapability: one set() at commit carries every session and our sender key.
    expect(new Set(sessions.map((w) => w.call))).toEqual(new Set([before + 1]));
    expect(rig.auth.store.writes.filter((w) => w.call === before + 1).map((w) => w.type)).toContain('sender-key');
  });

  it('a commit that keeps failing does not fail the relay: the stanza is out and the sessions are not stored', async () => {
    // addTransactionCapability retries maxCommitRetries times, logs, and then carries on without throwing.
    const rig = await connect({}, { transactionOpts: { maxCommitRetries: 2, delayBetweenTriesMs: 10 } });
    const status = await textStatus(rig, 'unsaved');
    const before = rig.auth.store.setCalls;
    rig.auth.store.failWrites = 2;
    await rig.sock.relayMessage(STATUS_JID, status.message!, { messageId: status.key.id!, statusJidList: [jid(A)] });
    expect(rig.auth.store.failedSetCalls).toBe(2);
    expect(rig.auth.store.setCalls).toBe(before);
    expect(rig.auth.store.written('session')).toEqual([]);
    expect((await rig.server.waitForStanza(0)).participants.map((p) => p.jid)).toEqual([jid(A)]);
  });

  it('a per-user <error> in the prekey reply makes relayMessage reject, writes no stanza and keeps no session', async () => {
    const rig = await connect({ users: { ...users, [D]: { preKeyError: { code: 406, text: 'not-acceptable' } } } });
    const status = await textStatus(rig, 'nope');
    const relay = rig.sock.relayMessage(STATUS_JID, status.message!, { messageId: status.key.id!, statusJidList: [jid(A), jid(D)] });
    // Baileys' assertNodeErrorFree: a Boom with the error's text as message and its code as data.
    await expect(relay).rejects.toMatchObject({ isBoom: true, message: 'not-acceptable', data: 406 });
    expect(rig.server.stanzas).toHaveLength(0);
    expect(rig.auth.store.written('session')).toEqual([]); // A's good bundle is not kept either
  });

  it('a slow prekey reply holds relayMessage back (delays per iq xmlns)', async () => {
    const rig = await connect();
    rig.server.delays.encrypt = 300;
    const status = await textStatus(rig, 'slow');
    const started = Date.now();
    await rig.sock.relayMessage(STATUS_JID, status.message!, { messageId: status.key.id!, statusJidList: [jid(A)] });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });
});

describe('FakeWhatsApp: acks', () => {
  async function relay(rig: Rig, statusJidList: string[], text = 'ack me') {
    const status = await textStatus(rig, text);
    await rig.sock.relayMessage(STATUS_JID, status.message!, { messageId: status.key.id!, statusJidList });
    return status;
  }

  it('an ack with error 479 reaches the socket as CB:ack,class:message and as a messages.update ERROR', async () => {
    const rig = await connect();
    const frames = ackFrames(rig.sock);
    const updates: unknown[] = [];
    rig.sock.ev.on('messages.update', (u) => updates.push(...u));
    rig.server.acks.next(errorAck(479));
    const status = await relay(rig, [jid(A)]);
    await until(() => frames.length === 1);
    expect(frames[0]!.attrs).toMatchObject({ class: 'message', id: status.key.id, from: STATUS_JID, error: '479' });
    await until(() => updates.length === 1);
    expect(updates[0]).toMatchObject({
      key: { id: status.key.id, fromMe: true },
      update: { status: B.WAMessageStatus.ERROR, messageStubParameters: ['479'] },
    });
  });

  it('held acks come only when released, in the order the test releases them', async () => {
    const rig = await connect();
    const frames = ackFrames(rig.sock);
    rig.server.acks.next(hold, hold);
    const one = await relay(rig, [jid(A)], 'one');
    const two = await relay(rig, [jid(D)], 'two');
    await rig.server.waitForStanza(1);
    // Frames arrive in order on one connection: once a later ack is in, nothing held slipped out before it.
    rig.server.sendAck('FLUSH');
    await until(() => frames.some((f) => f.attrs.id === 'FLUSH'));
    expect(frames.filter((f) => f.attrs.id !== 'FLUSH')).toHaveLength(0);
    frames.length = 0;
    expect(rig.server.held.map((h) => h.stanza.id)).toEqual([one.key.id, two.key.id]);

    rig.server.releaseAck(two.key.id!);
    rig.server.releaseAck(one.key.id!, { error: 421 });
    await until(() => frames.length === 2);
    expect(frames.map((f) => [f.attrs.id, f.attrs.error])).toEqual([
      [two.key.id, undefined],
      [one.key.id, '421'],
    ]);
  });

  it('a duplicated ack arrives twice, a lost one never, a late one after its delay', async () => {
    const rig = await connect();
    const frames = ackFrames(rig.sock);
    rig.server.acks.next(duplicate(20), lost, { kind: 'ack', delayMs: 150 });
    const dup = await relay(rig, [jid(A)], 'dup');
    const gone = await relay(rig, [jid(A)], 'gone');
    const late = await relay(rig, [jid(A)], 'late');
    const sent = Date.now();
    await until(() => frames.length === 3);
    expect(Date.now() - sent).toBeGreaterThanOrEqual(100);
    expect(frames.map((f) => f.attrs.id)).toEqual([dup.key.id, dup.key.id, late.key.id]);
    expect(frames.some((f) => f.attrs.id === gone.key.id)).toBe(false);
    // And a test can inject an ack of its own at any time.
    rig.server.sendAck(gone.key.id!, { error: 500 });
    await until(() => frames.length === 4);
    expect(frames[3]!.attrs).toMatchObject({ id: gone.key.id, error: '500' });
  });
});

describe('FakeWhatsApp: receipts and retries', () => {
  it('delivery and read receipts from a participant become message-receipt.update, and Baileys acks them', async () => {
    const rig = await connect();
    const receipts: { key: proto.IMessageKey; receipt: proto.IUserReceipt }[] = [];
    rig.sock.ev.on('message-receipt.update', (u) => receipts.push(...u));
    const status = await textStatus(rig, 'seen?');
    const id = status.key.id!;
    await rig.sock.relayMessage(STATUS_JID, status.message!, { messageId: id, statusJidList: [jid(A)] });
    const mark = rig.server.received.length;
    // One at a time: receipts Baileys handles concurrently are merged into one update by its event buffer.
    rig.server.sendReceipt({ id, participant: jid(A), t: 1_700_000_001 });
    await until(() => receipts.length === 1);
    rig.server.sendReceipt({ id, participant: jid(A), type: 'read', t: 1_700_000_002 });
    await until(() => receipts.length === 2);
    expect(receipts).toEqual([
      {
        key: { remoteJid: STATUS_JID, id, fromMe: true, participant: jid(A) },
        receipt: { userJid: jid(A), receiptTimestamp: 1_700_000_001 },
      },
      { key: { remoteJid: STATUS_JID, id, fromMe: true, participant: jid(A) }, receipt: { userJid: jid(A), readTimestamp: 1_700_000_002 } },
    ]);
    const acked = await rig.server.waitForNode((n) => n.tag === 'ack' && n.attrs.type === 'read', { from: mark });
    expect(acked.attrs).toMatchObject({ class: 'receipt', id, to: STATUS_JID, participant: jid(A) });
  });

  it('a retry receipt from a linked device makes Baileys call getMessage and re-send the same id to that device', async () => {
    // libsignal logs the session it replaces with console.info; keep it, as proof, off the test output.
    const closing = vi.spyOn(console, 'info').mockImplementation(() => undefined);
    const rig = await connect();
    const status = await textStatus(rig, 'again');
    const id = status.key.id!;
    rig.getMessage.mockResolvedValue(status.message!);
    await rig.sock.relayMessage(STATUS_JID, status.message!, { messageId: id, statusJidList: [jid(A), jid(BB)] });
    await rig.server.waitForStanza(0);

    rig.server.sendRetryReceipt({ id, participant: jid(BB, 2) });
    const again = await rig.server.waitForStanza(1);
    expect(rig.getMessage).toHaveBeenCalledWith({ remoteJid: STATUS_JID, id, fromMe: true, participant: jid(BB, 2) });
    // Fresh prekeys fetched (assertSessions with force), a new pkmsg to that device only, addressed to it.
    expect(again).toMatchObject({ id, to: jid(BB, 2) });
    expect(again.participants.map((p) => [p.jid, p.type])).toEqual([[jid(BB, 2), 'pkmsg']]);
    expect(rig.server.directory.keys.get(jid(BB, 2))?.bundles).toBe(2);
    expect(closing).toHaveBeenCalledWith('Closing session:', expect.anything());
    expect((await rig.server.decrypt(again, jid(BB, 2))).extendedTextMessage?.text).toBe('again');
  });

  it('a retry receipt from a phone (no device in the JID) re-sends to status@broadcast with no participants at all', async () => {
    // Baileys 6.17 sendMessagesAgain: a device-less participant means "send to all", but a status
    // relayed without statusJidList reaches nobody: only the skmsg goes out.
    vi.spyOn(console, 'info').mockImplementation(() => undefined); // libsignal: "Closing session: …"
    const rig = await connect();
    const status = await textStatus(rig, 'phone');
    const id = status.key.id!;
    rig.getMessage.mockResolvedValue(status.message!);
    await rig.sock.relayMessage(STATUS_JID, status.message!, { messageId: id, statusJidList: [jid(A)] });
    await rig.server.waitForStanza(0);
    rig.server.sendRetryReceipt({ id, participant: jid(A) });
    const again = await rig.server.waitForStanza(1);
    expect(again).toMatchObject({ id, to: STATUS_JID, participants: [] });
    expect(again.skmsg).toBeDefined();
  });
});

describe('FakeWhatsApp: the server ending the connection', () => {
  const closedWith = async (rig: Rig) => {
    await until(() => rig.updates.some((u) => u.connection === 'close'));
    return rig.updates.find((u) => u.connection === 'close')!.lastDisconnect?.error?.output?.statusCode;
  };

  it('<failure reason="402"> closes the socket with status 402', async () => {
    const rig = await connect();
    rig.server.sendFailure(402);
    expect(await closedWith(rig)).toBe(402);
  });

  it('<stream:error code="515"> closes it with 515 (restart required); a conflict with 440', async () => {
    const rig = await connect();
    rig.server.sendStreamError({ code: 515 });
    expect(await closedWith(rig)).toBe(515);
    const other = await connect();
    other.server.sendStreamError({ reason: 'conflict', attrs: { type: 'replaced' } });
    expect(await closedWith(other)).toBe(B.DisconnectReason.connectionReplaced);
  });

  it('a dropped connection closes it with 428 (connection closed)', async () => {
    const rig = await connect();
    rig.server.drop({ abrupt: true });
    expect(await closedWith(rig)).toBe(B.DisconnectReason.connectionClosed);
  });

  it('a login the server refuses never opens', async () => {
    const server = await FakeWhatsApp.start({ users });
    server.loginFailure = 401;
    const auth = makeRegisteredAuth();
    const sock = B.makeWASocket({ auth: auth.state, waWebSocketUrl: server.url, logger: quiet as never, connectTimeoutMs: 3_000 });
    rigs.push({ server, sock, auth, getMessage: vi.fn(), updates: [] });
    const closed = await new Promise<number | undefined>((resolve) =>
      sock.ev.on('connection.update', (u) => {
        if (u.connection === 'close')
          resolve((u.lastDisconnect?.error as { output?: { statusCode?: number } } | undefined)?.output?.statusCode);
      }),
    );
    expect(closed).toBe(B.DisconnectReason.loggedOut);
    expect(server.logins).toHaveLength(1);
  });
});

describe('FakeWhatsApp: a server that stops reading', () => {
  /** Writes 1 MiB filler nodes until one is not flushed within 100 ms: the loopback TCP buffers are full. */

  it('stalls the write callback: Baileys rejects the relay with 408 after connectTimeoutMs, yet the stanza arrives later', async () => {
    const rig = await connect({}, { connectTimeoutMs: 400 });
    const warm = await textStatus(rig, 'warm');
    await rig.sock.relayMessage(STATUS_JID, warm.message!, { messageId: warm.key.id!, statusJidList: [jid(A)] });
    await rig.server.waitForStanza(0); // A's devices are cached and its session exists: the next relay makes no query

    rig.server.pauseReading();
    await fillPipe(rig.sock);
    const status = await textStatus(rig, 'stuck');
    const relay = rig.sock.relayMessage(STATUS_JID, status.message!, { messageId: status.key.id!, statusJidList: [jid(A)] });
    await expect(relay).rejects.toMatchObject({ message: 'Timed Out', output: { statusCode: 408 } });
    expect(rig.server.stanzas).toHaveLength(1);

    rig.server.resumeReading();
    expect((await rig.server.waitForStanza(1)).id).toBe(status.key.id);
  });
});
