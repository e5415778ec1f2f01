/**
 * How receipts reach the book: the transport decorator (who each call
 * reached), Baileys' message-receipt.update events, and the simulated
 * network's phones.
 */
import type { MessageUserReceiptUpdate } from '@whiskeysockets/baileys';
import { Keyv } from 'keyv';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { VirtualClock } from '../src/clock.js';
import { silentLogger } from '../src/log.js';
import { receiptsFromBaileys } from '../src/receipts/baileys.js';
import { ReceiptBook, RECEIPTS_NAMESPACE } from '../src/receipts/book.js';
import { withReceipts } from '../src/receipts/transport.js';
import type { ReceiptSink } from '../src/receipts/types.js';
import { SimulatedNetwork } from '../src/transport/sim/network.js';
import type { SimReceipt } from '../src/transport/sim/receipts.js';
import { DEFAULT_DELIVERY_SHARE, DEFAULT_READ_SHARE, parseProfile, receiptShares } from '../src/transport/sim/profile.js';
import { TransportError, type PreparedStory, type SendRequest, type SendResult, type Transport } from '../src/transport/port.js';
import { runSend, rig, summaryOf } from './support/harness.js';
import { numbers } from './support/scripted-transport.js';

const prepared: PreparedStory = { story: { kind: 'text', text: 'hi' } };
const signal = new AbortController().signal;
const sinkCalls = () => {
  const calls: unknown[][] = [];
  const sink: ReceiptSink = {
    sent: (...args) => void calls.push(['sent', ...args]),
    receipt: (...args) => void calls.push(['receipt', ...args]),
  };
  return { sink, calls };
};

const books: ReceiptBook[] = [];
afterEach(async () => {
  await Promise.all(books.splice(0).map((b) => b.close()));
});
function newBook(clock = new VirtualClock(1_700_000_000_000)): ReceiptBook {
  const book = new ReceiptBook({
    keyv: new Keyv({ store: new Map(), namespace: RECEIPTS_NAMESPACE, throwOnErrors: true }),
    clock,
    logger: silentLogger,
    maintenanceIntervalMs: 0,
  });
  books.push(book);
  return book;
}

describe('withReceipts (the transport decorator)', () => {
  const inner = (result: (req: SendRequest) => SendResult | Promise<SendResult>): Transport => ({
    prepare: async () => prepared,
    send: async (req) => result(req),
  });

  it('reports each successful call: the anchor under the id it made, batches under theirs, less the recipients refused one by one', async () => {
    const { sink, calls } = sinkCalls();
    const refused = { recipient: 'b@s.whatsapp.net', error: new TransportError('SEND_FAILED', 'no keys') };
    const t = withReceipts(
      inner((req) => (req.messageId ? { messageId: req.messageId, refused: req.recipients[1] ? [refused] : [] } : { messageId: 'NEW' })),
      sink,
      silentLogger,
    );
    const anchor = await t.send({ sessionId: 's1', story: prepared, recipients: ['a@s.whatsapp.net'] }, signal);
    expect(anchor).toEqual({ messageId: 'NEW' });
    await t.send({ sessionId: 's1', story: prepared, recipients: ['c@s.whatsapp.net', 'b@s.whatsapp.net'], messageId: 'NEW' }, signal);
    expect(calls).toEqual([
      ['sent', 's1', 'NEW', ['a@s.whatsapp.net'], { created: true }],
      ['sent', 's1', 'NEW', ['c@s.whatsapp.net'], { created: false }],
    ]);
  });

  it('passes results and errors through unchanged, reports no failed call, and survives a book that throws', async () => {
    const { sink, calls } = sinkCalls();
    const error = new TransportError('TIMEOUT', 'slow');
    const failing = withReceipts(
      inner(() => Promise.reject(error)),
      sink,
      silentLogger,
    );
    await expect(failing.send({ sessionId: 's1', story: prepared, recipients: ['a'], messageId: 'M' }, signal)).rejects.toBe(error);
    expect(calls).toEqual([]);
    const result = { messageId: 'M' };
    const broken: ReceiptSink = {
      sent: () => {
        throw new Error('book broke');
      },
      receipt: () => undefined,
    };
    const t = withReceipts(
      inner(() => result),
      broken,
      silentLogger,
    );
    await expect(t.send({ sessionId: 's1', story: prepared, recipients: ['a'], messageId: 'M' }, signal)).resolves.toBe(result);
    expect(await t.prepare('s1', prepared.story, signal)).toBe(prepared);
  });

  it('has the optional methods only when the inner transport has them; settle also reports calls that got through late', async () => {
    const { sink, calls } = sinkCalls();
    const bare = withReceipts(
      inner(() => ({ messageId: 'M' })),
      sink,
      silentLogger,
    );
    expect(bare.checkRecipients).toBeUndefined();
    expect(bare.settle).toBeUndefined();
    expect(bare.warm).toBeUndefined();
    expect(bare.saveStory).toBeUndefined();

    const check = { notOnWhatsApp: new Set(['x']) };
    const late = [
      { batchIndex: 3, recipients: ['d', 'e'], delivered: true, afterMs: 20_000 },
      { batchIndex: 4, recipients: ['f'], delivered: false, afterMs: 21_000, error: new TransportError('SEND_FAILED', 'nack') },
    ];
    const full: Transport = {
      ...inner(() => ({ messageId: 'M' })),
      checkRecipients: vi.fn(async () => check),
      settle: vi.fn(async () => late),
      warm: vi.fn(async () => undefined),
      saveStory: vi.fn(() => new Uint8Array([7])),
      restoreStory: vi.fn((_s: string, _b: Uint8Array) => ({ story: { kind: 'text' as const, text: 'hi' } })),
    };
    const t = withReceipts(full, sink, silentLogger);
    await t.warm!('s1', ['x'], signal);
    expect(full.warm).toHaveBeenCalledWith('s1', ['x'], signal);
    expect(t.saveStory!({ story: { kind: 'text', text: 'hi' } })).toEqual(new Uint8Array([7]));
    expect(t.restoreStory!('s1', new Uint8Array([7]), 'M')).toEqual({ story: { kind: 'text', text: 'hi' } });
    expect(full.restoreStory).toHaveBeenCalledWith('s1', new Uint8Array([7]), 'M');
    expect(await t.checkRecipients!('s1', ['x', 'y'], signal)).toBe(check);
    expect(full.checkRecipients).toHaveBeenCalledWith('s1', ['x', 'y'], signal);
    expect(await t.settle!('s1', 'M', signal)).toBe(late);
    expect(calls).toEqual([['sent', 's1', 'M', ['d', 'e']]]);
  });

  it('through the real engine on the simulated network: the book has everyone the summary says was delivered', async () => {
    const book = newBook();
    const r = rig({
      transport: (clock) =>
        withReceipts(
          new SimulatedNetwork({ profile: { name: 'p', baseMs: 400, perRecipientMs: 0.5, capacity: 800 }, clock, seed: 3 }),
          book,
          silentLogger,
        ),
    });
    const summary = summaryOf(await runSend(r, { recipients: numbers(3000) }));
    expect(summary.delivered).toBe(3000);
    const page = (await book.page('session-1', summary.messageId!, 0, 5000))!;
    expect(page.counts.sent).toBe(3000);
    expect(page.recipients[0]!.recipient).toBe(`${numbers(1)[0]!.slice(1)}@s.whatsapp.net`); // the anchor first
  });
});

describe('receiptsFromBaileys', () => {
  const STATUS = 'status@broadcast';
  const A = '15551230001@s.whatsapp.net';
  // Exactly what messages-recv.js handleReceipt emits for a status receipt (see baileys-wire.test.ts).
  const delivery = (id: string, user: string, t: number): MessageUserReceiptUpdate => ({
    key: { remoteJid: STATUS, id, fromMe: true, participant: user },
    receipt: { userJid: user, receiptTimestamp: t },
  });
  const read = (id: string, user: string, t: number): MessageUserReceiptUpdate => ({
    key: { remoteJid: STATUS, id, fromMe: true, participant: user },
    receipt: { userJid: user, readTimestamp: t },
  });

  it('records status receipts in ms, for the session it was made for', () => {
    const { sink, calls } = sinkCalls();
    const listen = receiptsFromBaileys(sink, 'acct');
    listen([delivery('3EB0A', A, 1_700_000_001), read('3EB0A', A, 1_700_000_002)]);
    // protobufjs hands 64-bit numbers over as Longs when a receipt comes from a decoded message.
    const long = { low: 1_700_000_003, high: 0, unsigned: false, toNumber: () => 1_700_000_003 } as unknown as number;
    listen([{ key: { remoteJid: STATUS, id: '3EB0B', fromMe: true, participant: A }, receipt: { userJid: A, readTimestamp: long } }]);
    listen([
      { key: { remoteJid: STATUS, id: '3EB0B', fromMe: true, participant: A }, receipt: { userJid: A, playedTimestamp: 1_700_000_004 } },
    ]);
    expect(calls).toEqual([
      ['receipt', 'acct', '3EB0A', A, { deliveredAt: 1_700_000_001_000 }],
      ['receipt', 'acct', '3EB0A', A, { readAt: 1_700_000_002_000 }],
      ['receipt', 'acct', '3EB0B', A, { readAt: 1_700_000_003_000 }],
      ['receipt', 'acct', '3EB0B', A, { readAt: 1_700_000_004_000 }],
    ]);
  });

  it('ignores group receipts, statuses this account viewed elsewhere, and receipts with no time', () => {
    const { sink, calls } = sinkCalls();
    receiptsFromBaileys(
      sink,
      'acct',
    )([
      {
        key: { remoteJid: '120363000000000000@g.us', id: 'G1', fromMe: true, participant: A },
        receipt: { userJid: A, receiptTimestamp: 1_700_000_001 },
      },
      { key: { remoteJid: STATUS, id: 'THEIRS', fromMe: false, participant: A }, receipt: { userJid: A, readTimestamp: 1_700_000_001 } },
      { key: { remoteJid: STATUS, id: 'NOTIME', fromMe: true, participant: A }, receipt: { userJid: A, receiptTimestamp: null } },
    ]);
    expect(calls).toEqual([]);
  });

  it('feeds the book', async () => {
    const book = newBook();
    book.sent('acct', '3EB0A', [A], { created: true });
    receiptsFromBaileys(book, 'acct')([delivery('3EB0A', A, 1_700_000_001), read('3EB0A', A, 1_700_000_009)]);
    expect((await book.page('acct', '3EB0A', 0, 10))!.recipients).toEqual([
      { recipient: A, sent: true, deliveredAt: 1_700_000_001_000, readAt: 1_700_000_009_000 },
    ]);
  });
});

describe("the simulated network's receipts", () => {
  const profile = { name: 'p', baseMs: 500, perRecipientMs: 0.1, jitterPct: 20, deliveryShare: 0.8, readShare: 0.5 };

  async function sendAll(onReceipt?: (r: SimReceipt) => void, clock = new VirtualClock(1_000_000)) {
    const network = new SimulatedNetwork({ profile, clock, seed: 7, ...(onReceipt ? { onReceipt } : {}) });
    const recipients = Array.from({ length: 4000 }, (_, i) => `r${i}@s.whatsapp.net`);
    const { messageId } = await clock.run(network.send({ sessionId: 's1', story: prepared, recipients }, signal));
    const sentAt = clock.now();
    // A second status after the first: its id and latency come from the session's main stream.
    const next = await clock.run(network.send({ sessionId: 's1', story: prepared, recipients: recipients.slice(0, 10) }, signal));
    return { clock, network, messageId, nextMessageId: next.messageId, recipients, sentAt };
  }

  it("delivers to about deliveryShare and is read by about readShare, a short while after the call, on the network's clock", async () => {
    const heard: (SimReceipt & { heardAt: number })[] = [];
    const clock = new VirtualClock(1_000_000);
    const { messageId, sentAt } = await sendAll((r) => heard.push({ ...r, heardAt: clock.now() }), clock);
    await clock.run(async () => {
      while (clock.pending > 0) await clock.advance(1000);
    });
    const receipts = heard.filter((r) => r.messageId === messageId);
    expect(heard.length - receipts.length).toBeGreaterThan(0); // the second status's, ignored here
    const delivered = receipts.filter((r) => r.deliveredAt !== undefined);
    const read = receipts.filter((r) => r.readAt !== undefined);
    expect(delivered.length / 4000).toBeCloseTo(0.8, 1);
    expect(read.length / 4000).toBeCloseTo(0.5, 1);
    const deliveredAt = new Map(delivered.map((r) => [r.recipient, r.deliveredAt!]));
    for (const r of receipts) {
      expect(r).toMatchObject({ sessionId: 's1', messageId });
      expect(r.heardAt).toBe(r.readAt ?? r.deliveredAt);
    }
    for (const r of delivered) expect(r.deliveredAt! - sentAt).toBeGreaterThanOrEqual(300);
    for (const r of delivered) expect(r.deliveredAt! - sentAt).toBeLessThanOrEqual(3_250);
    for (const r of read) expect(r.readAt! - deliveredAt.get(r.recipient)!).toBeGreaterThanOrEqual(2_000); // only after delivery
  });

  it('is reproducible per seed, and listening for receipts changes nothing about the send', async () => {
    const a: SimReceipt[] = [];
    const b: SimReceipt[] = [];
    const first = await sendAll((r) => a.push(r));
    const second = await sendAll((r) => b.push(r));
    const silent = await sendAll();
    for (const run of [first, second])
      await run.clock.run(async () => {
        while (run.clock.pending > 0) await run.clock.advance(1000);
      });
    expect(b).toEqual(a);
    expect([silent.messageId, silent.nextMessageId]).toEqual([first.messageId, first.nextMessageId]);
    expect(silent.network.oracle.calls).toEqual(first.network.oracle.calls);
    expect(silent.clock.pending).toBe(0); // no listener, no timers
  });

  it('close() stops the receipts still to come', async () => {
    const heard: SimReceipt[] = [];
    const { clock, network } = await sendAll((r) => heard.push(r));
    await clock.advance(1_000);
    const before = heard.length;
    network.close();
    await clock.advance(120_000);
    expect(heard.length).toBe(before);
  });

  it('profile fields: optional, 0..1, read implies delivered', () => {
    const base = { name: 'p', baseMs: 1, perRecipientMs: 0 };
    expect(receiptShares(parseProfile(base))).toEqual({ delivered: DEFAULT_DELIVERY_SHARE, read: DEFAULT_READ_SHARE });
    expect(receiptShares(parseProfile({ ...base, deliveryShare: 0.3, readShare: 0.9 }))).toEqual({ delivered: 0.9, read: 0.9 });
    expect(() => parseProfile({ ...base, readShare: 1.5 }, 'x.json')).toThrow(/readShare = 1.5/);
  });
});
