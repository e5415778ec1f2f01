import { randomUUID } from 'node:crypto';
import { createClient } from '@redis/client';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisExperimentStore } from '../src/experiments/redis-store.js';
import { silentLogger } from '../src/log.js';
import { describeExperimentStoreContract, experiment, outcome } from './support/experiment-store-contract.js';
import { startRedis, type RedisServer } from './support/redis.js';

let redis: RedisServer;
const open: RedisExperimentStore[] = [];
const storeAt = (url: string, prefix: string, logger = silentLogger) => {
  const store = new RedisExperimentStore({ url, prefix, logger });
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

describeExperimentStoreContract('RedisExperimentStore', async () => {
  // Each test on its own prefix: one server, no flushing between tests.
  const store = storeAt(redis.url, `test:${randomUUID()}:`);
  return { store, cleanup: () => store.close() };
});

describe('RedisExperimentStore over a real redis-server', () => {
  it('lets a new instance read back what another wrote, under its prefix only', async () => {
    const prefix = `test:${randomUUID()}:`;
    const first = storeAt(redis.url, prefix);
    await first.connect();
    await first.create(experiment('running', 1_000, { coverage: 0.1 + 0.2 }));
    await first.create(experiment('stopped', 2_000, { unit: 'SEND' }));
    await first.assign('running', 'session-1', 'bold');
    await first.record(outcome('stopped', 'send-1', 2_500, { arm: 'bold', durationMs: 12.5 }));
    await first.stop('stopped', { at: 3_000, winner: 'bold' });
    await first.close();

    const second = storeAt(redis.url, prefix);
    expect(await second.get('running')).toEqual(experiment('running', 1_000, { coverage: 0.1 + 0.2 }));
    expect(await second.get('stopped')).toEqual({
      ...experiment('stopped', 2_000, { unit: 'SEND' }),
      state: 'STOPPED',
      stoppedAt: 3_000,
      winner: 'bold',
    });
    expect((await second.list({ limit: 10, state: 'RUNNING' })).map((e) => e.key)).toEqual(['running']);
    expect(await second.assign('running', 'session-1', 'control')).toBe('bold');
    expect(await second.outcomes('stopped')).toEqual([outcome('stopped', 'send-1', 2_500, { arm: 'bold', durationMs: 12.5 })]);
    await expect(second.create(experiment('running', 5_000))).rejects.toThrow(/already exists/);

    const raw = createClient({ url: redis.url });
    await raw.connect();
    const keys = (await raw.keys(`${prefix}*`)).sort();
    const arms = await raw.hGet(`${prefix}experiment:running`, 'arms');
    const index = async (name: string) => raw.zRange(`${prefix}${name}`, 0, -1);
    // list() re-checks each state it reads, so a stale index would only cost scans: check the indexes themselves.
    const [all, running, stopped] = await Promise.all([index('all'), index('state:RUNNING'), index('state:STOPPED')]);
    await raw.close();
    expect(all).toEqual(['0000000000001000:running', '0000000000002000:stopped']);
    expect(running).toEqual(['0000000000001000:running']);
    expect(stopped).toEqual(['0000000000002000:stopped']);
    expect(keys).toEqual(
      ['all', 'assignments:running', 'experiment:running', 'experiment:stopped', 'outcomes:stopped', 'state:RUNNING', 'state:STOPPED'].map(
        (k) => `${prefix}${k}`,
      ),
    );
    expect(JSON.parse(arms ?? 'null')).toEqual(experiment('running', 1_000).arms);
  });

  it('gives one arm to a unit that two instances (two replicas) assign at once', async () => {
    const prefix = `test:${randomUUID()}:`;
    const a = storeAt(redis.url, prefix);
    const b = storeAt(redis.url, prefix);
    await Promise.all([a.connect(), b.connect()]);
    const arms = await Promise.all(
      Array.from({ length: 400 }, (_, i) => (i % 2 ? a : b).assign('exp-1', `unit-${i % 40}`, i % 3 ? 'bold' : 'control')),
    );
    for (let u = 0; u < 40; u++) {
      const seen = new Set(arms.filter((_, i) => i % 40 === u));
      expect(seen.size).toBe(1);
      expect(await a.assignment('exp-1', `unit-${u}`)).toBe([...seen][0]);
    }
    const created = await Promise.allSettled([a.create(experiment('once', 1_000)), b.create(experiment('once', 1_001))]);
    expect(created.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  });

  it('rejects instead of hanging when redis is down, and closes cleanly', { timeout: 60_000 }, async () => {
    const doomed = await startRedis();
    const warnings: unknown[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line)) });
    const store = storeAt(doomed.url, `test:${randomUUID()}:`, logger);
    await store.create(experiment('exp-1', 1_000));
    await doomed.stop();

    const started = Date.now();
    await expect(store.create(experiment('exp-2', 1_001))).rejects.toThrow();
    await expect(store.get('exp-1')).rejects.toThrow();
    await expect(store.list({ limit: 10 })).rejects.toThrow();
    await expect(store.stop('exp-1', { at: 2_000 })).rejects.toThrow();
    await expect(store.assign('exp-1', 'session-1', 'bold')).rejects.toThrow();
    await expect(store.assignment('exp-1', 'session-1')).rejects.toThrow();
    await expect(store.record(outcome('exp-1', 'send-1', 1_500))).rejects.toThrow();
    await expect(store.outcomes('exp-1')).rejects.toThrow();
    // Eight calls, each bounded by the command timeout (2 s) at worst; in practice they are refused at once.
    expect(Date.now() - started).toBeLessThan(16_000);
    expect(warnings.length).toBeGreaterThan(0);
    await store.close();
    await expect(store.get('exp-1')).rejects.toThrow(/closed/);
  });

  it('rejects the first call when redis was never reachable', { timeout: 60_000 }, async () => {
    const gone = await startRedis();
    await gone.stop();
    const store = storeAt(gone.url, `test:${randomUUID()}:`);
    await expect(store.create(experiment('exp-1', 1_000))).rejects.toThrow(/unavailable/);
    await expect(store.assign('exp-1', 'session-1', 'bold')).rejects.toThrow(/unavailable/);
    await expect(store.connect()).rejects.toThrow(/unavailable/);
    await store.close();
  });
});
