/**
 * Call-rate control: the session's rate falls on RATE_LIMITED and creeps back
 * on clean calls (AimdCallRate), the pacer applies it to every send on the
 * session and honours the server's hint, a refusal is never a strategy's to
 * judge, and the learned rate outlives the process in session memory.
 */
import { describe, expect, it } from 'vitest';
import { defineStrategy, type BatchOutcome, type StrategyContext } from '../strategies/sdk.js';
import { VirtualClock } from '../src/clock.js';
import { AimdCallRate, callRateDefaults } from '../src/engine/call-rate.js';
import type { CallResult } from '../src/engine/call.js';
import { SendEngine } from '../src/engine/engine.js';
import { SessionPacer } from '../src/engine/pacer.js';
import { SimulatedNetwork } from '../src/transport/sim/network.js';
import { TransportError } from '../src/transport/port.js';
import { batchesOf, rig, runSend, summaryOf } from './support/harness.js';
import { numbers, ScriptedTransport } from './support/scripted-transport.js';

const OK: CallResult<unknown> = { ok: true, value: undefined, durationMs: 10 };
const limited = (retryAfterMs?: number): CallResult<unknown> => ({
  ok: false,
  error: new TransportError('RATE_LIMITED', 'slow down', retryAfterMs),
  durationMs: 10,
});

/** Always the same size, and remembers every outcome it is shown. */
function steady(size: number) {
  const seen: BatchOutcome[] = [];
  const strategy = defineStrategy<null>({
    name: `steady-${size}`,
    description: 'test: one size throughout',
    start: () => ({ state: null, size, reason: 'start' }),
    next: (_state, outcome) => {
      seen.push(outcome);
      return { state: null, size, reason: `holding ${size}` };
    },
  });
  return { strategy, seen };
}

/** A network that takes one call a second per session; calls of 100 take ~110 ms, so the pace, not the calls, sets the rate. */
const oneCallASecond = { name: 'one-call-a-second', baseMs: 100, perRecipientMs: 0.1, rateLimitPerSecond: 1 };

describe('AimdCallRate', () => {
  it('starts at the ceiling and multiplies by the backoff ratio on each refusal, down to the floor', () => {
    const rate = new AimdCallRate(2);
    expect(rate.perSecond).toBe(2);
    expect(rate.atCeiling).toBe(true);
    rate.backOff();
    expect(rate.perSecond).toBeCloseTo(2 * callRateDefaults.backoffRatio, 12);
    expect(rate.atCeiling).toBe(false);
    for (let i = 0; i < 100; i++) rate.backOff();
    expect(rate.perSecond).toBe(callRateDefaults.minPerSecond);
    expect(rate.intervalMs).toBeCloseTo(60_000, 6);
  });

  it('recovers a share of the ceiling per clean call, never past the ceiling', () => {
    const rate = new AimdCallRate(2, 1);
    rate.recover();
    expect(rate.perSecond).toBeCloseTo(1 + 2 * callRateDefaults.recoveryShare, 12);
    for (let i = 0; i < 100; i++) rate.recover();
    expect(rate.perSecond).toBe(2);
    expect(rate.atCeiling).toBe(true);
  });

  it('starts from a remembered rate, clamped to the ceiling and the floor', () => {
    expect(new AimdCallRate(2, 0.8).perSecond).toBe(0.8);
    expect(new AimdCallRate(2, 5).perSecond).toBe(2);
    expect(new AimdCallRate(2, 0.001).perSecond).toBe(callRateDefaults.minPerSecond);
    expect(new AimdCallRate(0.01).perSecond).toBe(0.01);
  });
});

describe('SessionPacer', () => {
  it('slows every send of a refused session, holds them all for the hint, and leaves other sessions alone', async () => {
    const clock = new VirtualClock(0);
    const pacer = new SessionPacer(clock, 2);
    await clock.run(async () => {
      const first = await pacer.acquire('s1');
      await clock.advance(50);
      pacer.observe(first, limited(3000));
      // Another send on s1 asks now: the hint, counted from the refusal, decides.
      expect((await pacer.acquire('s1')).at).toBe(3050);
      // Then the lowered rate spaces the session's calls, whole milliseconds apart.
      expect((await pacer.acquire('s1')).at).toBe(3050 + Math.ceil(1000 / 1.4));
      expect(pacer.rateOf('s1')).toBeCloseTo(1.4, 12);
      expect(pacer.learned('s1')).toBeCloseTo(1.4, 12);
      // s2 never heard of it.
      const other = await pacer.acquire('s2');
      expect((await pacer.acquire('s2')).at - other.at).toBe(500);
      expect(pacer.learned('s2')).toBe(0);
    });
  });

  it('sends the next call at the hint even before the lowered spacing: the refused call took no place in the server window', async () => {
    const clock = new VirtualClock(0);
    const pacer = new SessionPacer(clock, 2);
    await clock.run(async () => {
      const refused = await pacer.acquire('s');
      await clock.advance(600);
      pacer.observe(refused, limited(0));
      expect((await pacer.acquire('s')).at).toBe(600);
      expect((await pacer.acquire('s')).at).toBe(600 + Math.ceil(1000 / 1.4));
      // A hint sooner than the configured maximum allows does not beat it.
      const early = await pacer.acquire('s');
      await clock.advance(100);
      pacer.observe(early, limited(50));
      expect((await pacer.acquire('s')).at).toBe(early.at + 500);
      // Without a hint the lowered rate spaces the next call from the refused one.
      const again = await pacer.acquire('s');
      await clock.advance(10);
      pacer.observe(again, limited());
      expect((await pacer.acquire('s')).at).toBe(again.at + Math.ceil(1000 / (1.4 * 0.7 * 0.7)));
    });
  });

  it('raises the rate only after clean calls it held back', async () => {
    const clock = new VirtualClock(0);
    const pacer = new SessionPacer(clock, 2);
    await clock.run(async () => {
      pacer.observe(await pacer.acquire('s'), limited());
      const lowered = pacer.rateOf('s');
      await clock.advance(2000);
      // Calls slower than the spacing: the rate never held them back, so they prove nothing about it.
      for (let i = 0; i < 5; i++) {
        const slot = await pacer.acquire('s');
        await clock.advance(2000);
        expect(slot.held).toBe(false);
        pacer.observe(slot, OK);
      }
      expect(pacer.rateOf('s')).toBe(lowered);
      // Quick calls: each waited for its slot, so each clean one raises the rate.
      const held = await pacer.acquire('s');
      const next = await pacer.acquire('s');
      expect([held.held, next.held]).toEqual([false, true]);
      pacer.observe(next, OK);
      expect(pacer.rateOf('s')).toBeCloseTo(lowered + 2 * callRateDefaults.recoveryShare, 12);
    });
  });

  it('takes nothing from the first call after a refusal, which goes through a window the refused call never took', async () => {
    const clock = new VirtualClock(0);
    const pacer = new SessionPacer(clock, 2);
    await clock.run(async () => {
      pacer.observe(await pacer.acquire('s'), limited());
      const lowered = pacer.rateOf('s');
      const after = await pacer.acquire('s');
      expect(after.held).toBe(false);
      pacer.observe(after, OK);
      expect(pacer.rateOf('s')).toBe(lowered);
      const next = await pacer.acquire('s');
      expect(next.held).toBe(true);
      pacer.observe(next, OK);
      expect(pacer.rateOf('s')).toBeGreaterThan(lowered);
    });
  });

  it('learns once from calls refused together at the old rate', async () => {
    const clock = new VirtualClock(0);
    const pacer = new SessionPacer(clock, 2);
    await clock.run(async () => {
      const a = await pacer.acquire('s');
      const b = await pacer.acquire('s');
      await clock.advance(100);
      pacer.observe(b, limited());
      pacer.observe(a, limited());
      expect(pacer.rateOf('s')).toBeCloseTo(2 * callRateDefaults.backoffRatio, 12);
      // A call made at the new rate and refused again is a new lesson.
      const c = await pacer.acquire('s');
      pacer.observe(c, limited());
      expect(pacer.rateOf('s')).toBeCloseTo(2 * callRateDefaults.backoffRatio ** 2, 12);
    });
  });

  it('starts a session it has not paced at a remembered rate, and never overrides one it paces', async () => {
    const clock = new VirtualClock(0);
    const pacer = new SessionPacer(clock, 2);
    pacer.prime('remembered', 0.5);
    pacer.prime('nothing', undefined);
    await clock.run(async () => {
      const first = await pacer.acquire('remembered');
      expect((await pacer.acquire('remembered')).at - first.at).toBe(2000);
      pacer.prime('remembered', 2);
      expect(pacer.rateOf('remembered')).toBe(0.5);
      expect(pacer.rateOf('nothing')).toBe(2);
    });
  });
});

describe('a send on a rate-limited network', () => {
  it('slows down instead of failing: no strategy sees a refusal, no recipient spends an attempt on one, and refusals become rare', async () => {
    let network!: SimulatedNetwork;
    const r = rig({
      transport: (clock) => (network = new SimulatedNetwork({ profile: oneCallASecond, clock })),
      config: { maxAttempts: 1 },
    });
    const { strategy, seen } = steady(100);
    const events = await runSend(r, { recipients: numbers(4001), strategy });

    const summary = summaryOf(events);
    expect(summary.delivered).toBe(4001);
    expect(summary.failed).toEqual([]);
    expect(seen.every((o) => o.ok)).toBe(true);
    const refused = batchesOf(events).filter((b) => b.error?.code === 'RATE_LIMITED');
    for (const b of refused) {
      expect(b.reason).toMatch(/^rate limited: .* on this session from now on; 100 again$/);
      expect(b.nextSize).toBe(100);
    }
    // At the configured 2 calls/s every other call would be refused; learning the rate keeps it to a few.
    const calls = network.oracle.calls.length;
    expect(calls).toBeGreaterThan(40);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.length / calls).toBeLessThan(0.2);
    // The refusals that remain are the slow probing of additive recovery, spread out, not bunched at the start.
    expect(refused.filter((b) => b.index > 20).length).toBeGreaterThan(0);
  });

  it("tells the strategy the session's pace: the configured maximum until a refusal, the learned rate after", async () => {
    const r = rig({ transport: (clock) => new SimulatedNetwork({ profile: oneCallASecond, clock }) });
    const rates: (number | undefined)[] = [];
    const hold = (ctx: StrategyContext) => {
      rates.push(ctx.callsPerSecond);
      return { state: null, size: 100, reason: 'holding 100' };
    };
    const strategy = defineStrategy<null>({
      name: 'pace-reader',
      description: 'test: records the call rate it is shown',
      start: hold,
      next: (_state, _outcome, ctx) => hold(ctx),
    });
    await runSend(r, { recipients: numbers(2001), strategy });
    expect(rates[0]).toBe(r.config.maxBatchesPerSecond);
    const learned = rates.at(-1)!;
    expect(learned).toBeLessThan(r.config.maxBatchesPerSecond);
    // What the strategy is shown is what the pacer spaces calls by (one a second here, give or take the probing).
    expect(learned).toBeGreaterThan(0.5);
    expect(learned).toBeLessThan(1.5);
  });

  it('remembers the learned rate beside the proven size, and the next process starts its sends at it', async () => {
    let network!: SimulatedNetwork;
    const r = rig({ transport: (clock) => (network = new SimulatedNetwork({ profile: oneCallASecond, clock })) });
    const { strategy } = steady(100);
    const first = await runSend(r, { recipients: numbers(2001), strategy });
    const history = await r.memory.inspect('session-1');
    expect(history?.maxProvenBatchSize).toBe(100);
    const learned = history!.learnedCallsPerSecond!;
    expect(learned).toBeGreaterThan(0.5);
    expect(learned).toBeLessThan(1.1);
    expect(history!.callRateLearnedAt).toBeGreaterThan(1_700_000_000_000);
    expect(history!.callRateLearnedAt).toBeLessThanOrEqual(r.clock.now());

    // A new engine is a new process: only session memory knows the rate.
    await r.clock.advance(60_000);
    const engine = new SendEngine({ transport: network, clock: r.clock, memory: r.memory, config: r.config });
    const before = network.oracle.calls.length;
    const second = await runSend({ ...r, engine }, { recipients: numbers(2001), strategy });
    const calls = network.oracle.calls.slice(before);
    expect(calls[1]!.startedAt - calls[0]!.startedAt).toBe(Math.ceil(1000 / learned));
    const refusals = (events: typeof first) => batchesOf(events).filter((b) => b.error?.code === 'RATE_LIMITED').length;
    expect(refusals(second)).toBeLessThan(refusals(first));
    expect(summaryOf(second).delivered).toBe(2001);
  });

  it('changes nothing without rate limiting: calls at maxBatchesPerSecond, no rate in memory', async () => {
    let network!: SimulatedNetwork;
    const r = rig({
      transport: (clock) => (network = new SimulatedNetwork({ profile: { ...oneCallASecond, rateLimitPerSecond: 0 }, clock })),
    });
    await runSend(r, { recipients: numbers(2001), strategy: steady(100).strategy });
    const starts = network.oracle.calls.map((c) => c.startedAt);
    expect(starts).toHaveLength(21);
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBe(500);
    const history = await r.memory.inspect('session-1');
    expect(history).not.toHaveProperty('learnedCallsPerSecond');
    expect(history).not.toHaveProperty('callRateLearnedAt');
  });

  it('retries a refused anchor after the hint, and paces the batches at the lowered rate', async () => {
    const r = rig({
      transport: (clock) =>
        new ScriptedTransport(clock, (call) =>
          call.index === 0 ? { latencyMs: 20, fail: 'RATE_LIMITED', retryAfterMs: 4000 } : { latencyMs: 20 },
        ),
    });
    const events = await runSend(r, { recipients: numbers(301), strategy: steady(100).strategy });
    const calls = (r.transport as ScriptedTransport).calls;
    expect(events.find((e) => e.type === 'anchor')).toMatchObject({ attempts: 2 });
    expect(calls[1]!.startedAt - calls[0]!.startedAt).toBe(20 + 4000);
    // 1.4 calls/s after the refusal, each clean call the pace held back adding 0.02.
    expect(calls.slice(2).map((c, i) => c.startedAt - calls[i + 1]!.startedAt)).toEqual([715, 705, 695]);
    expect(summaryOf(events).delivered).toBe(301);
  });
});
