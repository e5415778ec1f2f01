/**
 * Session ownership over real leases on a real redis-server: claim, keep by
 * renewing, lose at once when another replica takes over or Redis cannot
 * confirm, and hand over on a graceful stop.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../src/log.js';
import { SessionLeases } from '../src/replicas/leases.js';
import { SessionOwnership } from '../src/replicas/ownership.js';
import { RedisConnection } from '../src/store/redis-connection.js';
import { startRedis, type RedisServer } from './support/redis.js';

describe('SessionOwnership', () => {
  let redis: RedisServer;
  const closers: Array<() => Promise<void>> = [];

  const replica = (id: string, prefix: string, ttlMs = 600) => {
    const connection = new RedisConnection({ url: redis.url, logger: silentLogger, label: `replica ${id}` });
    const leases = new SessionLeases(connection, { replicaId: id, ttlMs, prefix });
    const lost: Array<[string, string]> = [];
    const ownership = new SessionOwnership({
      leases,
      renewEveryMs: ttlMs / 3,
      onLost: (sessionId, why) => lost.push([sessionId, why]),
      logger: silentLogger,
    });
    closers.push(async () => {
      await ownership.stop().catch(() => undefined);
      await connection.close();
    });
    return { ownership, leases, lost, connection };
  };

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    for (const close of closers) await close();
    await redis.stop();
  });

  it('one replica owns a session; renewing keeps it well past the TTL; its fence names its token', async () => {
    const a = replica('a', 'own1:');
    const b = replica('b', 'own1:');
    a.ownership.start();
    const lease = await a.ownership.claim('s1');
    expect(lease?.token).toBe(1);
    expect(await b.ownership.claim('s1')).toBeUndefined();
    await sleep(1500);
    expect(a.ownership.owns('s1')).toBe(true);
    expect(a.lost).toEqual([]);
    expect(a.ownership.fence('s1')).toEqual(a.leases.fence(lease!));
    expect(b.ownership.fence('s1')).toBeUndefined();
    // Concurrent claims on one replica take the lease once.
    const [x, y] = await Promise.all([a.ownership.claim('s2'), a.ownership.claim('s2')]);
    expect(x).toBe(y);
  });

  it('a replica that stops renewing loses the session to another, and learns it at its next renewal', async () => {
    const a = replica('a', 'own2:');
    const b = replica('b', 'own2:');
    await a.ownership.claim('s1');
    // a does not renew (no start): its lease lapses and b takes the session with a higher token.
    await sleep(700);
    const taken = await b.ownership.claim('s1');
    expect(taken?.token).toBe(2);
    await a.ownership.renewAll();
    expect(a.lost).toEqual([['s1', 'another replica holds the lease now']]);
    expect(a.ownership.owns('s1')).toBe(false);
    expect(a.ownership.fence('s1')).toBeUndefined();
  });

  it('lets go at once when Redis cannot confirm the lease', async () => {
    const a = replica('a', 'own3:');
    await a.ownership.claim('s1');
    // The connection is gone: renewing fails, and holding on unconfirmed could mean two senders.
    await a.connection.close();
    await a.ownership.renewAll();
    expect(a.lost).toHaveLength(1);
    expect(a.lost[0]![1]).toMatch(/could not be renewed/);
    expect(a.ownership.sessions).toEqual([]);
  });

  it('a graceful stop hands every session over at once, without waiting for the TTL', async () => {
    const a = replica('a', 'own4:', 60_000);
    const b = replica('b', 'own4:', 60_000);
    await a.ownership.claim('s1');
    await a.ownership.claim('s2');
    await a.ownership.stop();
    const s1 = await b.ownership.claim('s1');
    const s2 = await b.ownership.claim('s2');
    expect([s1?.token, s2?.token]).toEqual([2, 2]);
    await vi.waitFor(() => expect(b.ownership.sessions).toEqual(['s1', 's2']));
  });
});
