import { randomUUID } from 'node:crypto';
import { Code, createClient as createRpcClient } from '@connectrpc/connect';
import { createClient } from '@redis/client';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../src/log.js';
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
