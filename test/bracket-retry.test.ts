/** bracket's retry of a first failure at a size that worked, its cold give-up on a slow anchor, and its growth steps. */
import { describe, expect, it } from 'vitest';
import bracket, { createBracket } from '../strategies/bracket.js';
import { GIVE_UP_FACTOR, GIVE_UP_MARGIN_MS } from '../strategies/bracket-latency.js';
import type { BatchOutcome } from '../strategies/sdk.js';
import { CHECK_DIVISOR, ctx, drive, history, network, network6000 } from './support/bracket.js';

describe('bracket: retries, cold give-up and growth', () => {
  it('retries a first failure at a size that worked one above it, where failing again costs nobody an attempt', () => {
    const start = ctx({ history: history(2000, 2000, 2200) });
    const cruising = bracket.next(bracket.start(start).state, { size: 2000, durationMs: 2000, ok: true }, start);
    const failed = bracket.next(cruising.state, { size: 2000, durationMs: 5000, ok: false, error: 'timeout' }, start);
    expect(failed.size).toBe(2001);
    expect(failed.state.front).toEqual([[2000, 1]]);
    // The retry is larger than the last size that worked: the engine counts its failure against no one.
    const again = bracket.next(failed.state, { size: 2001, durationMs: 5000, ok: false, error: 'timeout' }, start);
    expect(again.state.front).toEqual([[2000, 1]]);
    expect(again.size).toBe(Math.floor(2000 / CHECK_DIVISOR));
    // It worked: random. The size that worked and the ceiling above it stand, with no check below.
    const random = bracket.next(failed.state, { size: 2001, durationMs: 2000, ok: true }, start);
    expect(random.reason).toContain('was random');
    expect(random.size).toBeGreaterThanOrEqual(2000);
    expect(random.state.bad).toBe(cruising.state.bad);
  });

  it('checks below at once where a retry would reach the ceiling or be merged into the rest by the tail rule', () => {
    // The ceiling right above the size that worked: one above it is what failed before.
    const weak = (size: number): BatchOutcome =>
      size <= 450 ? { size, durationMs: 600 + 1.2 * size, ok: true } : { size, durationMs: 1800, ok: false, error: 'timeout' };
    const start = ctx({ history: history(450, 1140, 451), anchorMs: 600 });
    const cruising = drive(40, weak, start).at(-1)!;
    expect(bracket.next(cruising.state, { size: 450, durationMs: 1800, ok: false, error: 'timeout' }, start).size).toBe(150);
    // 2,500 left: the engine would send all of them instead of 2,001.
    const long = ctx({ history: history(2000, 2000, 2200) });
    const steady = bracket.next(bracket.start(long).state, { size: 2000, durationMs: 2000, ok: true }, long);
    const tail = ctx({ history: history(2000, 2000, 2200), remaining: 2500 });
    const failed = bracket.next(steady.state, { size: 2000, durationMs: 5000, ok: false, error: 'timeout' }, tail);
    expect(failed.state.phase.kind).toBe('checking');
  });

  it('with a slow anchor, gives up on a first call at the top after a few round trips, not the batch timeout', () => {
    const anchorMs = 2400;
    const first = bracket.start(ctx({ anchorMs, total: 10_000, remaining: 10_000 }));
    expect(first.size).toBe(5000);
    expect(first.timeoutMs).toBe(Math.round(anchorMs * 3 * GIVE_UP_FACTOR + GIVE_UP_MARGIN_MS));
    expect(createBracket({ name: 'bracket-patient', coldGiveUpAnchors: 4 }).start(ctx({ anchorMs })).timeoutMs).toBe(
      Math.round(anchorMs * 5 * GIVE_UP_FACTOR + GIVE_UP_MARGIN_MS),
    );
    // A FAST anchor starts lower, with the per-recipient bound as before.
    expect(bracket.start(ctx({ anchorMs: 400 })).size).toBe(1000);
  });

  it('grows at most threefold per batch while nothing has failed', () => {
    // 1,500 ms + 0.3 ms each: the latency budget alone would allow 7,000 after 1,000.
    const start = ctx({ anchorMs: 1500 });
    expect(drive(1, network6000, start)[1]!.size).toBe(3000);
    expect(drive(1, network6000, start, createBracket({ name: 'bracket-bold', maxGrowth: 8 }))[1]!.size).toBeGreaterThan(6900);
    expect(drive(1, network)[1]!.size).toBeLessThanOrEqual(3000);
  });
});
