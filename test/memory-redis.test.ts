import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Clock } from '../src/clock.js';
import type { BatchRecord } from '../src/memory/history.js';
import { createSessionMemory } from '../src/memory/keyv-memory.js';
import { createKeyv } from '../src/memory/store.js';
import type { SessionMemory } from '../src/memory/types.js';
import { startRedis, type RedisServer } from './support/redis.js';

const clock: Clock = { now: () => 5_000_000, sleep: async () => undefined };
const ok = (size: number): BatchRecord => ({ size, durationMs: 800, ok: true, sizeRelated: true });
const fail = (size: number): BatchRecord => ({ size, durationMs: 15_000, ok: false, sizeRelated: true });

function captureLogger() {
  const lines: Array<{ level: number; msg: string }> = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, warnings: () => lines.filter((l) => l.level === 40) };
}

describe('session memory over a real redis-server', () => {
  let redis: RedisServer;
  const memories: SessionMemory[] = [];
  const replica = (logger = pino({ level: 'silent' })) => {
    const memory = createSessionMemory({
      url: redis.url,
      enabled: true,
      ttlMs: 3_600_000,
      clock,
      logger,
      namespace: 'test:redis-history',
      opTimeoutMs: 500,
    });
    memories.push(memory);
    return memory;
  };

  beforeAll(async () => {
    redis = await startRedis();
  });

  afterAll(async () => {
    await Promise.all(memories.map((m) => m.close()));
    await redis?.stop();
  });

  it('shares history between two replicas and degrades when redis dies', async () => {
    const a = replica();
    const bLog = captureLogger();
    const b = replica(bLog.logger);

    const recorder = a.begin('s1', await a.load('s1'));
    recorder.record(ok(1000));
    recorder.record(fail(5000));
    recorder.record(ok(4000));
    await recorder.flush();

    const seen = await b.load('s1');
    expect(seen).toMatchObject({ sessionId: 's1', maxProvenBatchSize: 4000, totalAttempts: 3, totalSuccessfulSends: 2 });

    // b's send adds to what a wrote rather than replacing it.
    const second = b.begin('s1', seen);
    second.record(ok(5000));
    await second.flush();
    expect(await a.load('s1')).toMatchObject({ maxProvenBatchSize: 5000, totalAttempts: 4 });

    const raw = createKeyv(redis.url, { namespace: 'test:redis-history', logger: pino({ level: 'silent' }) });
    expect(await raw.get('s1')).toMatchObject({ maxProvenBatchSize: 5000 });

    await redis.stop();

    // The adapter itself fails fast rather than queueing commands until redis returns
    // (the memory's own op timeout is only the second line of defence).
    const outcome = await Promise.race([
      raw.get('s1').then(
        () => 'resolved',
        (error: unknown) => error,
      ),
      new Promise((r) => setTimeout(r, 5000, 'still pending')),
    ]);
    expect(outcome).toBeInstanceOf(Error);
    await raw.disconnect();

    expect(await b.load('s1')).toBeNull();
    const degraded = b.begin('s1', null);
    degraded.record(ok(100));
    degraded.record(fail(200));
    await expect(degraded.flush()).resolves.toBeUndefined();
    expect(degraded.history?.totalAttempts).toBe(2);
    expect(bLog.warnings().some((w) => w.msg.includes('unavailable'))).toBe(true);
    expect(bLog.warnings().some((w) => w.msg.includes('write failed'))).toBe(true);
    await expect(b.reset('s1')).rejects.toThrow();
  });

  it('a replica that starts while redis is down degrades instead of hanging', async () => {
    await redis.stop();
    const { logger, warnings } = captureLogger();
    const late = replica(logger);
    expect(await late.load('s2')).toBeNull();
    expect(await late.load('s2')).toBeNull();
    const recorder = late.begin('s2', null);
    recorder.record(ok(100));
    await expect(recorder.flush()).resolves.toBeUndefined();
    expect(warnings().some((w) => w.msg.includes('unavailable'))).toBe(true);
  });
});
