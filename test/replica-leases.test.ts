import { randomUUID } from 'node:crypto';
import { createClient } from '@redis/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../src/log.js';
import { FENCE_CHECK, SessionLeases } from '../src/replicas/leases.js';
import { RedisConnection } from '../src/store/redis-connection.js';
import { startRedis, type RedisServer } from './support/redis.js';

let redis: RedisServer;
const connections: RedisConnection[] = [];

/** One replica: its own connection, as separate processes would have. */
function replica(url: string, replicaId: string, prefix: string, ttlMs = 300, commandTimeoutMs?: number): SessionLeases {
  const connection = new RedisConnection({
    url,
    logger: silentLogger,
    label: `leases ${replicaId}`,
    ...(commandTimeoutMs ? { commandTimeoutMs } : {}),
  });
  connections.push(connection);
  return new SessionLeases(connection, { replicaId, ttlMs, prefix });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  await Promise.all(connections.map((c) => c.close()));
  await redis?.stop();
});

describe('SessionLeases over a real redis-server', () => {
  it('hands a session to one replica at a time, with a token that rises with every new owner', async () => {
    const prefix = `test:${randomUUID()}:`;
    const a = replica(redis.url, 'replica-a', prefix);
    const b = replica(redis.url, 'replica-b', prefix);

    const first = await a.acquire('s1');
    expect(first).toEqual({ sessionId: 's1', token: 1, replicaId: 'replica-a' });
    expect(await b.acquire('s1')).toBeUndefined();
    // Another session is a separate lease with its own token sequence.
    expect(await b.acquire('s2')).toEqual({ sessionId: 's2', token: 1, replicaId: 'replica-b' });

    // Renewing keeps it past the first TTL: 4 renewals over ~400 ms > 300 ms.
    for (let i = 0; i < 4; i++) {
      await sleep(100);
      expect(await a.renew(first!)).toBe(true);
    }
    expect(await b.acquire('s1')).toBeUndefined();
    // Acquiring again while holding it is the same lease, extended: a retry after a timeout is harmless.
    expect(await a.acquire('s1')).toEqual(first);
    const heldByA = await b.holder('s1');
    expect(heldByA).toMatchObject({ replicaId: 'replica-a', token: 1 });
    expect(heldByA!.remainingMs).toBeGreaterThan(100);
    expect(heldByA!.remainingMs).toBeLessThanOrEqual(300);

    // A stops renewing (a pause, a partition): its lease lapses and B takes over with a higher token.
    await sleep(400);
    expect(await a.holder('s1')).toBeUndefined();
    const second = await b.acquire('s1');
    expect(second).toEqual({ sessionId: 's1', token: 2, replicaId: 'replica-b' });
    expect(await a.renew(first!)).toBe(false);
    // A cannot acquire it back while B holds it, and A's release of its old lease leaves B's alone.
    expect(await a.acquire('s1')).toBeUndefined();
    await a.release(first!);
    expect(await a.holder('s1')).toMatchObject({ replicaId: 'replica-b', token: 2 });
    expect(await b.renew(second!)).toBe(true);

    // A graceful handover: B releases and A gets it at once, not after the TTL, with a yet higher token.
    await b.release(second!);
    expect(await b.holder('s1')).toBeUndefined();
    const third = await a.acquire('s1');
    expect(third).toEqual({ sessionId: 's1', token: 3, replicaId: 'replica-a' });
    // B's lease, though the same replica id and session, is not the current one.
    expect(await b.renew(second!)).toBe(false);

    // Fenced writes compare against the fence key, which follows the newest owner's token and never expires.
    const raw = createClient({ url: redis.url });
    await raw.connect();
    try {
      expect(a.fenceKey('s1')).toBe(`${prefix}fence:s1`);
      expect(a.fence(third!)).toEqual({ key: `${prefix}fence:s1`, token: 3 });
      expect(await raw.get(a.fenceKey('s1'))).toBe('3');
      expect(await raw.pTTL(a.fenceKey('s1'))).toBe(-1);
      expect(await raw.get(`${prefix}lease:s1`)).toBe('replica-a:3');
    } finally {
      await raw.close();
    }
  });

  it('treats a lease as exactly one (replica, token): a same-named replica with another token does not own it', async () => {
    const prefix = `test:${randomUUID()}:`;
    const a = replica(redis.url, 'replica-a', prefix);
    const lease = (await a.acquire('s1'))!;
    const forged = { ...lease, token: lease.token + 1 };
    expect(await a.renew(forged)).toBe(false);
    await a.release(forged);
    expect(await a.holder('s1')).toMatchObject({ replicaId: 'replica-a', token: lease.token });
    await a.release(lease);
    expect(await a.holder('s1')).toBeUndefined();
  });

  it('keeps replica ids with colons apart from the token', async () => {
    const prefix = `test:${randomUUID()}:`;
    const a = replica(redis.url, 'pod:storycast-0:9000', prefix);
    const lease = (await a.acquire('s1'))!;
    expect(lease.token).toBe(1);
    expect(await a.acquire('s1')).toEqual(lease);
    expect(await a.holder('s1')).toMatchObject({ replicaId: 'pod:storycast-0:9000', token: 1 });
    expect(await a.renew(lease)).toBe(true);
  });

  it('gives a contested session to exactly one of 10 replicas', async () => {
    const prefix = `test:${randomUUID()}:`;
    const replicas = Array.from({ length: 10 }, (_, i) => replica(redis.url, `replica-${i}`, prefix, 10_000));
    // Connect them all first, so the acquires race at redis rather than queue behind connecting.
    await Promise.all(replicas.map((r) => r.holder('warm-up')));
    const results = await Promise.all(replicas.map((r) => r.acquire('contested')));
    const winners = results.filter((l) => l !== undefined);
    expect(winners).toHaveLength(1);
    expect(winners[0]!.token).toBe(1);
    expect(await replicas[0]!.holder('contested')).toMatchObject({ replicaId: winners[0]!.replicaId, token: 1 });
  });

  it("lets another store's own script check the fence with FENCE_CHECK before it writes", async () => {
    const prefix = `test:${randomUUID()}:`;
    const a = replica(redis.url, 'replica-a', prefix);
    const b = replica(redis.url, 'replica-b', prefix);
    const old = (await a.acquire('s1'))!;
    await a.release(old);
    const current = (await b.acquire('s1'))!;
    // The convention: KEYS[1] the fence key, ARGV[1] the token ('' for unfenced); the script's own keys and arguments follow.
    const script = `${FENCE_CHECK}\nreturn redis.call('SET', KEYS[2], ARGV[2])`;
    const target = `${prefix}other-store:x`;
    const raw = createClient({ url: redis.url });
    await raw.connect();
    try {
      const write = (token: string, value: string) => raw.eval(script, { keys: [a.fenceKey('s1'), target], arguments: [token, value] });
      await expect(write(String(old.token), 'stale')).rejects.toThrow(/^FENCED /);
      expect(await raw.get(target)).toBeNull();
      expect(await write(String(current.token), 'fresh')).toBe('OK');
      expect(await write('', 'unfenced')).toBe('OK');
      expect(await raw.get(target)).toBe('unfenced');
    } finally {
      await raw.close();
    }
  });

  it('rejects promptly, not hanging, when redis is down', { timeout: 30_000 }, async () => {
    const doomed = await startRedis();
    const prefix = `test:${randomUUID()}:`;
    const a = replica(doomed.url, 'replica-a', prefix, 5_000, 500);
    const lease = (await a.acquire('s1'))!;
    await doomed.stop();

    const started = Date.now();
    await expect(a.acquire('s1')).rejects.toThrow();
    await expect(a.renew(lease)).rejects.toThrow();
    await expect(a.release(lease)).rejects.toThrow();
    await expect(a.holder('s1')).rejects.toThrow();
    // Four calls, each bounded by the 500 ms command timeout (the client refuses at once while reconnecting).
    expect(Date.now() - started).toBeLessThan(2_500);
  });

  it('refuses a ttl that PX cannot take', () => {
    const connection = new RedisConnection({ url: redis.url, logger: silentLogger, label: 'leases' });
    connections.push(connection);
    expect(() => new SessionLeases(connection, { replicaId: 'a', ttlMs: 0 })).toThrow(RangeError);
    expect(() => new SessionLeases(connection, { replicaId: 'a', ttlMs: 1.5 })).toThrow(RangeError);
    expect(() => new SessionLeases(connection, { replicaId: '', ttlMs: 1_000 })).toThrow(RangeError);
  });
});
