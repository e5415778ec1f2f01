import { randomUUID } from 'node:crypto';
import { Code, createClient as createRpcClient } from '@connectrpc/connect';
import { createClient } from '@redis/client';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../src/log.js';
import { FencedError, SessionLeases } from '../src/replicas/leases.js';
import { RedisConnection } from '../src/store/redis-connection.js';
import { RedisSendStore } from '../src/sends/redis-store.js';
import { describeSendStoreContract, planned, recipientsOf, record } from './support/send-store-contract.js';
import { ErrorInfoSchema } from '../src/gen/google/rpc/error_details_pb.js';
import { StoryService } from '../src/gen/storycast/v1/story_service_pb.js';
import type { SimulatedNetwork } from '../src/transport/sim/network.js';
import { startRedis, type RedisServer } from './support/redis.js';
import { numbers } from './support/scripted-transport.js';
import { createTestApp } from './support/storycast-server.js';
import { collectStream } from './support/streams.js';

const text = { content: { case: 'text' as const, value: { text: 'hi' } } };

let redis: RedisServer;
const open: RedisSendStore[] = [];
const storeAt = (url: string, prefix: string, logger = silentLogger) => {
  const store = new RedisSendStore({ url, prefix, logger });
  open.push(store);
  return store;
};

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  await Promise.all(open.map((s) => s.close()));
  await redis?.stop();
});

describeSendStoreContract('RedisSendStore', async () => {
  // Each test on its own prefix: one server, no flushing between tests.
  const store = storeAt(redis.url, `test:${randomUUID()}:`);
  return { store, cleanup: () => store.close() };
});

const progress = (delivered: number) => ({ total: 1_000, delivered, failed: 0, remaining: 1_000 - delivered });
const anchor = { type: 'anchor', messageId: '3EB0AA', recipients: 1, durationMs: 700, attempts: 1 } as const;

describe('RedisSendStore over a real redis-server', () => {
  it('lets a new instance read back what another wrote, under its prefix only', async () => {
    const prefix = `test:${randomUUID()}:`;
    const first = storeAt(redis.url, prefix);
    await first.connect();
    await first.create(
      record('restart-1', 1_000, { requestId: 'req-restart' }),
      { event: planned('restart-1', 1_000), checkpoint: { cursor: 0 } },
      recipientsOf(4),
    );
    await first.saveStory('restart-1', new Uint8Array([0, 0xff, 0xc3, 0x28]));
    await first.append('restart-1', { event: anchor, checkpoint: { delivered: [0] } }, { at: 1_100, progress: progress(1) });
    await first.create(record('restart-2', 1_001), { event: planned('restart-2', 1_000) }, recipientsOf(2));
    await first.finish('restart-2', { state: 'CANCELLED', at: 1_200 });
    await first.close();

    const second = storeAt(redis.url, prefix);
    expect(await second.unfinished()).toEqual(['restart-1']);
    expect(await second.findByRequestId('req-restart')).toMatchObject({ sendId: 'restart-1', events: 2 });
    const journal = await second.journal('restart-1');
    expect(journal?.recipients).toEqual(recipientsOf(4));
    expect(journal?.story && Array.from(journal.story)).toEqual([0, 0xff, 0xc3, 0x28]);
    expect(journal?.entries).toEqual([
      { event: planned('restart-1', 1_000), checkpoint: { cursor: 0 } },
      { event: anchor, checkpoint: { delivered: [0] } },
    ]);
    expect((await second.list({ limit: 10 })).map((r) => r.sendId)).toEqual(['restart-2', 'restart-1']);

    const raw = createClient({ url: redis.url });
    await raw.connect();
    const keys = await raw.keys(`${prefix}*`);
    const other = await raw.keys('*');
    await raw.close();
    // A finished send keeps its record and events; what only a resume needs is gone.
    expect(keys.filter((k) => k.includes('restart-2')).sort()).toEqual([`${prefix}events:restart-2`, `${prefix}send:restart-2`]);
    expect(other.filter((k) => k.includes('restart-')).sort()).toEqual(keys.filter((k) => k.includes('restart-')).sort());
  });

  it('sweeps more sends than one batch, and lists past a page of non-matching ones', async () => {
    const store = storeAt(redis.url, `test:${randomUUID()}:`);
    const n = 1_201;
    const id = (i: number) => `bulk-${String(i).padStart(4, '0')}`;
    await Promise.all(
      Array.from({ length: n }, (_, i) => store.create(record(id(i), 1_000 + i), { event: planned(id(i), 10) }, recipientsOf(2))),
    );
    await store.create(record('keeper', 500, { sessionId: 'rare' }), { event: planned('keeper', 10) }, recipientsOf(2));
    // The one match is older than every page of 64 the scan reads before it.
    expect((await store.list({ limit: 1, sessionId: 'rare' })).map((r) => r.sendId)).toEqual(['keeper']);
    await Promise.all(Array.from({ length: n }, (_, i) => store.finish(id(i), { state: 'SUCCEEDED', at: 5_000 + i })));
    expect(await store.sweep(5_000 + n)).toBe(n);
    expect((await store.list({ limit: 10 })).map((r) => r.sendId)).toEqual(['keeper']);
    expect(await store.events(id(600), 0)).toEqual([]);
  });

  it('rejects instead of hanging when redis is down, and closes cleanly', { timeout: 60_000 }, async () => {
    const doomed = await startRedis();
    const warnings: unknown[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line)) });
    const store = storeAt(doomed.url, `test:${randomUUID()}:`, logger);
    await store.create(record('s1', 1_000), { event: planned('s1', 1_000) }, recipientsOf(3));
    await doomed.stop();

    await expect(store.create(record('s2', 1_001), { event: planned('s2', 1_000) }, recipientsOf(3))).rejects.toThrow();
    await expect(store.append('s1', { event: anchor }, { at: 1_100, progress: progress(1) })).rejects.toThrow();
    await expect(store.finish('s1', { state: 'FAILED', at: 1_200 })).rejects.toThrow();
    await expect(store.journal('s1')).rejects.toThrow();
    expect(warnings.length).toBeGreaterThan(0);
    await store.close();
    await expect(store.get('s1')).rejects.toThrow(/closed/);
  });

  it('rejects the first call when redis was never reachable', { timeout: 60_000 }, async () => {
    const gone = await startRedis();
    await gone.stop();
    const store = storeAt(gone.url, `test:${randomUUID()}:`);
    await expect(store.create(record('s1', 1_000), { event: planned('s1', 1_000) }, recipientsOf(3))).rejects.toThrow(/unavailable/);
    await expect(store.connect()).rejects.toThrow(/unavailable/);
    await store.close();
  });
});

describe('RedisSendStore with fenced writes (session leases on the same redis)', () => {
  const connections: RedisConnection[] = [];
  afterAll(async () => {
    await Promise.all(connections.map((c) => c.close()));
  });
  const replica = (replicaId: string, prefix: string, ttlMs: number) => {
    const connection = new RedisConnection({ url: redis.url, logger: silentLogger, label: `leases ${replicaId}` });
    connections.push(connection);
    return new SessionLeases(connection, { replicaId, ttlMs, prefix });
  };

  it("refuses the old owner's writes after a takeover, leaving the journal as it was, and takes the new owner's", async () => {
    const prefix = `test:${randomUUID()}:`;
    const a = replica('replica-a', `${prefix}leases:`, 250);
    const b = replica('replica-b', `${prefix}leases:`, 250);
    // Each replica writes through its own store, as separate processes would.
    const storeA = storeAt(redis.url, `${prefix}sends:`);
    const storeB = storeAt(redis.url, `${prefix}sends:`);

    const leaseA = (await a.acquire('session-1'))!;
    const fenceA = a.fence(leaseA);
    await storeA.create(
      record('f1', 1_000, { requestId: 'req-f1' }),
      { event: planned('f1', 1_000), checkpoint: { cursor: 0 } },
      recipientsOf(4),
      fenceA,
    );
    await storeA.saveStory('f1', new Uint8Array([1, 2, 3]), fenceA);
    await storeA.append('f1', { event: anchor, checkpoint: { delivered: [0] } }, { at: 1_100, progress: progress(1) }, fenceA);

    // A pauses past its TTL without renewing; B takes the session over.
    await new Promise((r) => setTimeout(r, 350));
    const leaseB = (await b.acquire('session-1'))!;
    expect(leaseB.token).toBeGreaterThan(leaseA.token);
    const fenceB = b.fence(leaseB);

    const recordBefore = await storeB.get('f1');
    const journalBefore = await storeB.journal('f1');
    expect(recordBefore?.events).toBe(2);

    // A wakes up and carries on: every write is refused, atomically, and nothing changes.
    await expect(
      storeA.append('f1', { event: anchor, checkpoint: { delivered: [1] } }, { at: 1_200, progress: progress(2) }, fenceA),
    ).rejects.toThrow(FencedError);
    await expect(storeA.saveStory('f1', new Uint8Array([9, 9]), fenceA)).rejects.toThrow(FencedError);
    await expect(storeA.finish('f1', { state: 'FAILED', at: 1_300 }, fenceA)).rejects.toThrow(FencedError);
    await expect(storeA.create(record('f2', 1_001), { event: planned('f2', 1_000) }, recipientsOf(2), fenceA)).rejects.toThrow(
      /FENCED .*fence:session-1 is at token 2, not 1/,
    );
    expect(await storeB.get('f1')).toEqual(recordBefore);
    expect(await storeB.journal('f1')).toEqual(journalBefore);
    expect(await storeB.events('f1', 0)).toHaveLength(2);
    expect(await storeB.get('f2')).toBeUndefined();
    expect(await storeB.unfinished()).toEqual(['f1']);

    // The new owner's writes, with the new token, land.
    await storeB.append('f1', { event: anchor, checkpoint: { delivered: [1] } }, { at: 1_400, progress: progress(2) }, fenceB);
    expect(await storeB.get('f1')).toMatchObject({ events: 3, updatedAt: 1_400, progress: progress(2) });
    await storeB.finish('f1', { state: 'SUCCEEDED', at: 1_500 }, fenceB);
    expect(await storeA.get('f1')).toMatchObject({ state: 'SUCCEEDED', finishedAt: 1_500, events: 3 });
    expect(await storeA.unfinished()).toEqual([]);
  });

  it('refuses a fenced write when no owner was ever recorded for the fence key', async () => {
    const prefix = `test:${randomUUID()}:`;
    const store = storeAt(redis.url, prefix);
    const fence = { key: `${prefix}fence:nobody`, token: 1 };
    await expect(store.create(record('n1', 1_000), { event: planned('n1', 1_000) }, recipientsOf(2), fence)).rejects.toThrow(FencedError);
    expect(await store.get('n1')).toBeUndefined();
  });

  it('writes without a fence as before (one owner), also after redis forgets its scripts', async () => {
    const prefix = `test:${randomUUID()}:`;
    const store = storeAt(redis.url, prefix);
    await store.create(record('u1', 1_000), { event: planned('u1', 1_000) }, recipientsOf(2));
    // SCRIPT FLUSH (or a redis restart) drops the cached scripts: the next write falls back from EVALSHA to EVAL.
    const raw = createClient({ url: redis.url });
    await raw.connect();
    await raw.scriptFlush();
    await raw.close();
    await store.saveStory('u1', new Uint8Array([0, 0xff]));
    await store.append('u1', { event: anchor }, { at: 1_100, progress: progress(1) });
    expect((await store.journal('u1'))?.story).toEqual(new Uint8Array([0, 0xff]));
    await store.finish('u1', { state: 'CANCELLED', at: 1_200, failure: { reason: 'CANCELLED', message: 'by the client' } });
    expect(await store.get('u1')).toMatchObject({
      state: 'CANCELLED',
      events: 2,
      finishedAt: 1_200,
      failure: { reason: 'CANCELLED', message: 'by the client' },
    });
  });
});

describe('a new send when the journal is down (redis-server stopped)', () => {
  it('is UNAVAILABLE with JOURNAL_UNAVAILABLE, and nothing is sent', async () => {
    const redis = await startRedis();
    const t = await createTestApp({ STORYCAST_STORE: redis.url });
    try {
      const stories = createRpcClient(StoryService, t.transport);
      // Up: a send goes through and is journaled.
      const ok = await collectStream(stories.sendStory({ sessionId: 'down', story: text, recipients: numbers(3) }));
      expect(ok.events.at(-1)?.event.case).toBe('summary');
      const network = t.runtime.transport as SimulatedNetwork;
      const callsBefore = network.oracle.calls.length;
      await redis.stop();
      const { events, error } = await collectStream(stories.sendStory({ sessionId: 'down', story: text, recipients: numbers(300) }));
      expect(events).toEqual([]);
      expect(error?.code).toBe(Code.Unavailable);
      expect(error?.findDetails(ErrorInfoSchema)[0]?.reason).toBe('JOURNAL_UNAVAILABLE');
      expect(network.oracle.calls.length).toBe(callsBefore);
      expect(network.oracle.prepareCount('down')).toBe(1);
    } finally {
      await t.close();
      await redis.stop();
    }
  }, 60_000);
});
