/**
 * receiptsFromBaileys on a real Baileys 6.17 socket (the production factory)
 * against FakeWhatsApp: receipt stanzas as WhatsApp relays them become
 * message-receipt.update in Baileys, and the listener puts them in the book.
 */
import type { WASocket } from '@whiskeysockets/baileys';
import { Keyv } from 'keyv';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { baileysSocketFactory } from '../src/transport/baileys/socket-factory.js';
import { systemClock } from '../src/clock.js';
import { receiptsFromBaileys } from '../src/receipts/baileys.js';
import { ReceiptBook, RECEIPTS_NAMESPACE } from '../src/receipts/book.js';
import { FakeWhatsApp, baileys as B, makeRegisteredAuth, STATUS_JID } from './support/wa-server/index.js';

const quiet = pino({ level: 'silent' });
const jid = (user: string, device = 0) => B.jidEncode(user, 's.whatsapp.net', device || undefined);
const A = '15551230001';
const BB = '15551230002'; // a phone and a linked device 2

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

async function connected(): Promise<{ server: FakeWhatsApp; sock: WASocket; me: string }> {
  const server = await FakeWhatsApp.start({ users: { [A]: [0], [BB]: [0, 2] } });
  const auth = makeRegisteredAuth();
  const factory = baileysSocketFactory(async () => undefined, {
    waWebSocketUrl: server.url,
    connectTimeoutMs: 3_000,
    defaultQueryTimeoutMs: 3_000,
    logger: quiet as never,
  });
  const sock = factory({ auth: auth.state, logger: quiet, sessionId: 'acct' }) as unknown as WASocket;
  cleanup.push(async () => {
    sock.end(undefined);
    await server.stop();
  });
  await new Promise<void>((resolve, reject) => {
    sock.ev.on('connection.update', (u) => {
      if (u.connection === 'open') resolve();
      if (u.connection === 'close') reject(u.lastDisconnect?.error ?? new Error('closed'));
    });
  });
  return { server, sock, me: auth.me };
}

describe('receiptsFromBaileys on a real socket', () => {
  it('records delivery and read receipts of our status, per user, and nothing from a group', async () => {
    const { server, sock, me } = await connected();
    const book = new ReceiptBook({
      keyv: new Keyv({ store: new Map(), namespace: RECEIPTS_NAMESPACE, throwOnErrors: true }),
      clock: systemClock,
      logger: quiet,
      maintenanceIntervalMs: 0,
    });
    cleanup.push(() => book.close());
    sock.ev.on('message-receipt.update', receiptsFromBaileys(book, 'acct'));

    const status = await B.generateWAMessage(STATUS_JID, { text: 'seen?' }, { userJid: me, upload: sock.waUploadToServer });
    const id = status.key.id!;
    await sock.relayMessage(STATUS_JID, status.message!, { messageId: id, statusJidList: [jid(A), jid(BB)] });
    book.sent('acct', id, [jid(A), jid(BB)], { created: true });

    const counts = async () => (await book.page('acct', id, 0, 10))?.counts;
    // One at a time: Baileys' event buffer may merge receipts it handles together, which is fine but harder to wait for.
    server.sendReceipt({ id, participant: jid(A), t: 1_700_000_001 });
    await vi.waitFor(async () => expect(await counts()).toMatchObject({ delivered: 1 }), { interval: 5 });
    server.sendReceipt({ id, participant: jid(BB, 2), t: 1_700_000_002 }); // BB's linked device: counted for BB
    await vi.waitFor(async () => expect(await counts()).toMatchObject({ delivered: 2 }), { interval: 5 });
    server.sendReceipt({ id, participant: jid(A), type: 'read', t: 1_700_000_005 });
    await vi.waitFor(async () => expect(await counts()).toMatchObject({ read: 1 }), { interval: 5 });
    // A receipt in a group chat with the same id is not a status receipt.
    server.sendReceipt({ id, participant: jid(BB), type: 'read', from: '120363000000000000@g.us', t: 1_700_000_006 });
    server.sendReceipt({ id, participant: jid(BB), type: 'played', t: 1_700_000_007 });
    await vi.waitFor(async () => expect(await counts()).toMatchObject({ read: 2 }), { interval: 5 });

    const page = (await book.page('acct', id, 0, 10))!;
    expect(page.counts).toEqual({ sent: 2, delivered: 2, read: 2 });
    expect(page.recipients).toEqual([
      { recipient: jid(A), sent: true, deliveredAt: 1_700_000_001_000, readAt: 1_700_000_005_000 },
      { recipient: jid(BB), sent: true, deliveredAt: 1_700_000_002_000, readAt: 1_700_000_007_000 },
    ]);
  });
});
