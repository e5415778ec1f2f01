/**
 * The schedule stores (memory, a real SQLite file, a real redis-server)
 * against one contract (support/schedule-store-contract.ts), then what only
 * a store on disk or shared by replicas does, and the store a URL opens.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../src/log.js';
import { createScheduleStore } from '../src/schedules/open-store.js';
import { RedisScheduleStore } from '../src/schedules/redis-store.js';
import { SqliteScheduleStore } from '../src/schedules/sqlite-store.js';
import { MemoryScheduleStore, type ScheduleStore } from '../src/schedules/store.js';
import { storeFixtures } from './support/store-fixtures.js';
import { describeScheduleStoreContract, oneOff, schedule } from './support/schedule-store-contract.js';

const fx = storeFixtures('schedules');
const keep = <T extends ScheduleStore>(store: T): T => fx.keep(store);

describeScheduleStoreContract('memory', () => keep(new MemoryScheduleStore()));
describeScheduleStoreContract('SQLite file', () => keep(new SqliteScheduleStore(join(fx.dir, `${randomUUID()}.db`))));
describeScheduleStoreContract('redis-server', () =>
  keep(new RedisScheduleStore({ url: fx.redisUrl(), prefix: `test:${randomUUID()}:`, logger: silentLogger })),
);

describe('schedule stores on disk and shared', () => {
  it('a SQLite file keeps schedules, requests and send ids for the next process', async () => {
    const path = join(fx.dir, 'restart.db');
    const first = new SqliteScheduleStore(path);
    await first.create(oneOff('a'), new Uint8Array([0, 1, 0]));
    await first.create(schedule('b'), new Uint8Array([2]));
    await first.close();
    const second = keep(new SqliteScheduleStore(path));
    expect(await second.get('a')).toEqual(oneOff('a'));
    expect(await second.bySendId('send-a')).toEqual(oneOff('a'));
    expect(Array.from((await second.request('a'))!)).toEqual([0, 1, 0]);
    expect((await second.pending()).map((r) => r.scheduleId).sort()).toEqual(['a', 'b']);
  });

  it('redis: a schedule one replica creates, another reads, updates and deletes', async () => {
    const prefix = `test:${randomUUID()}:`;
    const one = keep(new RedisScheduleStore({ url: fx.redisUrl(), prefix, logger: silentLogger }));
    const two = keep(new RedisScheduleStore({ url: fx.redisUrl(), prefix, logger: silentLogger }));
    await one.create(oneOff('a'), new Uint8Array([5, 0, 5]));
    expect(await two.bySendId('send-a')).toEqual(oneOff('a'));
    expect(await two.create(oneOff('a', { sessionId: 's2' }), new Uint8Array([1]))).toBe(false);
    await two.update(oneOff('a', { runs: 1 }));
    expect((await one.get('a'))?.runs).toBe(1);
    expect(await two.delete('a')).toBe(true);
    expect(await one.get('a')).toBeUndefined();
    expect(await one.bySendId('send-a')).toBeUndefined();
  });

  it('redis: stores with different prefixes do not see each other', async () => {
    const one = keep(new RedisScheduleStore({ url: fx.redisUrl(), prefix: `test:${randomUUID()}:`, logger: silentLogger }));
    const two = keep(new RedisScheduleStore({ url: fx.redisUrl(), prefix: `test:${randomUUID()}:`, logger: silentLogger }));
    await one.create(oneOff('a'), new Uint8Array([1]));
    expect(await two.get('a')).toBeUndefined();
    expect(await two.pending()).toEqual([]);
    expect(await two.deleteSession('s1')).toBe(0);
    expect(await one.get('a')).toBeDefined();
  });

  it('redis down: calls reject naming the schedule store instead of hanging', async () => {
    const store = keep(new RedisScheduleStore({ url: 'redis://127.0.0.1:1', logger: silentLogger, commandTimeoutMs: 200 }));
    await expect(store.pending()).rejects.toThrow(/schedule store/);
  });
});

describe('createScheduleStore', () => {
  it('memory:// opens a store of its own each time', async () => {
    const a = keep(createScheduleStore('memory://', { logger: silentLogger }));
    const b = keep(createScheduleStore('memory://', { logger: silentLogger }));
    expect(a).toBeInstanceOf(MemoryScheduleStore);
    await a.create(schedule('x'), new Uint8Array([1]));
    expect(await b.get('x')).toBeUndefined();
  });

  it('sqlite://PATH opens that file, creating its folder', async () => {
    const path = join(fx.dir, 'nested', 'by-url.db');
    const store = keep(createScheduleStore(`sqlite://${path}`, { logger: silentLogger }));
    expect(store).toBeInstanceOf(SqliteScheduleStore);
    expect(existsSync(path)).toBe(true);
    await store.create(schedule('x'), new Uint8Array([1]));
    const again = keep(new SqliteScheduleStore(path));
    expect(await again.get('x')).toEqual(schedule('x'));
  });

  it('redis://… opens the redis store under the default prefix', async () => {
    const store = keep(createScheduleStore(fx.redisUrl(), { logger: silentLogger }));
    expect(store).toBeInstanceOf(RedisScheduleStore);
    const id = `by-url-${randomUUID()}`;
    await store.create(schedule(id), new Uint8Array([1]));
    const explicit = keep(new RedisScheduleStore({ url: fx.redisUrl(), prefix: 'storycast:schedules:', logger: silentLogger }));
    expect(await explicit.get(id)).toEqual(schedule(id));
    expect(await store.delete(id)).toBe(true);
  });

  it('refuses another scheme, naming the schedule store', () => {
    expect(() => createScheduleStore('postgres://db/x', { logger: silentLogger })).toThrow(/schedule store.*postgres:/);
  });
});
