import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { VirtualClock } from '../src/clock.js';
import { SimulatedNetwork } from '../src/transport/sim/network.js';
import { SimulatedSessions } from '../src/transport/sim/sessions.js';
import { builtinProfileNames, builtinProfiles, loadProfile, parseProfile, type SimProfileInput } from '../src/transport/sim/profile.js';
import { createRng, deriveSeed, hashString } from '../src/transport/sim/rng.js';
import { TransportError, type PreparedStory } from '../src/transport/port.js';

const story: PreparedStory = { story: { kind: 'text', text: 'hello' } };
const never = () => new AbortController().signal;
const jids = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `${1000000 + from + i}@s.whatsapp.net`);

function setup(profile: SimProfileInput | string, seed = 1) {
  const clock = new VirtualClock();
  const resolved = typeof profile === 'string' ? builtinProfiles()[profile]! : profile;
  const net = new SimulatedNetwork({ profile: resolved, clock, seed });
  /** Sends and returns the outcome with its virtual duration. */
  const timed = async (sessionId: string, recipients: string[], messageId?: string) => {
    const start = clock.now();
    try {
      const { messageId: id } = await clock.run(net.send({ sessionId, story, recipients, messageId }, never()));
      return { ok: true as const, id, ms: clock.now() - start };
    } catch (error) {
      return { ok: false as const, error: error as TransportError, ms: clock.now() - start };
    }
  };
  const anchor = async (sessionId = 's1') => {
    const result = await timed(sessionId, jids(1, 999_000));
    if (!result.ok) throw result.error;
    return result.id;
  };
  return { clock, net, timed, anchor };
}

/** Watches a promise without letting its rejection go unhandled. */
function track<T>(promise: Promise<T>) {
  const state: { settled: boolean; value?: T; error?: unknown } = { settled: false };
  promise.then(
    (value) => Object.assign(state, { settled: true, value }),
    (error) => Object.assign(state, { settled: true, error }),
  );
  return state;
}

const base = { name: 'test', baseMs: 100, perRecipientMs: 1 } as const;

describe('latency on the seed profiles (exact virtual ms)', () => {
  it.each([
    ['seed-first-send', 100, 770],
    ['seed-first-send', 1000, 1400],
    ['seed-first-send', 4000, 3500],
    ['seed-second-send', 4000, 3200],
    ['seed-network-issues', 2000, 2500],
    ['seed-network-issues', 4000, 4200],
  ])('%s: %i recipients take %i ms', async (profile, size, expected) => {
    const { net, timed, anchor } = setup(profile);
    const id = await anchor();
    const result = await timed('s1', jids(size), id);
    expect(result).toMatchObject({ ok: true, id, ms: expected });
    const call = net.oracle.calls.at(-1)!;
    expect(call).toMatchObject({ sessionId: 's1', messageId: id, size, outcome: 'ok', anchor: false });
    expect(call.endedAt! - call.startedAt).toBe(expected);
  });
});

describe('capacity', () => {
  it('timeout mode: an oversized call hangs until aborted and delivers nothing', async () => {
    const { clock, net, anchor } = setup('seed-network-issues');
    const id = await anchor();
    const controller = new AbortController();
    const call = track(net.send({ sessionId: 's1', story, recipients: jids(5000), messageId: id }, controller.signal));
    await clock.advance(600_000);
    expect(call.settled).toBe(false);
    expect(net.oracle.calls.at(-1)).toMatchObject({ outcome: 'pending', cause: 'capacity', endedAt: undefined });
    const reason = new Error('batch timeout');
    controller.abort(reason);
    await clock.advance(0);
    expect(call).toMatchObject({ settled: true, error: reason });
    expect(net.oracle.calls.at(-1)).toMatchObject({ outcome: 'aborted', endedAt: clock.now() });
    expect(clock.now()).toBeGreaterThanOrEqual(600_000);
    expect(net.oracle.deliveries(id).size).toBe(1); // the anchor only
  });

  it('fast mode: an oversized call rejects with SEND_FAILED after baseMs', async () => {
    const { timed, anchor } = setup({ ...base, baseMs: 300, capacity: 100, failure: 'fast' });
    const id = await anchor();
    const over = await timed('s1', jids(101), id);
    expect(over.ok).toBe(false);
    expect(over.error).toBeInstanceOf(TransportError);
    expect(over.error).toMatchObject({ code: 'SEND_FAILED', fatal: false });
    expect(over.ms).toBe(300);
    expect(await timed('s1', jids(100), id)).toMatchObject({ ok: true, ms: 400 });
  });

  it('capacitySchedule steps at atMs (null = unlimited again)', async () => {
    const { clock, net, timed, anchor } = setup({
      ...base,
      capacity: 1000,
      failure: 'fast',
      capacitySchedule: [
        { atMs: 5000, capacity: 500 },
        { atMs: 9000, capacity: null },
      ],
    });
    expect([0, 4999, 5000, 8999, 9000].map((ms) => net.oracle.capacityAt(ms))).toEqual([1000, 1000, 500, 500, Infinity]);
    const id = await anchor();
    expect((await timed('s1', jids(800), id)).ok).toBe(true);
    await clock.advance(5000 - clock.now());
    expect(await timed('s1', jids(800), id)).toMatchObject({ ok: false, error: { code: 'SEND_FAILED' } });
    expect((await timed('s1', jids(500), id)).ok).toBe(true);
    await clock.advance(9000 - clock.now());
    expect((await timed('s1', jids(20_000), id)).ok).toBe(true);
  });
});

describe('rate limit', () => {
  it('the (N+1)th call in a trailing second fails with retryAfterMs; the window then frees', async () => {
    const { clock, timed, anchor } = setup({ ...base, perRecipientMs: 0, rateLimitPerSecond: 2 });
    const id = await anchor(); // starts at 0
    expect((await timed('s1', jids(10), id)).ok).toBe(true); // starts at 100
    const limited = await timed('s1', jids(10), id); // starts at 200, fails at 300
    expect(limited).toMatchObject({ ok: false, ms: 100, error: { code: 'RATE_LIMITED', retryAfterMs: 700 } });
    expect(limited.error).toBeInstanceOf(TransportError);
    const freesAt = clock.now() + limited.error!.retryAfterMs!;
    expect((await timed('other', jids(1))).ok).toBe(true); // per session
    await clock.advance(freesAt - clock.now());
    // Only accepted calls count: the rejected one at 200 must not hold the window at 1000.
    expect((await timed('s1', jids(10), id)).ok).toBe(true);
  });
});

describe('determinism', () => {
  const noisy = { ...base, jitterPct: 50, failureRate: 0.3, failure: 'fast' } as const;
  async function trace(seed: number, order: string[]) {
    const { timed } = setup(noisy, seed);
    const out: Record<string, string[]> = {};
    for (const session of order) {
      const r = await timed(session, jids(50));
      out[session] ??= [];
      out[session].push(r.ok ? `ok ${r.ms} ${r.id}` : `${r.error.code} ${r.ms}`);
    }
    return out;
  }

  it('same seed gives the same latencies, failures and ids; another seed does not', async () => {
    const order = Array.from({ length: 30 }, () => 'a');
    const first = await trace(7, order);
    expect(await trace(7, order)).toEqual(first);
    expect(await trace(8, order)).not.toEqual(first);
    expect(new Set(first.a).size).toBeGreaterThan(20); // jitter really varies
  });

  it('jitter spreads latency uniformly over [1 - j, 1 + j] of the formula', async () => {
    const { net, timed } = setup({ ...base, jitterPct: 50 }, 9);
    for (let i = 0; i < 300; i++) await timed('s1', jids(100));
    const ms = net.oracle.calls.map((c) => c.endedAt! - c.startedAt);
    expect(Math.min(...ms)).toBeGreaterThanOrEqual(100);
    expect(Math.max(...ms)).toBeLessThanOrEqual(300);
    expect(Math.min(...ms)).toBeLessThan(115);
    expect(Math.max(...ms)).toBeGreaterThan(285);
    const mean = ms.reduce((a, b) => a + b, 0) / ms.length;
    expect(Math.abs(mean - 200)).toBeLessThan(10);
  });

  it("a session's results don't depend on the order sessions are used", async () => {
    const interleaved = Array.from({ length: 20 }, (_, i) => (i % 2 ? 'a' : 'b'));
    const grouped = [...interleaved].sort();
    expect(await trace(3, interleaved)).toEqual(await trace(3, grouped));
  });

  it('failureRate is roughly right over many calls', async () => {
    const { timed, net } = setup({ ...base, failureRate: 0.2, failure: 'fast' }, 42);
    for (let i = 0; i < 2000; i++) await timed('s1', jids(1));
    const failed = net.oracle.calls.filter((c) => c.outcome === 'SEND_FAILED' && c.cause === 'random').length;
    expect(failed / 2000).toBeGreaterThan(0.17);
    expect(failed / 2000).toBeLessThan(0.23);
  });

  it('1000 calls complete in virtual time', async () => {
    const { clock, net } = setup('realistic');
    const all = Promise.allSettled(
      Array.from({ length: 1000 }, (_, i) => {
        const controller = new AbortController();
        void clock.sleep(15_000).then(() => controller.abort('timeout'));
        return net.send({ sessionId: `s${i % 10}`, story, recipients: jids(100) }, controller.signal);
      }),
    );
    // As the engine does: realistic's random failures hang until a batch timeout aborts them.
    const results = await clock.run(all);
    expect(results).toHaveLength(1000);
    expect(net.oracle.calls.every((c) => c.outcome === 'ok' || c.outcome === 'aborted')).toBe(true);
    expect(results.filter((r) => r.status === 'rejected').length).toBeGreaterThan(0); // ~2% hang, then abort
  });

  it('rng: uniform doubles in [0, 1), stable hash and derived seeds', () => {
    const rng = createRng(5);
    const values = Array.from({ length: 1000 }, () => rng.next());
    expect(values.every((v) => v >= 0 && v < 1)).toBe(true);
    expect(createRng(5).next()).toBe(values[0]);
    expect(hashString('session-1')).toBe(hashString('session-1'));
    expect(hashString('session-1')).not.toBe(hashString('session-2'));
    expect(deriveSeed(1, 'a')).not.toBe(deriveSeed(2, 'a'));
  });
});

describe('sends, deliveries and message ids', () => {
  it('counts deliveries per recipient; every recipient exactly once across batches', async () => {
    const { net, timed, anchor } = setup('seed-first-send');
    const id = await anchor();
    expect(id).toMatch(/^3EB0[0-9A-F]{16}$/);
    await timed('s1', jids(100), id);
    await timed('s1', jids(900, 100), id);
    const counts = net.oracle.deliveries(id);
    expect(counts.size).toBe(1001);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    await timed('s1', jids(1), id);
    expect(net.oracle.deliveries(id).get(jids(1)[0]!)).toBe(2);
    expect(net.oracle.deliveries('3EB0000000000000000').size).toBe(0);
  });

  it('an aborted call rejects with the reason and delivers nothing', async () => {
    const { clock, net, anchor } = setup('seed-first-send');
    const id = await anchor();
    const controller = new AbortController();
    const call = track(net.send({ sessionId: 's1', story, recipients: jids(1000), messageId: id }, controller.signal));
    await clock.advance(500);
    controller.abort('client went away');
    await clock.advance(5000);
    expect(call).toMatchObject({ settled: true, error: 'client went away' });
    expect(net.oracle.deliveries(id).size).toBe(1);
    expect(net.oracle.calls.at(-1)).toMatchObject({ outcome: 'aborted' });
    const pre = new AbortController();
    pre.abort('already');
    await expect(net.send({ sessionId: 's1', story, recipients: jids(5), messageId: id }, pre.signal)).rejects.toBe('already');
    await expect(net.prepare('s1', { kind: 'text', text: 'x' }, pre.signal)).rejects.toBe('already');
    expect(net.oracle.deliveries(id).size).toBe(1);
  });

  it('rejects a message id this network did not create for that session', async () => {
    const { timed, anchor } = setup('seed-first-send');
    const own = await anchor('s1');
    for (const id of ['3EB0DEADBEEFDEADBEEF', own]) {
      const r = await timed('s2', jids(3), id);
      expect(r).toMatchObject({ ok: false, error: { code: 'SEND_FAILED', message: 'unknown message id' } });
    }
  });

  it('prepare: counted per session, media takes baseMs, text is instant', async () => {
    const { clock, net } = setup('seed-first-send');
    await clock.run(net.prepare('s1', { kind: 'text', text: 'x' }, never()));
    expect(clock.now()).toBe(0);
    const prepared = await clock.run(net.prepare('s1', { kind: 'image', data: new Uint8Array(3) }, never()));
    expect(clock.now()).toBe(700);
    expect(prepared.story.kind).toBe('image');
    expect([net.oracle.prepareCount('s1'), net.oracle.prepareCount('s2')]).toEqual([2, 0]);
    await expect(net.prepare('s1', { kind: 'video' }, never())).rejects.toMatchObject({ code: 'SEND_FAILED' });
  });
});

describe('test hooks', () => {
  it('relink: a logged-out session sends again; the simulated sessions log out and link through the controls', async () => {
    const { net, timed } = setup('seed-first-send');
    const sessions = new SimulatedSessions(net.controls);
    expect(await sessions.logout('s1')).toBe(false);
    expect(sessions.get('s1')?.state).toBe('logged-out');
    expect(await timed('s1', jids(1))).toMatchObject({ ok: false, error: { code: 'LOGGED_OUT' } });
    const states: string[] = [];
    for await (const event of sessions.connect('s1')) if (event.type === 'state') states.push(event.session.state);
    expect(states).toEqual(['open']);
    expect((await timed('s1', jids(1))).ok).toBe(true);
    net.controls.logout('s1');
    net.controls.relink('s1');
    expect((await timed('s1', jids(1))).ok).toBe(true);
  });

  it('are not on the Transport, nor is the oracle: the engine, which holds only the Transport, cannot reach them', () => {
    const { net } = setup(base);
    const apart = [
      'logout',
      'relink',
      'failNext',
      'sinceStart',
      'capacityAt',
      'baseLatencyMs',
      'failureRateAt',
      'rateLimits',
      'deliveries',
    ];
    for (const member of apart) expect(typeof (net as unknown as Record<string, unknown>)[member], member).toBe('undefined');
    expect(net.oracle.capacityAt(0)).toBe(Infinity);
    expect(net.oracle.baseLatencyMs(10)).toBe(110);
  });

  it('logout: every call for that session fails with LOGGED_OUT, in-flight ones too', async () => {
    const { clock, net, timed, anchor } = setup('seed-first-send');
    const id = await anchor();
    const inFlight = track(net.send({ sessionId: 's1', story, recipients: jids(100), messageId: id }, never()));
    await clock.advance(10);
    net.controls.logout('s1');
    await clock.advance(10_000);
    expect(inFlight.error).toMatchObject({ code: 'LOGGED_OUT', fatal: true });
    expect(await timed('s1', jids(5), id)).toMatchObject({ ok: false, ms: 0, error: { code: 'LOGGED_OUT' } });
    await expect(net.prepare('s1', { kind: 'text', text: 'x' }, never())).rejects.toMatchObject({ code: 'LOGGED_OUT' });
    expect(net.oracle.deliveries(id).size).toBe(1);
    expect((await timed('s2', jids(5))).ok).toBe(true);
  });

  it('failNext: scripted codes for the next calls; TIMEOUT hangs until aborted', async () => {
    const { clock, net, timed, anchor } = setup({ ...base, failure: 'fast' });
    const id = await anchor();
    net.controls.failNext('s1', 'SEND_FAILED', 2);
    net.controls.failNext('s1', 'FORBIDDEN');
    expect(await timed('s1', jids(5), id)).toMatchObject({ ok: false, ms: 100, error: { code: 'SEND_FAILED' } });
    expect(await timed('s1', jids(5), id)).toMatchObject({ ok: false, error: { code: 'SEND_FAILED' } });
    expect(await timed('s1', jids(5), id)).toMatchObject({ ok: false, error: { code: 'FORBIDDEN', fatal: true } });
    expect(await timed('s1', jids(5), id)).toMatchObject({ ok: true, ms: 105 });
    net.controls.failNext('s1', 'TIMEOUT');
    const controller = new AbortController();
    const hung = track(net.send({ sessionId: 's1', story, recipients: jids(5), messageId: id }, controller.signal));
    await clock.advance(60_000);
    expect(hung.settled).toBe(false);
    controller.abort('timeout');
    await clock.advance(0);
    expect(hung.error).toBe('timeout');
    expect(net.oracle.deliveries(id).size).toBe(5 + 1);
  });
});

describe('profiles', () => {
  const fails = (json: unknown, ...parts: string[]) => {
    let message = 'did not throw';
    try {
      parseProfile(json, 'bad.json');
    } catch (e) {
      message = (e as Error).message;
    }
    for (const part of parts) expect(message).toContain(part);
  };

  it('fills every default', () => {
    expect(parseProfile(base)).toEqual({
      ...base,
      jitterPct: 0,
      capacity: null,
      failure: 'timeout',
      failureRate: 0,
      capacitySchedule: [],
      rateLimitPerSecond: 0,
      latencyTail: null,
      knee: null,
      failureBursts: [],
      rateLimits: [],
    });
  });

  it('names the source, the field and the value of each problem', () => {
    fails({ ...base, colour: 'red' }, 'bad.json', 'colour', 'unknown field');
    fails({ ...base, baseMs: -5 }, 'baseMs', '-5');
    fails({ ...base, failure: 'explode' }, 'failure', '"explode"');
    fails({ ...base, capacity: 0 }, 'capacity', '0');
    fails({ ...base, jitterPct: 150 }, 'jitterPct', '150');
    fails({ name: 'x', baseMs: 1 }, 'perRecipientMs', 'missing');
    fails(
      {
        ...base,
        capacitySchedule: [
          { atMs: 500, capacity: 10 },
          { atMs: 100, capacity: 20 },
        ],
      },
      'capacitySchedule[1].atMs',
      '100',
      'sorted',
    );
    fails({ ...base, capacitySchedule: [{ atMs: 1, capacity: 5, extra: 1 }] }, 'capacitySchedule[0].extra');
  });

  it('ships exactly the listed built-ins, each valid, named after its file and in the README', async () => {
    const dir = fileURLToPath(new URL('../src/transport/sim/profiles/', import.meta.url));
    const files = (await readdir(dir)).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5));
    expect([...builtinProfileNames()].sort()).toEqual(files.sort());
    const readme = await readFile(join(dir, 'README.md'), 'utf8');
    const all = builtinProfiles();
    for (const name of builtinProfileNames()) {
      expect(all[name]!.name).toBe(name);
      expect(await loadProfile(name)).toEqual(all[name]);
      expect(readme).toContain(`\`${name}\``);
    }
    expect(all['seed-network-issues']).toMatchObject({ baseMs: 800, perRecipientMs: 0.85, capacity: 4500 });
    all['realistic']!.baseMs = 1;
    expect(builtinProfiles()['realistic']!.baseMs).not.toBe(1);
  });

  describe('files', () => {
    let dir: string | undefined;
    afterAll(async () => {
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('loads a JSON file by path and reports bad ones by path', async () => {
      dir = await mkdtemp(join(tmpdir(), 'storycast-sim-'));
      const good = join(dir, 'mine.json');
      await writeFile(good, JSON.stringify({ name: 'mine', baseMs: 5, perRecipientMs: 0.1, capacity: 10 }));
      expect(await loadProfile(good)).toMatchObject({ name: 'mine', baseMs: 5, capacity: 10, failure: 'timeout' });
      const bad = join(dir, 'bad.json');
      await writeFile(bad, JSON.stringify({ name: 'bad', baseMs: 5, perRecipientMs: -1 }));
      await expect(loadProfile(bad)).rejects.toThrow(/bad\.json.*perRecipientMs/);
      const broken = join(dir, 'broken.json');
      await writeFile(broken, '{ nope');
      await expect(loadProfile(broken)).rejects.toThrow(/broken\.json.*not valid JSON/);
      await expect(loadProfile('no-such-profile')).rejects.toThrow(/unknown network profile.*realistic/);
    });
  });
});
