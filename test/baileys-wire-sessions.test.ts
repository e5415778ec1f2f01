/**
 * The whole Baileys side as the server wires it (src/runtime.ts): the session
 * directory restores a linked session from the store and opens a real Baileys
 * socket, the transport sends through the directory's view of it, and the
 * real engine runs the send, against FakeWhatsApp on 127.0.0.1.
 */
import { Keyv } from 'keyv';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { pino } from 'pino';
import adaptive from '../strategies/adaptive.js';
import { createKeyvAuthState } from '../src/transport/baileys/auth-state.js';
import { withStatusReceipts } from '../src/receipts/baileys.js';
import { createReceiptBook } from '../src/receipts/book.js';
import { withReceipts } from '../src/receipts/transport.js';
import { BaileysSessions } from '../src/transport/baileys/sessions.js';
import { baileysSocketFactory } from '../src/transport/baileys/socket-factory.js';
import { BaileysTransport } from '../src/transport/baileys/transport.js';
import { SystemClock } from '../src/clock.js';
import { SendEngine } from '../src/engine/engine.js';
import type { SendEvent } from '../src/engine/events.js';
import { silentLogger } from '../src/log.js';
import { createSessionMemory } from '../src/memory/keyv-memory.js';
import { batchesOf, config, summaryOf } from './support/harness.js';
import { FakeWhatsApp, makeRegisteredAuth } from './support/wa-server/index.js';

const quiet = pino({ level: 'silent' });
const NS = 'storycast:baileys-auth';
const S = 'shop';
const numbers = (n: number) => Array.from({ length: n }, (_, i) => `1555300${String(i).padStart(4, '0')}`);

/** A Map-backed store whose session-key writes can be made to fail, as a full disk would. */
class Store extends Map<string, unknown> {
  failSessions = false;
  override set(key: string, value: unknown): this {
    if (this.failSessions && key.includes(':session-')) throw new Error('disk full');
    return super.set(key, value);
  }
}

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function wire(users: Record<string, number[]>) {
  const server = await FakeWhatsApp.start({ users });
  cleanup.push(() => server.stop());
  const store = new Store();
  const keyv = new Keyv({ store, namespace: NS, throwOnErrors: true });
  keyv.on('error', () => undefined);
  // A session linked earlier: its creds in the store, as a restart finds them.
  const linked = makeRegisteredAuth();
  const saved = await createKeyvAuthState(keyv, S, { logger: silentLogger });
  Object.assign(saved.state.creds, linked.state.creds);
  await saved.saveCreds();

  let transport!: BaileysTransport;
  const book = createReceiptBook({ url: 'memory://', clock: new SystemClock(), logger: silentLogger });
  cleanup.push(() => book.close());
  const sessions = new BaileysSessions({
    keyv,
    logger: silentLogger,
    // As src/runtime.ts wires it: every socket reports its status receipts to the book.
    makeSocket: withStatusReceipts(
      baileysSocketFactory((key) => transport.getMessage(key), {
        waWebSocketUrl: server.url,
        connectTimeoutMs: 2_000,
        defaultQueryTimeoutMs: 3_000,
        logger: quiet as never,
      }),
      book,
    ),
  });
  cleanup.push(() => sessions.close());
  transport = new BaileysTransport({ sockets: sessions.sockets, logger: silentLogger, ackQuietMs: 2_000 });
  expect(await sessions.restore()).toEqual([S]);
  await until(() => sessions.get(S)?.state === 'open');

  const clock = new SystemClock();
  const cfg = config({
    progressiveSequence: [5, 10],
    maxBatchSize: 10,
    minRecipientsForSmartSend: 5,
    maxBatchesPerSecond: 50,
    batchTimeoutMs: 5_000,
    maxAttempts: 2,
  });
  const memory = createSessionMemory({ url: 'memory://', enabled: true, ttlMs: cfg.sessionMemoryTTL, clock, logger: silentLogger });
  const engine = new SendEngine({
    transport: withReceipts(transport, book, silentLogger),
    clock,
    memory,
    config: cfg,
    checkRecipients: true,
  });
  const send = async (recipients: string[], onEvent: (e: SendEvent) => void = () => {}) => {
    const events: SendEvent[] = [];
    for await (const e of engine.send({
      sessionId: S,
      story: { kind: 'text', text: 'Opening hours: 9-5' },
      recipients,
      strategy: adaptive,
    })) {
      events.push(e);
      onEvent(e);
    }
    return events;
  };
  return { server, store, sessions, transport, send, book };
}

async function until(check: () => Promise<boolean> | boolean): Promise<void> {
  await vi.waitFor(async () => expect(await check()).toBe(true), { timeout: 5_000, interval: 10 });
}

describe('session directory, transport and engine on a real Baileys socket', () => {
  it('restores a linked session, checks who is on WhatsApp, and posts one status in batches that WhatsApp acks', async () => {
    const on = numbers(24);
    const users = Object.fromEntries(on.map((n, i) => [n, i % 4 === 0 ? [0, 1] : [0]]));
    const { server, send, book } = await wire(users);
    const events = await send([...on.map((n) => `+${n}`), '+15559999999']);
    const planned = events[0]!;
    expect(planned).toMatchObject({ type: 'planned', total: 24, invalid: [{ input: '+15559999999', reason: 'not on WhatsApp' }] });
    expect(planned.type === 'planned' && planned.reason).toMatch(/my contacts/);
    const summary = summaryOf(events);
    expect(summary).toMatchObject({ total: 24, delivered: 24, failed: [] });
    // One status: every stanza carries the anchor's id, and every device of every recipient got it.
    expect(new Set(server.stanzas.map((s) => s.id))).toEqual(new Set([summary.messageId]));
    const devices = server.stanzas.flatMap((s) => s.participants.map((p) => p.jid)).filter((j) => !j.startsWith('15559990000'));
    expect(new Set(devices).size).toBe(24 + 6);
    const last = server.stanzas.at(-1)!;
    const device = last.participants.find((p) => !p.jid.startsWith('15559990000'))!.jid;
    expect((await server.decrypt(last, device)).extendedTextMessage?.text).toBe('Opening hours: 9-5');

    // The phones answer: receipts reach the book through the socket the directory made.
    const viewer = `${on[3]}@s.whatsapp.net`;
    server.sendReceipt({ id: summary.messageId, participant: viewer, t: 1_800_000_000 });
    const page = async () => (await book.page(S, summary.messageId, 0, 100))!;
    await until(async () => (await page()).counts.delivered === 1);
    server.sendReceipt({ id: summary.messageId, participant: viewer, type: 'read', t: 1_800_000_060 });
    await until(async () => (await page()).counts.read === 1);
    const { counts, recipients } = await page();
    expect(counts).toEqual({ sent: 24, delivered: 1, read: 1 });
    expect(recipients.find((r) => r.recipient === viewer)).toMatchObject({
      sent: true,
      deliveredAt: 1_800_000_000_000,
      readAt: 1_800_000_060_000,
    });
  });

  it('a batch whose encryption keys the store could not save fails, named, instead of passing in silence', async () => {
    const on = numbers(12);
    const { store, send } = await wire(Object.fromEntries(on.map((n) => [n, [0]])));
    const events = await send(
      on.map((n) => `+${n}`),
      (e) => {
        if (e.type === 'anchor') store.failSessions = true;
      },
    );
    const failed = batchesOf(events).filter((b) => !b.ok);
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.every((b) => /could not be saved to the store \(disk full\)/.test(b.error!.message))).toBe(true);
    // Nobody counts as delivered while the store cannot keep their keys: every batch after the anchor failed.
    expect(batchesOf(events).every((b) => !b.ok)).toBe(true);
    const summary = summaryOf(events);
    expect(summary.delivered + summary.failed.length).toBe(12);
    expect(summary).toMatchObject({ delivered: 1, failed: expect.any(Array) });
    expect(summary.failed.every((f) => /disk full/.test(f.reason))).toBe(true);
  });
});
