/**
 * The simulated network's richer models (latency tail, knee, failure bursts,
 * windowed rate limits), its oracle accessors, and the benchmark's profile
 * suite in src/bench/profiles. The basic model is covered by sim.test.ts.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../src/clock.js';
import { meanTailFactor } from '../src/transport/sim/model.js';
import { SimulatedNetwork } from '../src/transport/sim/network.js';
import { parseProfile, type SimProfile, type SimProfileInput } from '../src/transport/sim/profile.js';
import { createRng, deriveSeed } from '../src/transport/sim/rng.js';
import type { PreparedStory, TransportError } from '../src/transport/port.js';

const story: PreparedStory = { story: { kind: 'text', text: 'hello' } };
const jids = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `${1000000 + from + i}@s.whatsapp.net`);
const base = { name: 'test', baseMs: 100, perRecipientMs: 1 } as const;

function setup(profile: SimProfileInput, seed = 1, start = 0) {
  const clock = new VirtualClock(start);
  const net = new SimulatedNetwork({ profile, clock, seed });
  /** Sends (aborting after `timeoutMs`, as the engine's batch timeout does) and returns the outcome. */
  const timed = async (recipients: string[], timeoutMs = 15_000) => {
    const begin = clock.now();
    const controller = new AbortController();
    const timer = clock.sleep(timeoutMs, controller.signal).then(
      () => controller.abort('timeout'),
      () => undefined,
    );
    try {
      await clock.run(net.send({ sessionId: 's1', story, recipients }, controller.signal));
      return { ok: true as const, ms: clock.now() - begin };
    } catch (error) {
      return { ok: false as const, error: error as TransportError | string, ms: clock.now() - begin };
    } finally {
      controller.abort('done');
      await timer;
    }
  };
  return { clock, net, timed };
}

const durations = (net: SimulatedNetwork) => net.oracle.calls.map((c) => c.endedAt! - c.startedAt);

describe('latency tail', () => {
  const tail = { probability: 0.05, minFactor: 4, maxFactor: 40 };

  it('makes rare calls of any size very slow, by a factor within [min, max]', async () => {
    const { net, timed } = setup({ ...base, latencyTail: tail }, 3);
    for (let i = 0; i < 2000; i++) await timed(jids(i % 2 ? 10 : 1000), 1e9);
    const struck = net.oracle.calls.filter((c) => c.tailFactor !== undefined);
    expect(struck.length / net.oracle.calls.length).toBeGreaterThan(0.035);
    expect(struck.length / net.oracle.calls.length).toBeLessThan(0.065);
    for (const call of struck) {
      expect(call.tailFactor!).toBeGreaterThanOrEqual(4);
      expect(call.tailFactor!).toBeLessThanOrEqual(40);
      expect(call.endedAt! - call.startedAt).toBe(Math.round(net.oracle.baseLatencyMs(call.size) * call.tailFactor!));
    }
    // Unrelated to size: both sizes are struck, and some stalls are an order of magnitude.
    expect(struck.some((c) => c.size === 10) && struck.some((c) => c.size === 1000)).toBe(true);
    expect(struck.some((c) => c.tailFactor! > 20)).toBe(true);
    const plain = net.oracle.calls.filter((c) => c.tailFactor === undefined);
    expect(plain.every((c) => c.endedAt! - c.startedAt === net.oracle.baseLatencyMs(c.size))).toBe(true);
  });

  it('a stall can outlast the batch timeout even for a small batch', async () => {
    const { net, timed } = setup({ ...base, latencyTail: { probability: 1, minFactor: 200, maxFactor: 200 } });
    expect(await timed(jids(10))).toMatchObject({ ok: false, error: 'timeout', ms: 15_000 });
    expect(net.oracle.calls[0]).toMatchObject({ outcome: 'aborted', tailFactor: 200 });
  });

  it("draws from its own stream: a tail leaves the other calls' jitter and failures as they were", async () => {
    const noisy = { ...base, jitterPct: 30, failureRate: 0.2, failure: 'fast' } as const;
    const trace = async (profile: SimProfileInput) => {
      const { net, timed } = setup(profile, 5);
      for (let i = 0; i < 300; i++) await timed(jids(50), 1e9);
      return net.oracle.calls.map((c) => ({ outcome: c.outcome, ms: c.endedAt! - c.startedAt, tail: c.tailFactor }));
    };
    const without = await trace(noisy);
    const withTail = await trace({ ...noisy, latencyTail: tail });
    expect(withTail.map((c) => c.outcome)).toEqual(without.map((c) => c.outcome));
    const untouched = withTail.map((c, i) => [c, without[i]!] as const).filter(([c]) => c.tail === undefined);
    expect(untouched.length).toBeGreaterThan(250);
    for (const [c, w] of untouched) expect(c.ms).toBe(w.ms);
  });

  it('the main stream is still jitter, failure, then an anchor id per call, as before tails existed', async () => {
    const { net, timed } = setup({ ...base, jitterPct: 50, latencyTail: tail }, 6);
    for (let i = 0; i < 100; i++) await timed(jids(100), 1e9);
    const rng = createRng(deriveSeed(6, 's1'));
    for (const call of net.oracle.calls) {
      const jitter = 1 + (2 * rng.next() - 1) * 0.5;
      rng.next(); // failure draw
      rng.uint32(); // anchor message id
      rng.uint32();
      expect(call.endedAt! - call.startedAt).toBe(Math.round(200 * jitter * (call.tailFactor ?? 1)));
    }
  });

  it('meanTailFactor is the exact mean of the log-uniform mixture', () => {
    expect(meanTailFactor(null)).toBe(1);
    expect(meanTailFactor({ probability: 1, minFactor: 3, maxFactor: 3 })).toBe(3);
    expect(meanTailFactor({ probability: 0.5, minFactor: 1, maxFactor: Math.E })).toBeCloseTo(0.5 + 0.5 * (Math.E - 1));
  });
});

describe('knee', () => {
  it('bends latency above atSize and not below (exact virtual ms)', async () => {
    const { net, timed } = setup({ ...base, knee: { atSize: 1000, extraMsPerRecipient: 0.001, exponent: 2 } });
    for (const [size, ms] of [
      [500, 600],
      [1000, 1100],
      [2000, 3100], // 100 + 2000 + 0.001 * 1000^2
      [3000, 7100], // 100 + 3000 + 0.001 * 2000^2
    ] as const) {
      expect(await timed(jids(size))).toMatchObject({ ok: true, ms });
      expect(net.oracle.baseLatencyMs(size)).toBe(ms);
    }
  });

  it('exponent defaults to 1: a steeper slope above atSize; with jitter and a tail on top', async () => {
    const profile = parseProfile({ ...base, knee: { atSize: 100, extraMsPerRecipient: 2 } });
    expect(profile.knee).toEqual({ atSize: 100, extraMsPerRecipient: 2, exponent: 1 });
    const { net, timed } = setup(profile);
    expect(await timed(jids(50))).toMatchObject({ ms: 150 });
    expect(await timed(jids(200))).toMatchObject({ ms: 500 });
    expect(net.oracle.baseLatencyMs(0)).toBe(100);
  });

  it('throughput can peak below the capacity', () => {
    const { net } = setup({
      ...base,
      baseMs: 500,
      perRecipientMs: 0.5,
      capacity: 6000,
      knee: { atSize: 1500, extraMsPerRecipient: 0.0002, exponent: 2 },
    });
    const rate = (n: number) => n / net.oracle.baseLatencyMs(n);
    expect(rate(2200)).toBeGreaterThan(rate(1500));
    expect(rate(2200)).toBeGreaterThan(rate(3000) * 1.05);
    expect(rate(2200)).toBeGreaterThan(rate(6000) * 1.5);
  });
});

describe('failure bursts', () => {
  const bursty: SimProfileInput = {
    ...base,
    perRecipientMs: 0,
    failure: 'fast',
    failureBursts: [{ atMs: 1000, durationMs: 2000, rate: 1 }],
  };

  it('fail calls that start inside the window only, whatever their size', async () => {
    const { clock, net, timed } = setup(bursty);
    while (clock.now() < 4000) {
      await timed(jids(clock.now() % 3 ? 5 : 500));
      await clock.advance(150);
    }
    for (const call of net.oracle.calls) {
      const inside = call.startedAt >= 1000 && call.startedAt < 3000;
      expect(call).toMatchObject(inside ? { outcome: 'SEND_FAILED', cause: 'burst' } : { outcome: 'ok' });
    }
    expect(net.oracle.calls.filter((c) => c.cause === 'burst').length).toBeGreaterThan(5);
  });

  it('reuse the failure draw: outside the window nothing changes; inside, timeout mode hangs', async () => {
    const noisy = { ...base, jitterPct: 20, failureRate: 0.1, failure: 'fast' } as const;
    const trace = async (profile: SimProfileInput) => {
      const { net, timed } = setup(profile, 11);
      for (let i = 0; i < 100; i++) await timed(jids(20));
      return net.oracle.calls.map((c) => `${c.startedAt} ${c.outcome} ${c.endedAt! - c.startedAt}`);
    };
    const calm = await trace(noisy);
    const stormy = await trace({ ...noisy, failureBursts: [{ atMs: 1e9, durationMs: 1, rate: 1 }] });
    expect(stormy).toEqual(calm);
    const { clock, net, timed } = setup({ ...bursty, failure: 'timeout' });
    await clock.advance(1000);
    expect(await timed(jids(5))).toMatchObject({ ok: false, error: 'timeout', ms: 15_000 });
    expect(net.oracle.calls.at(-1)).toMatchObject({ outcome: 'aborted', cause: 'burst' });
  });

  it('a partial rate fails about that share of calls in the window', async () => {
    const { net, timed } = setup({ ...bursty, failureBursts: [{ atMs: 0, durationMs: 1e9, rate: 0.3 }] }, 8);
    for (let i = 0; i < 1000; i++) await timed(jids(1));
    const share = net.oracle.calls.filter((c) => c.cause === 'burst').length / 1000;
    expect(share).toBeGreaterThan(0.26);
    expect(share).toBeLessThan(0.34);
  });
});

describe('determinism per call index', () => {
  it('two strategies on one seed get the same luck for call k, whatever their earlier calls did', async () => {
    const profile = {
      ...base,
      jitterPct: 40,
      capacity: 1000,
      failure: 'fast',
      latencyTail: { probability: 0.1, minFactor: 2, maxFactor: 9 },
    } as const;
    const run = async (sizes: (k: number) => number) => {
      const { net, timed } = setup(profile, 21);
      for (let k = 0; k < 200; k++) await timed(jids(sizes(k)), 1e9);
      return net.oracle.calls;
    };
    const steady = await run(() => 500);
    const probing = await run((k) => (k % 3 === 0 ? 5000 : 500)); // every third call fails on capacity
    for (let k = 0; k < 200; k++) {
      if (k % 3 === 0) continue;
      expect(probing[k]!.endedAt! - probing[k]!.startedAt).toBe(steady[k]!.endedAt! - steady[k]!.startedAt);
      expect(probing[k]!.tailFactor).toBe(steady[k]!.tailFactor);
    }
  });
});

describe('rate limit windows', () => {
  it('rateLimits add sliding windows; a paced sender is refused once one is full', async () => {
    const { clock, net, timed } = setup({ ...base, perRecipientMs: 0, rateLimitPerSecond: 2, rateLimits: [{ calls: 3, windowMs: 3000 }] });
    expect(net.oracle.rateLimits).toEqual([
      { calls: 2, windowMs: 1000 },
      { calls: 3, windowMs: 3000 },
    ]);
    for (const at of [0, 500, 1000]) {
      await clock.advance(at - clock.now());
      expect((await timed(jids(1))).ok).toBe(true);
    }
    await clock.advance(1500 - clock.now());
    const refused = await timed(jids(1)); // fails at 1600; the call at 0 leaves the window at 3000
    expect(refused).toMatchObject({ ok: false, ms: 100, error: { code: 'RATE_LIMITED', retryAfterMs: 1400 } });
    expect((refused.error as TransportError).message).toBe('more than 3 calls in 3000 ms');
    await clock.advance(3000 - clock.now());
    expect((await timed(jids(1))).ok).toBe(true);
    expect(setup(base).net.oracle.rateLimits).toEqual([]);
  });
});

describe('oracle accessors', () => {
  const profile: SimProfileInput = {
    ...base,
    capacity: 800,
    failureRate: 0.05,
    capacitySchedule: [{ atMs: 5000, capacity: 300 }],
    failureBursts: [
      { atMs: 2000, durationMs: 1000, rate: 0.5 },
      { atMs: 2500, durationMs: 1000, rate: 0.9 },
    ],
    knee: { atSize: 500, extraMsPerRecipient: 0.5 },
  };

  it('return the deterministic truth on the schedule time base', async () => {
    const { clock, net, timed } = setup({ ...profile, failure: 'fast', failureRate: 0, failureBursts: [] }, 1, 50_000);
    expect(net.oracle.sinceStart()).toBe(0);
    expect(net.oracle.sinceStart(clock.now())).toBe(0);
    expect(net.oracle.sinceStart(53_000)).toBe(3000);
    await clock.advance(4999);
    expect(net.oracle.sinceStart()).toBe(4999);
    expect(net.oracle.capacityAt(net.oracle.sinceStart())).toBe(800);
    expect(await timed(jids(600))).toMatchObject({ ok: true, ms: net.oracle.baseLatencyMs(600) });
    expect(net.oracle.capacityAt(net.oracle.sinceStart())).toBe(300);
    expect(await timed(jids(301))).toMatchObject({ ok: false, error: { code: 'SEND_FAILED' } });
    expect(net.oracle.calls.at(-1)!.cause).toBe('capacity');
  });

  it('failureRateAt and baseLatencyMs follow the profile, bursts and knee included', () => {
    const { net } = setup(profile);
    expect([0, 1999, 2000, 2499, 2500, 2999, 3000, 3499, 3500].map((ms) => net.oracle.failureRateAt(ms))).toEqual([
      0.05, 0.05, 0.5, 0.5, 0.9, 0.9, 0.9, 0.9, 0.05,
    ]);
    expect([0, 500, 501, 1000].map((n) => net.oracle.baseLatencyMs(n))).toEqual([100, 600, 601.5, 1350]);
    expect(net.oracle.profile.failureBursts).toHaveLength(2);
  });

  it('consume no randomness', async () => {
    const noisy = { ...profile, jitterPct: 30, failure: 'fast' } as const;
    const trace = async (peek: boolean) => {
      const { net, timed } = setup(noisy, 4);
      for (let i = 0; i < 50; i++) {
        if (peek)
          void [
            net.oracle.capacityAt(i),
            net.oracle.baseLatencyMs(i),
            net.oracle.failureRateAt(i),
            net.oracle.sinceStart(),
            net.oracle.rateLimits,
          ];
        await timed(jids(100));
      }
      return durations(net);
    };
    expect(await trace(true)).toEqual(await trace(false));
  });
});

describe('new fields are validated, naming the field', () => {
  const fails = (json: object, ...parts: string[]) => {
    expect(() => parseProfile({ ...base, ...json }, 'bad.json')).toThrow();
    try {
      parseProfile({ ...base, ...json }, 'bad.json');
    } catch (e) {
      for (const part of parts) expect((e as Error).message).toContain(part);
    }
  };

  const cases: [object, ...string[]][] = [
    [{ latencyTail: { probability: 0.1, minFactor: 5, maxFactor: 2 } }, 'latencyTail.maxFactor = 2', 'minFactor (5)'],
    [{ latencyTail: { probability: 1.5, minFactor: 1, maxFactor: 2 } }, 'latencyTail.probability = 1.5'],
    [{ latencyTail: { probability: 0.1, minFactor: 0.5, maxFactor: 2 } }, 'latencyTail.minFactor = 0.5'],
    [{ latencyTail: { probability: 0.1, minFactor: 1, maxFactor: 2, shape: 1 } }, 'latencyTail.shape: unknown field'],
    [{ latencyTail: { probability: 0.1, minFactor: 1 } }, 'latencyTail.maxFactor = (missing)'],
    [{ knee: { atSize: 10.5, extraMsPerRecipient: 1 } }, 'knee.atSize = 10.5'],
    [{ knee: { atSize: 10, extraMsPerRecipient: -1 } }, 'knee.extraMsPerRecipient = -1'],
    [{ knee: { atSize: 10, extraMsPerRecipient: 1, exponent: 5 } }, 'knee.exponent = 5'],
    [
      {
        failureBursts: [
          { atMs: 0, durationMs: 10, rate: 0.5 },
          { atMs: 5, durationMs: 0, rate: 0.5 },
        ],
      },
      'failureBursts[1].durationMs = 0',
    ],
    [{ failureBursts: [{ atMs: 0, durationMs: 10, rate: 2 }] }, 'failureBursts[0].rate = 2'],
    [{ failureBursts: [{ atMs: -1, durationMs: 10, rate: 1 }] }, 'failureBursts[0].atMs = -1'],
    [{ rateLimits: [{ calls: 0, windowMs: 1000 }] }, 'rateLimits[0].calls = 0'],
    [{ rateLimits: [{ calls: 3 }] }, 'rateLimits[0].windowMs = (missing)'],
  ];
  it.each(cases)('%j', (json, ...parts) => fails(json, 'bad.json', ...parts));
});

describe('the benchmark suite (src/bench/profiles)', () => {
  const dir = fileURLToPath(new URL('../src/bench/profiles/', import.meta.url));
  const load = async () => {
    const files = (await readdir(dir)).filter((f) => f.endsWith('.json')).sort();
    const profiles: SimProfile[] = [];
    for (const file of files) profiles.push(parseProfile(JSON.parse(await readFile(join(dir, file), 'utf8')), file));
    return { files, profiles };
  };
  const byName = async (name: string) => (await load()).profiles.find((p) => p.name === name)!;

  it('every file parses, is named after itself, has a description and a README line', async () => {
    const { files, profiles } = await load();
    expect(files.length).toBeGreaterThanOrEqual(11);
    const readme = await readFile(join(dir, 'README.md'), 'utf8');
    const listed = [...readme.matchAll(/^- `([^`]+)`/gm)].map((m) => m[1]);
    expect(listed.sort()).toEqual(files.map((f) => f.slice(0, -5)));
    profiles.forEach((p, i) => {
      expect(p.name).toBe(files[i]!.slice(0, -5));
      expect(p.description?.length).toBeGreaterThan(40);
    });
  });

  it('covers the cases the benchmark needs', async () => {
    const { profiles } = await load();
    const has = (name: string, test: (p: SimProfile) => boolean) => expect(test(profiles.find((p) => p.name === name)!), name).toBe(true);
    has('overhead-dominated', (p) => p.baseMs > 5000 * p.perRecipientMs);
    has('per-recipient-dominated', (p) => p.perRecipientMs * 1000 > 5 * p.baseMs);
    has('heavy-tail', (p) => (p.latencyTail?.maxFactor ?? 0) >= 20);
    has('soft-knee', (p) => p.knee !== null && p.knee.atSize < (p.capacity ?? Infinity) / 2);
    has('expensive-failures', (p) => p.failure === 'timeout' && p.failureRate > 0);
    has('cheap-failures', (p) => p.failure === 'fast' && p.failureRate > 0);
    has('slow-drift', (p) => p.capacitySchedule.length >= 10);
    has('failure-bursts', (p) => p.failureBursts.length > 0);
    has('server-rate-limit', (p) => p.rateLimits.length > 0);
    const capacities = profiles.flatMap((p) => [p.capacity, ...p.capacitySchedule.map((s) => s.capacity)]).map((c) => c ?? Infinity);
    expect(capacities.some((c) => c < 500)).toBe(true);
    expect(capacities.some((c) => c >= 1000 && c <= 5000)).toBe(true);
    expect(capacities.some((c) => c > 5000)).toBe(true);
    // Mid-send changes early enough for a 10k send to meet the first and a 100k send the rest.
    for (const p of profiles) {
      const times = [...p.capacitySchedule.map((s) => s.atMs), ...p.failureBursts.map((b) => b.atMs)];
      if (times.length) expect(Math.min(...times), p.name).toBeLessThanOrEqual(10_000);
      for (const at of times) expect(at, p.name).toBeLessThanOrEqual(120_000);
    }
    const step = (name: string) => byName(name).then((p) => [p.capacity!, p.capacitySchedule.at(-1)!.capacity!] as const);
    const [downFrom, downTo] = await step('step-down');
    const [upFrom, upTo] = await step('step-up');
    expect(downTo).toBeLessThan(downFrom / 4);
    expect(upTo).toBeGreaterThan(upFrom * 4);
  });

  it('at the best fixed size, 100k recipients take minutes, not seconds or hours', async () => {
    for (const profile of (await load()).profiles) {
      const { net } = setup(profile);
      let best = 0;
      for (let n = 50; n <= Math.min(net.oracle.capacityAt(0), 10_000); n += 50) {
        // 2 calls/s pacing puts a 500 ms floor under every call.
        best = Math.max(best, n / Math.max(500, net.oracle.baseLatencyMs(n) * meanTailFactor(profile.latencyTail)));
      }
      const seconds = 100_000 / best / 1000;
      expect(seconds, profile.name).toBeGreaterThan(30);
      expect(seconds, profile.name).toBeLessThan(300);
    }
  });

  it('field reports: rate limited after two batches of 256; timeouts at 500 on a weak account', async () => {
    const limited = setup(await byName('server-rate-limit'));
    for (const [i, at] of [0, 500, 1000, 1500].entries()) {
      await limited.clock.advance(at - limited.clock.now());
      const result = await limited.timed(jids(i === 0 ? 1 : 256));
      expect(result.ok, `call ${i}`).toBe(i < 3);
    }
    expect(limited.net.oracle.calls.at(-1)).toMatchObject({ outcome: 'RATE_LIMITED' });
    const weak = setup(await byName('expensive-failures'));
    expect(await weak.timed(jids(500))).toMatchObject({ ok: false, error: 'timeout', ms: 15_000 });
  });
});
