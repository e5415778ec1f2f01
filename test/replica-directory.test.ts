/** The replica directory over a real redis-server: announcements, expiry on Redis' clock, least loaded first, withdrawal. */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../src/log.js';
import { ReplicaDirectory } from '../src/replicas/directory.js';
import { RedisConnection } from '../src/store/redis-connection.js';
import { startRedis, type RedisServer } from './support/redis.js';

describe('ReplicaDirectory', () => {
  let redis: RedisServer;
  const connections: RedisConnection[] = [];
  const directory = (prefix: string, ttlMs: number) => {
    const connection = new RedisConnection({ url: redis.url, logger: silentLogger, label: 'replica directory' });
    connections.push(connection);
    return new ReplicaDirectory(connection, { ttlMs, prefix });
  };

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await Promise.all(connections.map((c) => c.close()));
    await redis.stop();
  });

  it('lists live replicas least loaded first, ties by id, as every replica sees them', async () => {
    const a = directory('t1:', 5000);
    const b = directory('t1:', 5000);
    await a.announce({ id: 'r-b', address: 'http://127.0.0.1:2', sessions: 3 });
    await b.announce({ id: 'r-a', address: 'http://127.0.0.1:1', sessions: 3 });
    await b.announce({ id: 'r-c', address: 'http://127.0.0.1:3', sessions: 1 });
    const seen = await a.live();
    expect(seen.map((r) => [r.id, r.sessions])).toEqual([
      ['r-c', 1],
      ['r-a', 3],
      ['r-b', 3],
    ]);
    expect(seen[0]!.address).toBe('http://127.0.0.1:3');
    expect(await b.live()).toEqual(seen);
    // A refreshed announcement replaces the old one.
    await a.announce({ id: 'r-c', address: 'http://127.0.0.1:3', sessions: 9 });
    expect((await a.live()).map((r) => r.id)).toEqual(['r-a', 'r-b', 'r-c']);
  });

  it('drops a replica that stops announcing once its TTL passes, and one that withdraws at once', async () => {
    const d = directory('t2:', 300);
    await d.announce({ id: 'gone', address: 'http://127.0.0.1:9', sessions: 0 });
    await d.announce({ id: 'stays', address: 'http://127.0.0.1:8', sessions: 0 });
    expect((await d.live()).map((r) => r.id)).toEqual(['gone', 'stays']);
    for (let i = 0; i < 4; i++) {
      await sleep(150);
      await d.announce({ id: 'stays', address: 'http://127.0.0.1:8', sessions: 0 });
    }
    expect((await d.live()).map((r) => r.id)).toEqual(['stays']);
    await d.withdraw('stays');
    expect(await d.live()).toEqual([]);
  });
});
