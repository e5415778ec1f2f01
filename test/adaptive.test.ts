/**
 * adaptive's limit (issue 19, point 6): after a size fails, a send steps back up
 * only to the largest level below it (or a size that worked below it), tries the
 * failed size again only after CLEAN_BATCHES_TO_RETRY_LIMIT clean batches, and
 * holds below the limit the session remembers (minFailedBatchSize) from the
 * first batch. As plain function calls, then through the real engine on the
 * simulated `realistic` network (the `npm start` default).
 */
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../src/clock.js';
import { defaultConfig } from '../src/config.js';
import type { BatchEvent, PlannedEvent } from '../src/engine/events.js';
import { silentLogger } from '../src/log.js';
import { createSessionMemory } from '../src/memory/keyv-memory.js';
import { SimulatedNetwork } from '../src/transport/sim/network.js';
import { builtinProfiles } from '../src/transport/sim/profile.js';
import adaptive, { CLEAN_BATCHES_TO_RETRY_LIMIT as N, CLEAN_BATCHES_TO_RETRY_REMEMBERED_LIMIT } from '../strategies/adaptive.js';
import { type BatchOutcome, planSize, type SessionHistoryView, type StrategyContext } from '../strategies/sdk.js';
import { batchesOf, rig, runSend, summaryOf } from './support/harness.js';
import { numbers } from './support/scripted-transport.js';

const config = defaultConfig.smartSend;

function ctx(over: Partial<StrategyContext> = {}): StrategyContext {
  return { config, history: null, total: 1_000_000, remaining: 1_000_000, batchesSent: 0, batchesOk: 0, ...over };
}

const memory = (maxProvenBatchSize: number, minFailedBatchSize: number): SessionHistoryView => ({
  maxProvenBatchSize,
  minFailedBatchSize,
  averageBatchTime: 1000,
  successRate: 1,
  totalSuccessfulSends: 10,
});

/** A network where every call up to `capacity` works in 500 ms (FAST) and anything bigger times out. */
const capacity =
  (limit: number) =>
  (size: number): BatchOutcome =>
    size <= limit ? { size, durationMs: 500, ok: true } : { size, durationMs: 15_000, ok: false, error: 'timeout' };

/** Runs `calls` decisions against `network` on a list too long to run out; returns the sizes asked for. */
function walk(network: (size: number) => BatchOutcome, calls: number, history: SessionHistoryView | null = null): number[] {
  let step = adaptive.start(ctx({ history }));
  const sizes = [step.size];
  let sent = 0;
  let good = 0;
  for (let i = 0; i < calls; i++) {
    const outcome = network(step.size);
    sent++;
    if (outcome.ok) good++;
    step = adaptive.next(step.state, outcome, ctx({ history, batchesSent: sent, batchesOk: good }));
    sizes.push(step.size);
  }
  return sizes;
}

describe('adaptive: the limit found in this send', () => {
  it(`holds below a failed size, halfway from the level below it, and tries it again only after ${N} clean batches`, () => {
    // 100 and 1000 are fast, so the seed skips to 4000, which fails: back to 2000, then halfway to 4000, and it stays there.
    const sizes = walk(capacity(3000), 4 + N);
    expect(sizes.slice(0, 4)).toEqual([100, 1000, 4000, 2000]);
    expect(sizes.slice(4, 3 + N)).toEqual(Array(N - 1).fill(3000));
    // The retry is the size that failed, not the level the seed's skip would pick (5000).
    expect(sizes[3 + N]).toBe(4000);
  });

  it('waits twice as long after each retry that fails again', () => {
    const sizes = walk(capacity(3000), 3 + N + 1 + 2 * N + 1);
    const retries = sizes.flatMap((size, i) => (size === 4000 ? [i] : []));
    // 4000 at the skip, again after N clean batches at 2000, then after 2N.
    expect(retries).toEqual([2, 2 + 1 + N, 2 + 1 + N + 1 + 2 * N]);
  });

  it('lifts the limit once the failed size works, and climbs past it as before', () => {
    // 4000 times out once, then works: the network got better, or it was chance.
    let calls = 0;
    const sizes = walk((size) => (size === 4000 && calls++ === 0 ? capacity(0)(size) : capacity(Infinity)(size)), 3 + N + 2);
    expect(sizes.slice(2, 4)).toEqual([4000, 2000]);
    expect(sizes.slice(3 + N, 3 + N + 3)).toEqual([4000, 5000, 5000]);
  });

  it('steps back up to a size that worked in this send when it is above the largest level below the limit', () => {
    // Capacity 450, remembered as proven but not as a limit: 450 works, the step up to 500 fails.
    const sizes = walk(capacity(450), 4, memory(450, 0));
    // 450 ok -> skip to 1000 (fails) -> 500 (fails) -> 100 ok -> back to 450, not to 500 or down at 100.
    expect(sizes).toEqual([450, 1000, 500, 100, 450]);
  });

  it('does not take a rate limit as a limit on size', () => {
    const rateLimited = (size: number): BatchOutcome => ({ size, durationMs: 300, ok: false, error: 'rate_limited' });
    let calls = 0;
    const sizes = walk((size) => (calls++ === 2 ? rateLimited(size) : capacity(Infinity)(size)), 4);
    // The seed still halves after the refusal, and climbs back to 4000 and past it at once.
    expect(sizes).toEqual([100, 1000, 4000, 2000, 4000]);
  });

  it('takes a failure at a size that kept working through a clean run as chance, and one soon after a failure as a limit', () => {
    // Capacity 2000, remembered, so every call is 2000; one call fails whatever its size.
    const oneFailure = (at: number) => {
      let calls = 0;
      return (size: number) => (calls++ === at ? capacity(0)(size) : capacity(2000)(size));
    };
    const late = N + 3;
    // After N + 3 clean batches at 2000: down to 1000 (the seed's halving) and straight back to 2000.
    expect(walk(oneFailure(late), late + 2, memory(2000, 2001)).slice(late)).toEqual([2000, 1000, 2000]);
    // On the second call, with one clean batch behind it: 2000 is the limit now, held below (halfway from
    // the seed's 1000) for N clean batches.
    expect(walk(oneFailure(1), 2 + N, memory(2000, 2001)).slice(1)).toEqual([2000, 1000, ...Array(N - 1).fill(1500), 2000]);
  });

  it('never lets the tail rule merge what remains into one batch at or above the limit', () => {
    // Limit 3001 (remembered): with 4000 left, a wish of 3000 would go out as all 4000 (4000 < 1.5 x 3000).
    const history = memory(3000, 3001);
    const sizes: number[] = [];
    let remaining = 10_000;
    let step = adaptive.start(ctx({ history, total: remaining, remaining }));
    while (remaining > 0) {
      const size = planSize(step.size, remaining, config.maxBatchSize);
      sizes.push(size);
      remaining -= size;
      step = adaptive.next(step.state, { size, durationMs: 2500, ok: true }, ctx({ history, total: 10_000, remaining }));
    }
    expect(sizes).toEqual([3000, 3000, 2666, 1334]);
  });
});

describe('adaptive: the limit the session remembers (minFailedBatchSize)', () => {
  it(`starts at the proven size and holds below the remembered limit for ${CLEAN_BATCHES_TO_RETRY_REMEMBERED_LIMIT} clean batches`, () => {
    const wait = CLEAN_BATCHES_TO_RETRY_REMEMBERED_LIMIT;
    const sizes = walk(capacity(3000), wait, memory(3000, 3001));
    // Fast every time: without the limit the seed would skip to 5000 after the first batch.
    expect(sizes.slice(0, wait)).toEqual(Array(wait).fill(3000));
    expect(sizes[wait]).toBe(3001);
  });

  it('caps a first send that has a limit but nothing proven', () => {
    // Fast at 100 would skip to 1000; the remembered 500 keeps it below: halfway from 100, then from 300,
    // and no closer (450 would carry under 1.25x 400).
    expect(walk(capacity(450), 3, memory(0, 500))).toEqual([100, 300, 400, 400]);
  });

  it('says so in the first decision', () => {
    expect(adaptive.start(ctx({ history: memory(3000, 3001) })).reason).toMatch(/proven size 3000.*below the 3001 that failed last time/);
  });
});

describe('adaptive through the engine on the `npm start` network (realistic: 3000 at most, 2% chance failures)', () => {
  const profile = builtinProfiles().realistic!;
  const oneWorld = () => {
    const clock = new VirtualClock(1_700_000_000_000);
    const memoryStore = createSessionMemory({ url: 'memory://', enabled: true, ttlMs: 86_400_000, clock, logger: silentLogger });
    return () => rig({ clock, memory: memoryStore, transport: (c) => new SimulatedNetwork({ profile, clock: c, seed: 1 }) });
  };

  /** Every batch at or above `wall` after the first failure there, with the clean batches in a row before it. */
  function retriesOf(batches: readonly BatchEvent[], wall: number): number[] {
    const first = batches.findIndex((b) => !b.ok && b.size >= wall);
    const runs: number[] = [];
    let clean = 0;
    for (const b of batches.slice(first + 1)) {
      if (b.size >= wall) runs.push(clean);
      clean = b.ok && b.speed !== 'SLOW' ? clean + 1 : 0;
    }
    return runs;
  }

  it(`a 20,000-recipient send no longer walks into 4000 after every success (19 calls, 8 failed, 52,898 recipient-sends before)`, async () => {
    const events = await runSend(oneWorld()(), { recipients: numbers(20_000), strategy: adaptive });
    const batches = batchesOf(events);
    expect(batches.slice(0, 3).map((b) => [b.size, b.ok])).toEqual([
      [100, true],
      [1000, true],
      [4000, false],
    ]);
    for (const clean of retriesOf(batches, 4000)) expect(clean).toBeGreaterThanOrEqual(N);
    expect(summaryOf(events).delivered).toBe(20_000);
    expect(batches.filter((b) => !b.ok).length).toBeLessThanOrEqual(3);
    expect(batches.reduce((sum, b) => sum + b.size, 0)).toBeLessThan(30_000);
  });

  it('the next send starts at the proven size and stays below the limit the first one found', async () => {
    const world = oneWorld();
    await runSend(world(), { recipients: numbers(20_000), strategy: adaptive });
    const r = world();
    const remembered = await r.memory.load('session-1');
    // Halfway from 2000 to the 4000 that failed is 3000: the capacity, proven and remembered.
    expect(remembered).toMatchObject({ maxProvenBatchSize: 3000, minFailedBatchSize: 4000 });
    const events = await runSend(r, { recipients: numbers(20_000), strategy: adaptive });
    expect(events[0] as PlannedEvent).toMatchObject({ usedHistory: true, provenSize: 3000, firstBatchSize: 3000 });
    const batches = batchesOf(events);
    // Before, the first fast batch skipped to 5000 and timed out.
    expect(Math.max(...batches.map((b) => b.size))).toBeLessThan(4000);
    expect(batches.filter((b) => !b.ok && b.error?.code === 'TIMEOUT' && b.size >= 4000)).toEqual([]);
  });
});
