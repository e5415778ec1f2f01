/** The bracket strategy's moves named from its phase and outcome, and its tuning as options. */
import { describe, expect, it } from 'vitest';
import bracket, { createBracket, type BracketState } from '../strategies/bracket.js';
import { transition, type MoveFacts, type Phase } from '../strategies/bracket-phase.js';
import type { BatchOutcome, DefinedStrategy } from '../strategies/sdk.js';
import { config, ctx, drive, history, network } from './support/bracket.js';

describe('bracket: moves and options', () => {
  it('names every move from the phase and the outcome alone', () => {
    const ok = (size: number): BatchOutcome => ({ size, durationMs: 500, ok: true });
    const fail = (size: number, error: 'timeout' | 'error' | 'rate_limited'): BatchOutcome => ({ size, durationMs: 500, ok: false, error });
    const facts = { good: 900, blipAllowed: true };
    const steady: Phase = { kind: 'steady' };
    const signs = { failuresAtOne: 0, quickOk: 0 };
    const move = (phase: Phase, outcome: BatchOutcome, f: MoveFacts = facts) => transition(phase, outcome, f);
    expect(move(steady, fail(900, 'timeout'))).toEqual({ phase: { kind: 'checking', cause: 'hang', outage: signs }, move: 'suspect' });
    expect(move(steady, fail(900, 'error')).phase).toMatchObject({ kind: 'checking', cause: 'blip' });
    expect(move(steady, fail(900, 'error'), { good: 900, blipAllowed: false }).phase).toMatchObject({ kind: 'checking', cause: 'error' });
    expect(move(steady, fail(1000, 'timeout')).move).toBe('ceiling');
    expect(move({ kind: 'probing' }, fail(990, 'timeout')).move).toBe('ceiling');
    expect(move(steady, fail(1000, 'timeout'), { good: 0, blipAllowed: true }).move).toBe('cold-failure');
    expect(move(steady, fail(900, 'rate_limited'))).toEqual({ phase: steady, move: 'rate-limited' });
    const checking: Phase = { kind: 'checking', cause: 'hang', outage: signs };
    expect(move(checking, ok(300))).toEqual({ phase: steady, move: 'checked' });
    expect(move({ ...checking, cause: 'blip' }, ok(300)).move).toBe('blip-over');
    expect(move(checking, fail(300, 'timeout'))).toEqual({ phase: steady, move: 'fell' });
    expect(move(checking, fail(300, 'error'))).toEqual({ phase: { kind: 'outage', outage: signs }, move: 'outage' });
    const outage: Phase = { kind: 'outage', outage: signs };
    expect(move(outage, fail(1, 'timeout')).phase).toEqual({ kind: 'outage', outage: { failuresAtOne: 1, quickOk: 0 } });
    expect(move(outage, ok(1))).toEqual({
      phase: { kind: 'checking', cause: 'blip', outage: { failuresAtOne: 0, quickOk: 1 } },
      move: 'outage-over',
    });
    // One recipient through at once a second time, with no one-recipient failure: a capacity rejected fast.
    expect(move({ kind: 'outage', outage: { failuresAtOne: 0, quickOk: 1 } }, ok(1))).toEqual({ phase: steady, move: 'rejected-fast' });
    // One failure at one recipient (a network that drops a few percent of calls) delays that verdict, but does not cancel it.
    expect(move({ kind: 'outage', outage: { failuresAtOne: 1, quickOk: 1 } }, ok(1)).move).toBe('outage-over');
    expect(move({ kind: 'outage', outage: { failuresAtOne: 1, quickOk: 2 } }, ok(1)).move).toBe('rejected-fast');
    // A first failure at a size that worked, where a retry costs nobody an attempt: retried once.
    const retrying: Phase = { kind: 'retrying', size: 900 };
    expect(move(steady, fail(900, 'timeout'), { ...facts, retryAllowed: true })).toEqual({ phase: retrying, move: 'retry' });
    expect(move(retrying, ok(901))).toEqual({ phase: steady, move: 'retried' });
    // The retry (one above the size that worked) failing is a second failure there, not a ceiling; a fast one is no blip.
    expect(move(retrying, fail(901, 'timeout'), { ...facts, retryAllowed: true })).toEqual({
      phase: { kind: 'checking', cause: 'hang', outage: signs },
      move: 'suspect',
    });
    expect(move(retrying, fail(901, 'error')).phase).toMatchObject({ kind: 'checking', cause: 'error' });
    // Where one recipient fails as often as it works, it is an outage.
    expect(move({ kind: 'outage', outage: { failuresAtOne: 3, quickOk: 4 } }, ok(1)).move).toBe('outage-over');
  });

  it('createBracket() with no options is the built-in, decision for decision', () => {
    const made = createBracket();
    expect(made.name).toBe('bracket');
    expect(made.description).toBe(bracket.description);
    const dropped = (size: number): BatchOutcome =>
      size <= 500 ? { size, durationMs: 400 + 0.8 * size, ok: true } : { size, durationMs: 400, ok: false, error: 'error' };
    let calls = 0;
    const scripted = (size: number) => (++calls < 30 ? network(size) : dropped(size));
    const builtIn = drive(60, scripted);
    calls = 0;
    expect(drive(60, scripted, ctx(), made)).toEqual(builtIn);
  });

  it('takes its tuning as options, each left out at its visible default', () => {
    const tuned = createBracket({ name: 'bracket-halves', startLevel: 1, checkDivisor: 2 });
    expect(tuned.name).toBe('bracket-halves');
    expect(tuned.start(ctx()).size).toBe(config.progressiveSequence[1]);
    const start = ctx({ history: history(2000, 2000, 2200) });
    const cruising = tuned.next(tuned.start(start).state, { size: 2000, durationMs: 2000, ok: true }, start);
    const retry = tuned.next(cruising.state, { size: 2000, durationMs: 5000, ok: false, error: 'timeout' }, start);
    const hung = tuned.next(retry.state, { size: 2001, durationMs: 5000, ok: false, error: 'timeout' }, start);
    expect(hung.size).toBe(1000);
    expect(hung.reason).toContain('checking at 1/2 of 2000');
    // Probing sooner: the remembered limit is probed after fewer clean batches than the default's.
    const weak = (size: number): BatchOutcome =>
      size <= 450 ? { size, durationMs: 600 + 1.2 * size, ok: true } : { size, durationMs: 1800, ok: false, error: 'timeout' };
    const weakStart = ctx({ history: history(450, 1140, 451), anchorMs: 600 });
    const firstProbe = (s: DefinedStrategy<BracketState>) => drive(40, weak, weakStart, s).findIndex((x) => x.size > 450);
    expect(firstProbe(createBracket({ name: 'bracket-eager', probeFromMemory: 4 }))).toBeLessThan(firstProbe(bracket));
  });

  it('refuses options out of range or unknown, naming them', () => {
    expect(() => createBracket({ checkDivisor: 1 })).toThrow(/checkDivisor: 1 \(expected > 1\)/);
    expect(() => createBracket({ probeOdds: Number.NaN })).toThrow(/probeOdds/);
    expect(() => createBracket({ startLevel: 1.5 })).toThrow(/startLevel/);
    expect(() => createBracket({ probeEvry: 3 } as never)).toThrow(/unknown bracket option probeEvry/);
    // Left out and undefined are the same: the default.
    expect(createBracket({ probeEvery: undefined }).start(ctx()).size).toBe(1000);
  });
});
