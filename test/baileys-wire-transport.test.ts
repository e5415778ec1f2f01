/**
 * The Baileys transport over a real Baileys socket, against FakeWhatsApp (the
 * scripted server double in ./support/wa-server): the per-user key fetch,
 * the pre-flight and ack attribution as they meet Baileys' own relay path,
 * its retry handling and a real slow write.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { WASocket } from '@whiskeysockets/baileys';
import { pino } from 'pino';
import { baileysSocketFactory, type ExtraSocketConfig } from '../src/transport/baileys/socket-factory.js';
import { BaileysTransport } from '../src/transport/baileys/transport.js';
import type { PreparedStory } from '../src/transport/port.js';
import { FakeSessions } from './support/fake-socket.js';
import {
  FakeWhatsApp,
  ack,
  baileys as B,
  errorAck,
  fillPipe,
  hold,
  makeRegisteredAuth,
  type FakeWhatsAppOptions,
} from './support/wa-server/index.js';

const jid = (user: string, device = 0) => B.jidEncode(user, 's.whatsapp.net', device || undefined);
const A = '15551230001';
const BB = '15551230002';
const NOBODY = '15551230003';
const D = '15551230004';
const users = { [A]: [0], [BB]: [0, 2], [D]: [0] };
const quiet = pino({ level: 'silent' });
const S = 's1';
const never = new AbortController().signal;

const open: { sock: WASocket; server: FakeWhatsApp }[] = [];
afterEach(async () => {
  for (const { sock, server } of open.splice(0)) {
    sock.end(undefined);
    await server.stop();
  }
});

async function rig(options: FakeWhatsAppOptions = {}, socketConfig: ExtraSocketConfig = {}) {
  const server = await FakeWhatsApp.start({ users, ...options });
  const auth = makeRegisteredAuth();
  let transport!: BaileysTransport;
  const factory = baileysSocketFactory((key) => transport.getMessage(key), {
    waWebSocketUrl: server.url,
    connectTimeoutMs: 1_500,
    defaultQueryTimeoutMs: 3_000,
    logger: quiet as never,
    ...socketConfig,
  });
  const sock = factory({ auth: auth.state, logger: quiet, sessionId: S }) as unknown as WASocket;
  open.push({ sock, server });
  await new Promise<void>((resolve, reject) => {
    sock.ev.on('connection.update', (u) => {
      if (u.connection === 'open') resolve();
      if (u.connection === 'close') reject(u.lastDisconnect?.error ?? new Error('closed'));
    });
  });
  transport = new BaileysTransport({ sockets: new FakeSessions().set(S, 'open', sock as never), ackQuietMs: 3_000 });
  const story: PreparedStory = await transport.prepare(S, { kind: 'text', text: 'hello' }, never);
  return { server, sock, transport, story };
}

describe('the Baileys transport on a real socket', () => {
  it("one recipient's <error> in the prekey reply fails that recipient, and the batch goes to the rest", async () => {
    const { server, transport, story } = await rig({ users: { ...users, [D]: { preKeyError: { code: 406, text: 'not-acceptable' } } } });
    const anchor = await transport.send({ sessionId: S, story, recipients: [jid(A)] }, never);
    const result = await transport.send({ sessionId: S, story, recipients: [jid(BB), jid(D)], messageId: anchor.messageId }, never);
    expect(result.refused).toEqual([{ recipient: jid(D), error: expect.objectContaining({ code: 'SEND_FAILED', whatsappCode: 406 }) }]);
    const stanza = server.stanzas.at(-1)!;
    expect(stanza.participants.map((p) => p.jid).sort()).toEqual([jid(BB), jid(BB, 2)].sort());
    expect((await server.decrypt(stanza, jid(BB, 2))).extendedTextMessage?.text).toBe('hello');
  });

  it('the pre-flight finds who is not on WhatsApp, sends to the spelling WhatsApp answers with, and reads the status privacy', async () => {
    const { server, transport, story } = await rig({
      users: { ...users, '5511987654321': { aliases: ['551187654321'] } },
      privacy: { status: 'contact_blacklist' },
    });
    const asked = [jid(A), jid(NOBODY), jid('551187654321')];
    const check = await transport.checkRecipients(S, asked, never);
    expect([...check.notOnWhatsApp]).toEqual([jid(NOBODY)]);
    expect(check.audience).toMatch(/except/);
    await transport.send({ sessionId: S, story, recipients: [jid(A), jid('551187654321')] }, never);
    expect(server.stanzas.at(-1)!.participants.map((p) => p.jid)).toContain(jid('5511987654321'));
  });

  it("a phone's retry request is relayed only after the waiting batch's own ack, which alone decides the batch", async () => {
    const { server, transport, story } = await rig();
    const { messageId } = await transport.send({ sessionId: S, story, recipients: [jid(A)] }, never);
    server.acks.next(hold);
    let outcome: string | undefined;
    const batch = transport.send({ sessionId: S, story, recipients: [jid(BB), jid(D)], messageId, batchIndex: 0 }, never).then(
      () => (outcome = 'ok'),
      (e: { code: string; whatsappCode?: number }) => (outcome = `${e.code}:${e.whatsappCode}`),
    );
    await server.waitForStanza(1);
    // The phone of A could not decrypt: Baileys asks getMessage and would relay the status again.
    const asked = vi.spyOn(transport, 'getMessage');
    server.sendRetryReceipt({ id: messageId, participant: jid(A) });
    await vi.waitFor(() => expect(asked).toHaveBeenCalled(), { timeout: 5_000, interval: 5 });
    expect(server.stanzas).toHaveLength(2); // getMessage holds the relay back while the batch is in doubt
    server.releaseAck(messageId, { error: '479' });
    await batch;
    expect(outcome).toBe('SEND_FAILED:479');
    await server.waitForStanza(2); // now the retry relay goes out, and its ack is its own
    const next = await transport.send({ sessionId: S, story, recipients: [jid(D)], messageId, batchIndex: 1 }, never);
    expect(next.messageId).toBe(messageId);
    expect(await transport.settle(S, messageId, never)).toEqual([]);
  });

  it('a relay whose write stalls past the timeout (408) is kept in doubt; its ack, when the frame lands, is reported late', async () => {
    const { server, sock, transport, story } = await rig({}, { connectTimeoutMs: 400 });
    const { messageId } = await transport.send({ sessionId: S, story, recipients: [jid(A)] }, never);
    // Devices and sessions known, so the stalled relay makes no query before its write.
    await transport.send({ sessionId: S, story, recipients: [jid(BB), jid(D)], messageId, batchIndex: 0 }, never);
    server.pauseReading();
    await fillPipe(sock);
    const stalled = await transport.send({ sessionId: S, story, recipients: [jid(BB), jid(D)], messageId, batchIndex: 1 }, never).then(
      () => 'ok',
      (e: { code: string }) => e.code,
    );
    expect(stalled).toBe('TIMEOUT');
    server.acks.next(ack(0), errorAck('479')); // the stalled stanza's ack, then the next one's
    server.resumeReading();
    const late = await transport.settle(S, messageId, never);
    expect(late).toEqual([{ batchIndex: 1, recipients: [jid(BB), jid(D)], delivered: true, afterMs: expect.any(Number) }]);
    const next = await transport.send({ sessionId: S, story, recipients: [jid(A)], messageId, batchIndex: 2 }, never).then(
      () => 'ok',
      (e: { code: string }) => e.code,
    );
    expect(next).toBe('SEND_FAILED');
  });

  it('an account WhatsApp announced a LID for whose first status is rejected with 479 stops: STATUS_REJECTED', async () => {
    const { server, transport, story } = await rig(); // the double's <success> carries a lid, as WhatsApp's does for migrated accounts
    server.acks.next(errorAck('479'));
    const first = await transport.send({ sessionId: S, story, recipients: [jid(A)] }, never).then(
      () => 'ok',
      (e: { code: string; fatal: boolean }) => `${e.code}:${e.fatal}`,
    );
    expect(first).toBe('STATUS_REJECTED:true');
  });

  it('warm() fetches the devices and keys of the next recipients, so their batch makes no query of its own', async () => {
    const { server, transport, story } = await rig();
    const { messageId } = await transport.send({ sessionId: S, story, recipients: [jid(A)] }, never);
    const queries = () =>
      server.received.filter(({ node: n }) => n.tag === 'iq' && (n.attrs.xmlns === 'encrypt' || n.attrs.xmlns === 'usync')).length;
    await transport.warm(S, [jid(BB), jid(D)], never);
    const before = queries();
    expect(before).toBeGreaterThan(0);
    await transport.send({ sessionId: S, story, recipients: [jid(BB), jid(D)], messageId, batchIndex: 0 }, never);
    expect(queries()).toBe(before);
    expect(
      server.stanzas
        .at(-1)!
        .participants.map((p) => p.jid)
        .sort(),
    ).toEqual([jid(BB), jid(BB, 2), jid(D)].sort());
  });
});

vi.setConfig({ testTimeout: 20_000 });
