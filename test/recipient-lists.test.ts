/**
 * The saved recipient list stores (memory, a real SQLite file, a real
 * redis-server) against one contract, so the service treats them as one.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isValidListName, MemoryRecipientListStore, type RecipientListStore } from '../src/audiences/lists.js';
import { createRecipientListStore } from '../src/audiences/open-lists.js';
import { RedisRecipientListStore } from '../src/audiences/redis-lists.js';
import { SqliteRecipientListStore } from '../src/audiences/sqlite-lists.js';
import { silentLogger } from '../src/log.js';
import { storeFixtures } from './support/store-fixtures.js';

const jids = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `${447700900000 + from + i}@s.whatsapp.net`);

const fx = storeFixtures('lists');
const keep = <T extends RecipientListStore>(store: T): T => fx.keep(store);

const stores: ReadonlyArray<[string, () => RecipientListStore]> = [
  ['memory', () => keep(new MemoryRecipientListStore())],
  ['SQLite file', () => keep(new SqliteRecipientListStore(join(fx.dir, `${randomUUID()}.db`)))],
  ['redis-server', () => keep(new RedisRecipientListStore({ url: fx.redisUrl(), prefix: `test:${randomUUID()}:`, logger: silentLogger }))],
];

describe.each(stores)('%s: the recipient list store contract', (_name, make) => {
  it('saves a list and reads it back whole, in order', async () => {
    const store = make();
    const recipients = jids(3);
    const saved = await store.save({ sessionId: 's1', name: 'vip', recipients, at: 1_000 });
    expect(saved).toEqual({ sessionId: 's1', name: 'vip', recipients, createdAt: 1_000, updatedAt: 1_000 });
    expect(await store.get('s1', 'vip')).toEqual(saved);
    expect(await store.get('s1', 'other')).toBeUndefined();
    expect(await store.get('s2', 'vip')).toBeUndefined();
  });

  it('replaces a list on a second save, keeping when it was created', async () => {
    const store = make();
    await store.save({ sessionId: 's1', name: 'vip', recipients: jids(5), at: 1_000 });
    const again = await store.save({ sessionId: 's1', name: 'vip', recipients: jids(2, 100), at: 2_000 });
    expect(again).toMatchObject({ createdAt: 1_000, updatedAt: 2_000 });
    expect(await store.get('s1', 'vip')).toEqual({
      sessionId: 's1',
      name: 'vip',
      recipients: jids(2, 100),
      createdAt: 1_000,
      updatedAt: 2_000,
    });
  });

  it('keeps an empty list as empty, and a 100,000-recipient list in one piece', async () => {
    const store = make();
    await store.save({ sessionId: 's1', name: 'none', recipients: [], at: 1 });
    expect((await store.get('s1', 'none'))?.recipients).toEqual([]);
    const big = jids(100_000);
    await store.save({ sessionId: 's1', name: 'all', recipients: big, at: 2 });
    expect((await store.get('s1', 'all'))?.recipients).toEqual(big);
  });

  it("pages one session's lists by name, with counts and without recipients", async () => {
    const store = make();
    for (const [i, name] of ['b', 'a', 'c.d', 'B', 'a-1'].entries())
      await store.save({ sessionId: 's1', name, recipients: jids(i + 1), at: 10 + i });
    await store.save({ sessionId: 's2', name: 'x', recipients: jids(1), at: 99 });
    const first = await store.list('s1', { limit: 2 });
    expect(first).toEqual([
      { sessionId: 's1', name: 'B', count: 4, createdAt: 13, updatedAt: 13 },
      { sessionId: 's1', name: 'a', count: 2, createdAt: 11, updatedAt: 11 },
    ]);
    const rest = await store.list('s1', { after: 'a', limit: 10 });
    expect(rest.map((l) => l.name)).toEqual(['a-1', 'b', 'c.d']);
    expect(await store.list('s1', { after: 'c.d', limit: 10 })).toEqual([]);
    expect(await store.list('nobody', { limit: 10 })).toEqual([]);
  });

  it("deletes one list, then every list of a session (a logout), and no other session's", async () => {
    const store = make();
    await store.save({ sessionId: 's1', name: 'a', recipients: jids(1), at: 1 });
    await store.save({ sessionId: 's1', name: 'b', recipients: jids(1), at: 1 });
    await store.save({ sessionId: 's1', name: 'c', recipients: jids(1), at: 1 });
    await store.save({ sessionId: 's2', name: 'a', recipients: jids(1), at: 1 });
    expect(await store.delete('s1', 'a')).toBe(true);
    expect(await store.delete('s1', 'a')).toBe(false);
    expect((await store.list('s1', { limit: 10 })).map((l) => l.name)).toEqual(['b', 'c']);
    expect(await store.deleteSession('s1')).toBe(2);
    expect(await store.list('s1', { limit: 10 })).toEqual([]);
    expect(await store.get('s1', 'b')).toBeUndefined();
    expect(await store.deleteSession('s1')).toBe(0);
    expect(await store.get('s2', 'a')).toBeDefined();
  });
});

describe('recipient list stores on disk', () => {
  it('a SQLite file keeps its lists for the next process', async () => {
    const path = join(fx.dir, 'restart.db');
    const first = new SqliteRecipientListStore(path);
    await first.save({ sessionId: 's1', name: 'weekly', recipients: jids(3), at: 5 });
    await first.close();
    const second = keep(createRecipientListStore(`sqlite://${path}`, { logger: silentLogger }));
    expect((await second.get('s1', 'weekly'))?.recipients).toEqual(jids(3));
  });

  it('redis: a list saved by one replica is read by another', async () => {
    const prefix = `test:${randomUUID()}:`;
    const one = keep(new RedisRecipientListStore({ url: fx.redisUrl(), prefix, logger: silentLogger }));
    const two = keep(new RedisRecipientListStore({ url: fx.redisUrl(), prefix, logger: silentLogger }));
    await one.save({ sessionId: 's1', name: 'weekly', recipients: jids(2), at: 5 });
    expect((await two.get('s1', 'weekly'))?.recipients).toEqual(jids(2));
  });

  it('redis down: calls reject naming the store instead of hanging', async () => {
    const store = keep(new RedisRecipientListStore({ url: 'redis://127.0.0.1:1', logger: silentLogger, commandTimeoutMs: 200 }));
    await expect(store.get('s1', 'x')).rejects.toThrow(/recipient list store/);
  });
});

describe('list names', () => {
  it('are letters, digits, dot, dash and underscore, 1 to 64', () => {
    for (const ok of ['vip', 'Weekly-2026', 'a.b_c', 'x'.repeat(64)]) expect(isValidListName(ok)).toBe(true);
    for (const bad of ['', 'has space', 'a:b', 'ü', 'x'.repeat(65), 'a/b']) expect(isValidListName(bad)).toBe(false);
  });
});
