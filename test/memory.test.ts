import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keyv } from 'keyv';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Clock } from '../src/clock.js';
import { silentLogger } from '../src/log.js';
import type { BatchRecord } from '../src/memory/history.js';
import { createSessionMemory, DisabledMemory, KeyvSessionMemory } from '../src/memory/keyv-memory.js';
import { createKeyv, sweepExpired } from '../src/memory/store.js';
import type { SessionMemory } from '../src/memory/types.js';

const HOUR = 3_600_000;
const NS = 'test:session-history';

class FakeClock implements Clock {
  constructor(public t = 1_000_000) {}
  now(): number {
    return this.t;
  }
  async sleep(ms: number): Promise<void> {
    this.t += ms;
  }
}

function captureLogger() {
  const lines: Array<{ level: number; msg: string; err?: { message?: string } }> = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines, warnings: () => lines.filter((l) => l.level === 40) };
}

const ok = (size: number, durationMs = 1000): BatchRecord => ({ size, durationMs, ok: true, sizeRelated: true });
const fail = (size: number, durationMs = 15_000): BatchRecord => ({ size, durationMs, ok: false, sizeRelated: true });

const open: SessionMemory[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((m) => m.close()));
});

function memoryOver(
  keyv: Keyv,
  clock: Clock,
  extra: Partial<{ ttlMs: number; opTimeoutMs: number; logger: ReturnType<typeof captureLogger>['logger'] }> = {},
) {
  const memory = new KeyvSessionMemory({
    keyv,
    clock,
    ttlMs: extra.ttlMs ?? 24 * HOUR,
    logger: extra.logger ?? silentLogger,
    opTimeoutMs: extra.opTimeoutMs,
  });
  open.push(memory);
  return memory;
}

function inMemory(clock: Clock = new FakeClock(), ttlMs = 24 * HOUR) {
  return memoryOver(createKeyv('memory://', { namespace: NS, logger: silentLogger }), clock, { ttlMs });
}

async function send(memory: SessionMemory, sessionId: string, batches: BatchRecord[]) {
  const recorder = memory.begin(sessionId, await memory.load(sessionId));
  for (const b of batches) recorder.record(b);
  await recorder.flush();
  return recorder;
}

describe('KeyvSessionMemory over memory://', () => {
  it('raises the proven size on success and never on failure', async () => {
    const memory = inMemory();
    const recorder = await send(memory, 's1', [ok(100), ok(1000), fail(5000), fail(8000)]);
    expect(recorder.history?.maxProvenBatchSize).toBe(1000);
    const stored = await memory.load('s1');
    expect(stored?.maxProvenBatchSize).toBe(1000);
    expect(stored?.totalAttempts).toBe(4);
  });

  it('downgrades: proven 5000, 5000 fails, 2000 and 4000 succeed -> 4000 stored', async () => {
    const memory = inMemory();
    await send(memory, 's1', [ok(5000)]);
    expect((await memory.load('s1'))?.maxProvenBatchSize).toBe(5000);
    const recorder = await send(memory, 's1', [fail(5000), ok(2000), ok(4000)]);
    expect(recorder.history?.maxProvenBatchSize).toBe(4000);
    expect((await memory.load('s1'))?.maxProvenBatchSize).toBe(4000);
  });

  it('downgrades the same way when each batch is written before the next is recorded', async () => {
    const memory = inMemory();
    await send(memory, 's1', [ok(5000)]);
    const recorder = memory.begin('s1', await memory.load('s1'));
    for (const batch of [fail(5000), ok(2000), ok(4000)]) {
      recorder.record(batch);
      await recorder.flush();
    }
    expect((await memory.load('s1'))?.maxProvenBatchSize).toBe(4000);
  });

  it('keeps successRate as successes / attempts and the EMA over successes only', async () => {
    const memory = inMemory();
    await send(memory, 's1', [ok(100, 1000), fail(500, 99_999), ok(500, 2000), ok(1000, 3000)]);
    const h = (await memory.load('s1'))!;
    expect(h.totalAttempts).toBe(4);
    expect(h.totalSuccessfulSends).toBe(3);
    expect(h.successRate).toBeCloseTo(3 / 4);
    // first sample seeds the EMA; then 0.8 old + 0.2 new
    expect(h.averageBatchTime).toBeCloseTo((1000 * 0.8 + 2000 * 0.2) * 0.8 + 3000 * 0.2);
  });

  it('ignores history older than the TTL counted from the last success', async () => {
    const clock = new FakeClock();
    const memory = inMemory(clock, 1000);
    await send(memory, 's1', [ok(500)]);
    clock.t += 1000;
    expect(await memory.load('s1')).not.toBeNull();
    clock.t += 1;
    expect(await memory.load('s1')).toBeNull();
  });

  it('a failure does not extend the TTL; its store TTL is the remaining time', async () => {
    const clock = new FakeClock();
    const keyv = createKeyv('memory://', { namespace: NS, logger: silentLogger });
    const memory = memoryOver(keyv, clock, { ttlMs: 1000 });
    await send(memory, 's1', [ok(500)]);
    clock.t += 600;
    const before = Date.now();
    await send(memory, 's1', [fail(1000)]);
    const raw = await keyv.getRaw('s1');
    expect(raw?.expires).toBeLessThanOrEqual(Date.now() + 400);
    expect(raw?.expires).toBeGreaterThanOrEqual(before + 400);
    clock.t += 401;
    expect(await memory.load('s1')).toBeNull();
  });

  it('a success refreshes the TTL', async () => {
    const clock = new FakeClock();
    const keyv = createKeyv('memory://', { namespace: NS, logger: silentLogger });
    const memory = memoryOver(keyv, clock, { ttlMs: 1000 });
    await send(memory, 's1', [ok(500)]);
    clock.t += 600;
    const before = Date.now();
    await send(memory, 's1', [ok(700)]);
    expect((await keyv.getRaw('s1'))?.expires).toBeGreaterThanOrEqual(before + 1000);
    clock.t += 900; // 1500 after the first success, 900 after the second
    expect((await memory.load('s1'))?.maxProvenBatchSize).toBe(700);
  });

  it('starts from scratch when the stored history has expired', async () => {
    const clock = new FakeClock();
    const memory = inMemory(clock, 1000);
    await send(memory, 's1', [ok(5000), ok(5000)]);
    clock.t += 2000;
    await send(memory, 's1', [ok(100)]);
    const h = (await memory.load('s1'))!;
    expect(h.maxProvenBatchSize).toBe(100);
    expect(h.totalAttempts).toBe(1);
  });

  it("two concurrent sends on one session keep each other's attempts", async () => {
    // A store that yields on every call, so an unlocked read-modify-write would interleave.
    const map = new Map<string, unknown>();
    const tick = () => new Promise((r) => setImmediate(r));
    const slow = {
      get: async (k: string) => {
        await tick();
        return map.get(k);
      },
      set: async (k: string, v: unknown) => {
        await tick();
        map.set(k, v);
        return true;
      },
      delete: async (k: string) => {
        await tick();
        return map.delete(k);
      },
      clear: async () => map.clear(),
    };
    const memory = memoryOver(new Keyv({ store: slow, namespace: NS, throwOnErrors: true }), new FakeClock());
    const a = memory.begin('s1', null);
    const b = memory.begin('s1', null);
    for (let i = 0; i < 10; i++) {
      a.record(ok(100 + i));
      b.record(i % 2 === 0 ? fail(50) : ok(200 + i));
      await tick();
    }
    await Promise.all([a.flush(), b.flush()]);
    const h = (await memory.load('s1'))!;
    expect(h.totalAttempts).toBe(20);
    expect(h.totalSuccessfulSends).toBe(15);
    expect(h.maxProvenBatchSize).toBe(209);
    expect(a.history?.totalAttempts).toBe(10); // the local view is this send's alone
  });

  it('reset forgets a session and says whether there was anything', async () => {
    const memory = inMemory();
    await send(memory, 's1', [ok(100)]);
    await send(memory, 's2', [ok(200)]);
    expect(await memory.reset('s1')).toBe(true);
    expect(await memory.load('s1')).toBeNull();
    expect(await memory.reset('s1')).toBe(false);
    expect((await memory.load('s2'))?.maxProvenBatchSize).toBe(200);
  });

  it('remembers the smallest size that failed at or above the proven size, apart from it, until one that large works', async () => {
    const memory = inMemory();
    // A weak account's first send: 1000 hangs, 333 works, 577 hangs, 409 works, 465 hangs, 427 works.
    await send(memory, 's1', [fail(1000), ok(333), fail(577), ok(409), fail(465), ok(427)]);
    let h = (await memory.load('s1'))!;
    expect(h.maxProvenBatchSize).toBe(427);
    expect(h.minFailedBatchSize).toBe(465);
    // A failure below the proven size (a random one) is no limit.
    await send(memory, 's1', [fail(200), ok(300)]);
    expect((await memory.load('s1'))!.minFailedBatchSize).toBe(465);
    // The network got better: 500 works, and the limit is forgotten.
    await send(memory, 's1', [ok(500)]);
    h = (await memory.load('s1'))!;
    expect(h.maxProvenBatchSize).toBe(500);
    expect(h.minFailedBatchSize).toBe(0);
  });

  it('reads a history stored before minFailedBatchSize existed as having none', async () => {
    const keyv = createKeyv('memory://', { namespace: NS, logger: silentLogger });
    const clock = new FakeClock();
    const memory = memoryOver(keyv, clock);
    const old = {
      sessionId: 's1',
      maxProvenBatchSize: 3000,
      lastSuccessfulSend: clock.t,
      totalSuccessfulSends: 4,
      totalAttempts: 5,
      averageBatchTime: 2600,
      successRate: 0.8,
    };
    await keyv.set('s1', old);
    expect(await memory.load('s1')).toEqual({ ...old, minFailedBatchSize: 0 });
  });

  it('treats a malformed stored value as no history', async () => {
    const { logger, warnings } = captureLogger();
    const keyv = createKeyv('memory://', { namespace: NS, logger });
    const memory = memoryOver(keyv, new FakeClock(), { logger });
    await keyv.set('s1', { sessionId: 's1', maxProvenBatchSize: 'lots' });
    expect(await memory.load('s1')).toBeNull();
    expect(warnings().some((w) => w.msg.includes('malformed'))).toBe(true);
  });
});

describe('DisabledMemory', () => {
  it('remembers nothing', async () => {
    const memory = createSessionMemory({ url: 'memory://', enabled: false, ttlMs: HOUR, clock: new FakeClock(), logger: silentLogger });
    expect(memory).toBeInstanceOf(DisabledMemory);
    expect(memory.enabled).toBe(false);
    const recorder = await send(memory, 's1', [ok(5000)]);
    expect(recorder.history).toBeNull();
    expect(await memory.load('s1')).toBeNull();
    expect(await memory.reset('s1')).toBe(false);
    await memory.close();
  });
});

describe('createKeyv', () => {
  it('rejects unknown schemes, naming the URL and the supported ones', () => {
    expect(() => createKeyv('mongodb://x/y', { namespace: NS, logger: silentLogger })).toThrow(
      /mongodb:\/\/x\/y.*sqlite:\/\/.*redis:\/\/.*memory:\/\//,
    );
  });

  it('makes store failures throw instead of reading as misses', () => {
    expect(createKeyv('memory://', { namespace: NS, logger: silentLogger }).throwOnErrors).toBe(true);
  });
});

describe('store down', () => {
  const rejecting = () => ({
    get: async () => Promise.reject(new Error('store is down')),
    set: async () => Promise.reject(new Error('store is down')),
    delete: async () => Promise.reject(new Error('store is down')),
    clear: async () => undefined,
  });
  const hanging = () => ({
    get: () => new Promise(() => {}),
    set: () => new Promise(() => {}),
    delete: () => new Promise(() => {}),
    clear: async () => undefined,
  });

  for (const [name, store] of [
    ['rejecting', rejecting],
    ['hanging', hanging],
  ] as const) {
    it(`${name} store: load is null, recording completes, errors are logged once per send`, async () => {
      const { logger, warnings } = captureLogger();
      const keyv = new Keyv({ store: store(), namespace: NS, throwOnErrors: true });
      const memory = memoryOver(keyv, new FakeClock(), { logger, opTimeoutMs: 30 });
      expect(await memory.load('s1')).toBeNull();
      expect(warnings().length).toBe(1);

      const recorder = memory.begin('s1', null);
      recorder.record(ok(100));
      await recorder.flush();
      recorder.record(ok(500));
      recorder.record(fail(1000));
      await expect(recorder.flush()).resolves.toBeUndefined();
      expect(recorder.history?.maxProvenBatchSize).toBe(500);
      const writeWarnings = warnings().filter((w) => w.msg.includes('write failed'));
      expect(writeWarnings).toHaveLength(1);
      expect(writeWarnings[0]?.err?.message).toMatch(name === 'hanging' ? /within 30 ms/ : /store is down/);
      await expect(memory.reset('s1')).rejects.toThrow();
    });
  }
});

describe('sqlite://', () => {
  let dir: string | undefined;
  afterEach(async () => {
    await Promise.all(open.splice(0).map((m) => m.close()));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('keeps history across a restart, creating the parent directory', async () => {
    dir = await mkdtemp(join(tmpdir(), 'storycast-mem-'));
    const url = `sqlite://${join(dir, 'nested', 'deeper', 'memory.sqlite')}`;
    const clock = new FakeClock();
    const first = createSessionMemory({ url, enabled: true, ttlMs: HOUR, clock, logger: silentLogger });
    await send(first, 's1', [ok(1000), fail(4000), ok(2000)]);
    await first.close();

    const second = createSessionMemory({ url, enabled: true, ttlMs: HOUR, clock, logger: silentLogger });
    open.push(second);
    const h = await second.load('s1');
    expect(h).toMatchObject({ sessionId: 's1', maxProvenBatchSize: 2000, totalAttempts: 3, totalSuccessfulSends: 2 });
  });

  it('sweeps expired rows and keeps live ones, at start-up and on its interval', async () => {
    dir = await mkdtemp(join(tmpdir(), 'storycast-mem-'));
    const url = `sqlite://${join(dir, 'memory.sqlite')}`;
    const keyv = createKeyv(url, { namespace: NS, logger: silentLogger });
    const query = (sql: string, ...args: unknown[]) => keyv.store.query(sql, ...args) as Promise<Array<Record<string, unknown>>>;
    const count = async () => Number((await query('SELECT COUNT(*) AS n FROM keyv'))[0]?.n);
    const now = Date.now();
    await keyv.set('live', { x: 1 }, HOUR);
    await keyv.set('forever', { x: 2 });
    await keyv.set('short', { x: 3 }, 1000);
    expect(await count()).toBe(3);
    expect(await sweepExpired(keyv, now)).toBe(0);
    expect(await sweepExpired(keyv, now + 60_000)).toBe(1);
    expect((await query('SELECT key FROM keyv ORDER BY key')).map((r) => r.key)).toEqual([`${NS}:forever`, `${NS}:live`]);

    const insertExpired = (key: string) =>
      query('INSERT INTO keyv (key, value) VALUES (?, ?)', `${NS}:${key}`, JSON.stringify({ value: {}, expires: 1 }));
    await insertExpired('dead1');
    // No interval: only the start-up sweep can remove it.
    open.push(new KeyvSessionMemory({ keyv, ttlMs: HOUR, clock: new FakeClock(), logger: silentLogger, sweepIntervalMs: 0 }));
    await vi.waitFor(async () => expect(await count()).toBe(2));

    await insertExpired('dead-at-second-start');
    const second = createKeyv(url, { namespace: NS, logger: silentLogger });
    open.push(new KeyvSessionMemory({ keyv: second, ttlMs: HOUR, clock: new FakeClock(), logger: silentLogger, sweepIntervalMs: 20 }));
    await vi.waitFor(async () => expect(await count()).toBe(2));
    // Only the interval sweeper can remove this one: both start-up sweeps are done.
    await insertExpired('dead2');
    await vi.waitFor(async () => expect(await count()).toBe(2));
  });

  it('sweepExpired is a no-op on other stores', async () => {
    const keyv = createKeyv('memory://', { namespace: NS, logger: silentLogger });
    await keyv.set('short', 1, 1);
    expect(await sweepExpired(keyv, Date.now() + 60_000)).toBe(0);
  });
});
