/** The receipt book: what it counts, how it writes, what survives a restart and for how long. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keyv } from 'keyv';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Clock } from '../src/clock.js';
import { silentLogger } from '../src/log.js';
import { createKeyv } from '../src/memory/store.js';
import { createReceiptBook, ReceiptBook, RECEIPTS_NAMESPACE, STATUS_LIFETIME_MS, type ReceiptBookOptions } from '../src/receipts/book.js';
import { BadPageTokenError, decodePageToken, encodePageToken } from '../src/receipts/page-token.js';
import { ReceiptStoreError } from '../src/receipts/types.js';

const HOUR = 3_600_000;
const jid = (n: number) => `1555${String(n).padStart(7, '0')}@s.whatsapp.net`;
const jids = (from: number, count: number) => Array.from({ length: count }, (_, i) => jid(from + i));

class FakeClock implements Clock {
  constructor(public t = Date.now()) {}
  now(): number {
    return this.t;
  }
  async sleep(ms: number): Promise<void> {
    this.t += ms;
  }
}

/** A memory store that counts the writes reaching it. */
class CountingMap extends Map<string, unknown> {
  writes = 0;
  override set(key: string, value: unknown): this {
    this.writes++;
    return super.set(key, value);
  }
}

function captureLogger() {
  const lines: Array<{ level: number; msg: string; err?: { message?: string } }> = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, warnings: () => lines.filter((l) => l.level === 40) };
}

const open: ReceiptBook[] = [];
let dir: string | undefined;
afterEach(async () => {
  await Promise.all(open.splice(0).map((b) => b.close()));
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

function book(keyv: Keyv, clock: Clock, extra: Partial<ReceiptBookOptions> = {}): ReceiptBook {
  const b = new ReceiptBook({ keyv, clock, logger: silentLogger, maintenanceIntervalMs: 0, ...extra });
  open.push(b);
  return b;
}

const memoryKeyv = (store: Map<string, unknown> = new Map()) => new Keyv({ store, namespace: RECEIPTS_NAMESPACE, throwOnErrors: true });

async function sqliteUrl(): Promise<string> {
  dir = await mkdtemp(join(tmpdir(), 'storycast-receipts-'));
  return `sqlite://${join(dir, 'store.sqlite')}`;
}

describe('ReceiptBook: counts and listing', () => {
  it('counts sent, delivered (a read implies it) and read; keeps each first time; lists in the order sent', async () => {
    const clock = new FakeClock(1_700_000_000_000);
    const b = book(memoryKeyv(), clock);
    b.sent('s1', 'M1', [jid(1)], { created: true });
    b.sent('s1', 'M1', [jid(2), jid(3), jid(1)]);
    b.receipt('s1', 'M1', jid(2), { deliveredAt: 1_700_000_005_000 });
    b.receipt('s1', 'M1', jid(2), { deliveredAt: 1_700_000_009_000 }); // a second device: later, ignored
    b.receipt('s1', 'M1', jid(2), { readAt: 1_700_000_020_000 });
    b.receipt('s1', 'M1', jid(3), { readAt: 1_700_000_030_000 }); // a read with no delivery receipt before it
    b.receipt('s1', 'M1', jid(1), { deliveredAt: 1_700_000_004_000 });
    b.receipt('s1', 'M1', jid(1), { deliveredAt: 1_700_000_002_000 }); // an earlier device answered late: it wins
    b.receipt('s1', 'M1', jid(1), {}); // nothing in it

    const page = (await b.page('s1', 'M1', 0, 10))!;
    expect(page.counts).toEqual({ sent: 3, delivered: 3, read: 2 });
    expect(page.recipients).toEqual([
      { recipient: jid(1), sent: true, deliveredAt: 1_700_000_002_000 },
      { recipient: jid(2), sent: true, deliveredAt: 1_700_000_005_000, readAt: 1_700_000_020_000 },
      { recipient: jid(3), sent: true, deliveredAt: 1_700_000_030_000, readAt: 1_700_000_030_000 },
    ]);
    expect(page).toMatchObject({ createdAt: 1_700_000_000_000, expiresAt: 1_700_000_000_000 + STATUS_LIFETIME_MS, total: 3 });
    expect(page.nextOffset).toBeUndefined();
  });

  it('counts a receipt from someone it did not see sent, and lists them after the sent ones', async () => {
    const b = book(memoryKeyv(), new FakeClock());
    b.sent('s1', 'M1', [jid(1)], { created: true });
    b.receipt('s1', 'M1', '200000000000001@lid', { deliveredAt: Date.now() });
    b.sent('s1', 'M1', [jid(2)]);
    const page = (await b.page('s1', 'M1', 0, 10))!;
    expect(page.counts).toEqual({ sent: 2, delivered: 1, read: 0 });
    expect(page.recipients.map((r) => [r.recipient, r.sent])).toEqual([
      [jid(1), true],
      ['200000000000001@lid', false],
      [jid(2), true],
    ]);
  });

  it('pages by offset; statuses are per session; an unknown status is null', async () => {
    const b = book(memoryKeyv(), new FakeClock());
    b.sent('s1', 'M1', jids(0, 250), { created: true });
    const first = (await b.page('s1', 'M1', 0, 100))!;
    expect(first.recipients).toHaveLength(100);
    expect(first.nextOffset).toBe(100);
    const last = (await b.page('s1', 'M1', 200, 100))!;
    expect(last.recipients.map((r) => r.recipient)).toEqual(jids(200, 50));
    expect(last.nextOffset).toBeUndefined();
    expect((await b.page('s1', 'M1', 900, 100))!.recipients).toEqual([]);
    expect(await b.page('s2', 'M1', 0, 100)).toBeNull();
    expect(await b.page('s1', 'M2', 0, 100)).toBeNull();
  });
});

describe('ReceiptBook: writing to the store', () => {
  it('a 10,000-recipient status and its 20,000 receipts cost a few writes, not one per event', async () => {
    const store = new CountingMap();
    const clock = new FakeClock();
    const b = book(memoryKeyv(store), clock, { flushDelayMs: 60_000 });
    const all = jids(0, 10_000);
    b.sent('s1', 'M1', all.slice(0, 1), { created: true });
    for (let i = 1; i < all.length; i += 1000) b.sent('s1', 'M1', all.slice(i, i + 1000));
    // As phones answer: spread over many turns of the event loop, not all in one.
    const tick = () => new Promise((r) => setImmediate(r));
    for (let i = 0; i < all.length; i++) {
      b.receipt('s1', 'M1', all[i]!, { deliveredAt: clock.t + 1000 });
      b.receipt('s1', 'M1', all[(i * 7) % all.length]!, { readAt: clock.t + 5000 });
      if (i % 100 === 0) await tick();
    }
    expect(store.writes).toBe(0);
    await b.flush();
    expect(store.writes).toBe(1);
    const stored = [...store.values()][0] as string;
    expect(stored.length).toBeLessThan(10_000 * 40); // columns, with the common JID suffix left out
  });

  it('writes by itself once the flush delay has passed', async () => {
    const store = new CountingMap();
    const b = book(memoryKeyv(store), new FakeClock(), { flushDelayMs: 5 });
    b.sent('s1', 'M1', [jid(1)], { created: true });
    b.receipt('s1', 'M1', jid(1), { deliveredAt: Date.now() });
    await vi.waitFor(() => expect(store.writes).toBe(1));
  });

  it('a store that is down costs receipts, never a caller: nothing throws, one warning per status, memory still answers', async () => {
    const { logger, warnings } = captureLogger();
    const rejecting = {
      get: async () => Promise.reject(new Error('store is down')),
      set: async () => Promise.reject(new Error('store is down')),
      delete: async () => false,
      clear: async () => undefined,
    };
    const b = book(new Keyv({ store: rejecting, namespace: RECEIPTS_NAMESPACE, throwOnErrors: true }), new FakeClock(), {
      logger,
      flushDelayMs: 60_000,
    });
    b.sent('s1', 'M1', [jid(1), jid(2)], { created: true });
    b.receipt('s1', 'M1', jid(1), { deliveredAt: Date.now() });
    await expect(b.flush()).resolves.toBeUndefined();
    b.receipt('s1', 'M1', jid(2), { readAt: Date.now() });
    await b.flush();
    expect(warnings().filter((w) => w.msg.includes('receipts store write failed'))).toHaveLength(1);
    expect((await b.page('s1', 'M1', 0, 10))!.counts).toEqual({ sent: 2, delivered: 2, read: 1 });
    // What is not in memory cannot be answered: unknown, not empty.
    await expect(b.page('s1', 'OTHER', 0, 10)).rejects.toBeInstanceOf(ReceiptStoreError);
  });

  it('a store that hangs is given up on after opTimeoutMs', async () => {
    const hanging = {
      get: () => new Promise(() => {}),
      set: () => new Promise(() => {}),
      delete: async () => false,
      clear: async () => undefined,
    };
    const b = book(new Keyv({ store: hanging, namespace: RECEIPTS_NAMESPACE, throwOnErrors: true }), new FakeClock(), { opTimeoutMs: 20 });
    b.receipt('s1', 'M1', jid(1), { deliveredAt: Date.now() });
    await expect(b.page('s1', 'M1', 0, 10)).rejects.toThrow(/within 20 ms/);
    await expect(b.flush()).resolves.toBeUndefined();
  });
});

describe('ReceiptBook: lifetime', () => {
  it('survives a restart on SQLite: counts, times and order', async () => {
    const url = await sqliteUrl();
    const clock = new FakeClock();
    const first = createReceiptBook({ url, clock, logger: silentLogger, maintenanceIntervalMs: 0 });
    first.sent('s1', 'M1', jids(0, 3), { created: true });
    first.sent('s1', 'M1', ['442071234567@s.whatsapp.net']);
    first.receipt('s1', 'M1', jid(1), { deliveredAt: clock.t + 1500, readAt: clock.t + 9000 });
    first.receipt('s1', 'M1', 'x@lid', { deliveredAt: clock.t + 2000 });
    const before = await first.page('s1', 'M1', 0, 10);
    await first.close();

    const second = createReceiptBook({ url, clock, logger: silentLogger, maintenanceIntervalMs: 0 });
    open.push(second);
    expect(await second.page('s1', 'M1', 0, 10)).toEqual(before);
    expect(before!.counts).toEqual({ sent: 4, delivered: 2, read: 1 });
  });

  it('receipts that arrive after a restart join what the store kept instead of replacing it', async () => {
    const url = await sqliteUrl();
    const clock = new FakeClock();
    const first = createReceiptBook({ url, clock, logger: silentLogger, maintenanceIntervalMs: 0 });
    first.sent('s1', 'M1', jids(0, 3), { created: true });
    first.receipt('s1', 'M1', jid(0), { deliveredAt: clock.t + 1000 });
    await first.close();

    clock.t += HOUR;
    const second = createReceiptBook({ url, clock, logger: silentLogger, maintenanceIntervalMs: 0, flushDelayMs: 60_000 });
    second.receipt('s1', 'M1', jid(2), { readAt: clock.t });
    second.receipt('s1', 'M1', jid(0), { deliveredAt: clock.t }); // later than the kept one
    // Asked before anything was written: the answer already includes the store's part.
    expect((await second.page('s1', 'M1', 0, 10))!.counts).toEqual({ sent: 3, delivered: 2, read: 1 });
    await second.close();

    const third = createReceiptBook({ url, clock, logger: silentLogger, maintenanceIntervalMs: 0 });
    open.push(third);
    const page = (await third.page('s1', 'M1', 0, 10))!;
    expect(page.recipients.map((r) => r.recipient)).toEqual(jids(0, 3));
    expect(page.recipients[0]!.deliveredAt).toBe(clock.t - HOUR + 1000);
    expect(page.counts).toEqual({ sent: 3, delivered: 2, read: 1 });
    expect(page.createdAt).toBe(clock.t - HOUR);
  });

  it("forgets a status 24 hours after its creation: in memory, on a restart, and in the row's own expiry", async () => {
    const url = await sqliteUrl();
    const clock = new FakeClock();
    const created = clock.t;
    const b = createReceiptBook({ url, clock, logger: silentLogger, maintenanceIntervalMs: 0 });
    open.push(b);
    b.sent('s1', 'M1', [jid(1)], { created: true });
    clock.t += 23 * HOUR;
    b.receipt('s1', 'M1', jid(1), { readAt: clock.t }); // a late receipt does not extend the lifetime
    await b.flush();

    const keyv = createKeyv(url, { namespace: RECEIPTS_NAMESPACE, logger: silentLogger });
    const rows = (await keyv.store.query('SELECT value FROM keyv WHERE key = ?', `${RECEIPTS_NAMESPACE}:s1/M1`)) as Array<{
      value: string;
    }>;
    const expires = JSON.parse(rows[0]!.value).expires as number;
    // Keyv counts the TTL from the real clock at the write; the fake clock stood 23 h after creation then.
    expect(Math.abs(expires - (Date.now() + (created + 24 * HOUR - clock.t)))).toBeLessThan(60_000);
    await keyv.disconnect();

    expect(b.size).toBe(1);
    clock.t = created + 24 * HOUR;
    expect(await b.page('s1', 'M1', 0, 10)).toBeNull();
    expect(b.size).toBe(0);
    const later = createReceiptBook({ url, clock, logger: silentLogger, maintenanceIntervalMs: 0 });
    open.push(later);
    expect(await later.page('s1', 'M1', 0, 10)).toBeNull();
  });

  it('memory stays bounded: expired statuses and idle written ones leave it; the store still answers for the latter', async () => {
    const clock = new FakeClock();
    const b = book(memoryKeyv(), clock, { idleMs: 10 * 60_000 });
    b.sent('s1', 'OLD', [jid(1)], { created: true });
    clock.t += 20 * HOUR;
    b.sent('s1', 'IDLE', [jid(2)], { created: true });
    await b.flush();
    clock.t += 5 * HOUR;
    b.sent('s1', 'BUSY', [jid(3)], { created: true });
    await b.maintain();
    expect(b.size).toBe(1); // OLD expired, IDLE untouched for 5 h, BUSY not yet written
    expect((await b.page('s1', 'IDLE', 0, 10))!.counts.sent).toBe(1);
    expect(await b.page('s1', 'OLD', 0, 10)).toBeNull();
  });

  it('retries a failed write on maintenance once the store is back', async () => {
    let down = true;
    const map = new Map<string, unknown>();
    const flaky = {
      get: async (k: string) => (down ? Promise.reject(new Error('down')) : map.get(k)),
      set: async (k: string, v: unknown) => {
        if (down) throw new Error('down');
        map.set(k, v);
        return true;
      },
      delete: async () => false,
      clear: async () => undefined,
    };
    const b = book(new Keyv({ store: flaky, namespace: RECEIPTS_NAMESPACE, throwOnErrors: true }), new FakeClock(), {
      flushDelayMs: 60_000,
    });
    b.sent('s1', 'M1', [jid(1)], { created: true });
    await b.flush();
    expect(map.size).toBe(0);
    down = false;
    await b.maintain();
    await b.flush();
    expect(map.size).toBe(1);
  });

  it('ignores a malformed row', async () => {
    const map = new Map<string, unknown>();
    const keyv = memoryKeyv(map);
    await keyv.set('s1/M1', {
      v: 1,
      sessionId: 's1',
      messageId: 'M1',
      createdAt: Date.now(),
      users: ['1'],
      sent: '',
      delivered: [],
      read: [],
    });
    expect(await book(keyv, new FakeClock()).page('s1', 'M1', 0, 10)).toBeNull();
  });
});

describe('page tokens', () => {
  it('stand for an offset of one status and refuse anything else', () => {
    const token = encodePageToken('s1', 'M1', 300);
    expect(decodePageToken(token, 's1', 'M1')).toBe(300);
    expect(decodePageToken('', 's1', 'M1')).toBe(0);
    expect(() => decodePageToken(token, 's1', 'M2')).toThrow(BadPageTokenError);
    expect(() => decodePageToken(token, 's2', 'M1')).toThrow(/another status/);
    expect(() => decodePageToken('garbage', 's1', 'M1')).toThrow(BadPageTokenError);
    expect(() => decodePageToken(Buffer.from('r1:-4:x').toString('base64url'), 's1', 'M1')).toThrow(BadPageTokenError);
  });
});
