/** The bracket strategy's rules, called as plain functions: how it sizes sends. */
import { describe, expect, it } from 'vitest';
import bracket from '../strategies/bracket.js';
import { fitLine, GIVE_UP_FACTOR, GIVE_UP_MARGIN_MS, giveUpMs } from '../strategies/bracket-latency.js';
import type { Phase } from '../strategies/bracket-phase.js';
import { worthTrying } from '../strategies/bracket-weigh.js';
import { planSize, type BatchOutcome } from '../strategies/sdk.js';
import {
  carryOn,
  CHECK_DIVISOR,
  config,
  ctx,
  drive,
  history,
  MAX_MS_PER_RECIPIENT,
  network,
  network6000,
  PROBE_EVERY,
  rejectedAbove,
} from './support/bracket.js';

describe('bracket', () => {
  it('starts at the third level, and cuts a first call that hangs short using the anchor', () => {
    const first = bracket.start(ctx());
    expect(first.size).toBe(1000);
    expect(first.timeoutMs).toBe(Math.round((400 + MAX_MS_PER_RECIPIENT * 1000) * GIVE_UP_FACTOR + GIVE_UP_MARGIN_MS));
    expect(bracket.start(ctx({ anchorMs: undefined })).timeoutMs).toBeUndefined();
  });

  it('starts at the top of the sequence when the anchor says a call is mostly fixed cost', () => {
    // Not FAST with one recipient: an extra call costs about one anchor, more recipients in it little.
    const anchorMs = 2500;
    const top = config.progressiveSequence.at(-1)!;
    const list = ctx({ anchorMs, total: 9999, remaining: 9999 });
    const first = bracket.start(list);
    expect(first.size).toBe(top);
    expect(first.reason).toContain('2500 ms');
    // With 0.15 ms a recipient, the rest of a 10,000 list then goes in one more call, not two.
    const overhead = (size: number): BatchOutcome => ({ size, durationMs: anchorMs + 0.15 * size, ok: true });
    const rest = 9999 - top;
    const second = bracket.next(first.state, overhead(top), { ...list, remaining: rest, batchesSent: 1, batchesOk: 1 });
    expect(planSize(second.size, rest, config.maxBatchSize)).toBe(rest);
    // Just under the FAST threshold it is the usual cold start; a history still decides over either.
    expect(bracket.start(ctx({ anchorMs: config.fastBatchThresholdMs - 1 })).size).toBe(1000);
    expect(bracket.start(ctx({ anchorMs, history: history(450, 1140, 451) })).size).toBe(450);
  });

  it('grows, finds the ceiling by failing above it, and settles just under it', () => {
    const sizes = drive(60, network).map((s) => s.size);
    expect(sizes[0]).toBe(1000);
    const tried = sizes.slice(0, -1);
    expect(tried.some((n) => n > 3000)).toBe(true);
    expect(tried.filter((n) => n > 3000).length).toBeLessThanOrEqual(3);
    expect(Math.max(...tried)).toBeLessThan(2 * 3000);
    const last = sizes.slice(-5);
    expect(new Set(last).size).toBe(1);
    expect(last[0]!).toBeLessThanOrEqual(3000);
    // Close enough that the last few percent are not worth another hung call: within 5% of the best throughput.
    const msPerRecipient = (n: number) => (400 + 0.8 * n) / n;
    expect(msPerRecipient(last[0]!)).toBeLessThan(1.05 * msPerRecipient(3000));
  });

  it('asks the engine to give up at 1.3x the predicted latency plus 300 ms', () => {
    const steps = drive(30, network);
    const model = (n: number) => 400 + 0.8 * n;
    const next = steps.at(-1)!;
    expect(next.timeoutMs).toBeCloseTo(model(next.size) * GIVE_UP_FACTOR + GIVE_UP_MARGIN_MS, 0);
  });

  it('far above what it has seen too, gives up at 1.3x the line plus 300 ms: a failed try costs about one call', () => {
    // 2,500 ms + 0.15 ms each (mostly fixed cost). Seen: the anchor and 1000. Waiting half the way up to the
    // proportional bound (25 s at 10,000) made every failed try far above cost several calls.
    const line = (n: number) => 2500 + 0.15 * n;
    const samples = [
      { n: 1, ms: line(1), wins: 1 },
      { n: 1000, ms: line(1000), wins: 1 },
    ];
    expect(giveUpMs(3000, samples)!).toBeCloseTo(line(3000) * GIVE_UP_FACTOR + GIVE_UP_MARGIN_MS, 0);
    expect(giveUpMs(1200, samples)!).toBeCloseTo(line(1200) * GIVE_UP_FACTOR + GIVE_UP_MARGIN_MS, 0);
  });

  it('does not let jitter on two samples convince it that a call has no round trip', () => {
    // 400 ms + 0.8 ms each, +-15%: 1000 came in slow and 2365 on time, then 5766 slow again.
    const samples = [
      { n: 1, ms: 368, wins: 1 },
      { n: 1000, ms: 1371, wins: 1 },
      { n: 2365, ms: 2290, wins: 1 },
      { n: 5766, ms: 5714, wins: 1 },
    ];
    // The line through the two largest crosses zero below n = 0: a call would cost the same per recipient at any size.
    const model = fitLine(samples)!;
    expect(model.base).toBeGreaterThan(200);
    const perRecipient = (n: number) => (model.base + model.per * n) / n;
    expect(perRecipient(5766)).toBeLessThan(0.95 * perRecipient(1922));
    // Where the two largest agree with a round trip, the local line stands (it sees a knee coming).
    expect(
      fitLine([
        { n: 1, ms: 400, wins: 1 },
        { n: 1000, ms: 1200, wins: 1 },
        { n: 3000, ms: 2800, wins: 1 },
      ]),
    ).toEqual({ base: 400, per: 0.8 });
  });

  it('retries a size that worked once (just above it), checks at a third if that fails too; rides out an outage one recipient at a time', () => {
    const start = ctx({ history: history(2000, 2000, 2200) });
    const cruising = bracket.next(bracket.start(start).state as never, { size: 2000, durationMs: 2000, ok: true }, start);
    expect(cruising.size).toBe(2000);
    // One above the engine's last size that worked: if it fails, it is a size probe and costs nobody an attempt.
    const timedOut = bracket.next(cruising.state as never, { size: 2000, durationMs: 5000, ok: false, error: 'timeout' }, start);
    expect(timedOut.size).toBe(2001);
    expect(timedOut.reason).toContain('retrying 2000 once');
    const again = bracket.next(timedOut.state as never, { size: 2001, durationMs: 5000, ok: false, error: 'timeout' }, start);
    expect(again.size).toBe(Math.floor(2000 / CHECK_DIVISOR));
    const first = bracket.next(cruising.state as never, { size: 2000, durationMs: 300, ok: false, error: 'error' }, start);
    expect(first.size).toBe(2001);
    const blip = bracket.next(first.state as never, { size: 2001, durationMs: 300, ok: false, error: 'error' }, start);
    expect(blip.size).toBe(Math.floor(2000 / CHECK_DIVISOR));
    // The check fails fast too: an outage, not a size. One recipient at a time until one gets through, then the check again.
    const outage = bracket.next(blip.state as never, { size: blip.size, durationMs: 300, ok: false, error: 'error' }, start);
    expect(outage.size).toBe(1);
    const still = bracket.next(outage.state as never, { size: 1, durationMs: 300, ok: false, error: 'error' }, start);
    expect(still.size).toBe(1);
    const over = bracket.next(still.state as never, { size: 1, durationMs: 450, ok: true }, start);
    expect(over.size).toBe(Math.floor(2000 / CHECK_DIVISOR));
    // The outage explains the failures: the check working means straight back to the size that worked.
    const back = bracket.next(over.state as never, { size: over.size, durationMs: 900, ok: true }, start);
    expect(back.size).toBe(2000);
  });

  it('goes back at once when the retry after a fast error works, but takes a second failure in a row as about size', () => {
    const steps = drive(30, network);
    const cruise = steps.at(-1)!.size;
    const later = (k: number) => ctx({ batchesSent: 30 + k });
    const blip = bracket.next(steps.at(-1)!.state as never, { size: cruise, durationMs: 400, ok: false, error: 'error' }, later(1));
    expect(blip.size).toBe(cruise + 1);
    const back = bracket.next(blip.state as never, network(blip.size), later(2));
    expect(back.reason).toContain('was random');
    expect(back.size).toBeGreaterThanOrEqual(cruise);
    // Had the retry failed too: not a blip. The check works, and it brackets below the failed size.
    const again = bracket.next(blip.state as never, { size: cruise + 1, durationMs: 400, ok: false, error: 'error' }, later(2));
    expect(again.size).toBe(Math.floor(cruise / CHECK_DIVISOR));
    const checked = bracket.next(again.state as never, network(again.size), later(3));
    expect(checked.size).toBeLessThan(cruise);
    expect(checked.size).toBeGreaterThan(again.size);
  });

  it('tells a capacity that fell and is rejected fast from an outage: one recipient keeps working at once', () => {
    const steps = drive(30, network);
    const cruise = steps.at(-1)!.size;
    const check = Math.floor(cruise / CHECK_DIVISOR);
    // From now on the network rejects anything above 500 fast, and one recipient always goes through.
    const { sizes } = carryOn(steps.at(-1)!, rejectedAbove(500), 14, 31);
    // The retry fails, the check fails, one works, the check fails again, one works: then down by thirds instead of looping.
    expect(sizes.slice(0, 6)).toEqual([cruise + 1, check, 1, check, 1, Math.floor(check / CHECK_DIVISOR)]);
    expect(sizes.slice(-3).every((n) => n > check / CHECK_DIVISOR && n <= 500)).toBe(true);
  });

  it('follows a capacity that fell further than its floor: small calls go through between failures at the floor', () => {
    const steps = drive(30, network);
    const cruise = steps.at(-1)!.size;
    const floor = Math.ceil(cruise / 16);
    // From now on anything above 100 (well under a sixteenth of the cruise) is rejected fast.
    const crashed = rejectedAbove(100);
    const { step, sizes } = carryOn(steps.at(-1)!, crashed, 30, 31);
    // It reaches the floor, sends a few recipients between failures there, then goes below it.
    const atFloor = sizes.filter((n) => n === floor).length;
    expect(atFloor).toBeGreaterThanOrEqual(2);
    expect(atFloor).toBeLessThanOrEqual(4);
    expect(step.reason).not.toMatch(/at the floor/);
    // (Calls of a few recipients go first while the front of the queue has failed twice.)
    expect(
      sizes
        .filter((n) => n > 3)
        .slice(-5)
        .every((n) => n > 50 && n <= 100),
    ).toBe(true);

    // The same fall, but an outage starts as it reaches the floor, and small calls fail as well: the floor holds.
    let held = steps.at(-1)!;
    while (!/at the floor/.test(held.reason)) held = bracket.next(held.state as never, crashed(held.size), ctx({ batchesSent: 31 }));
    const { sizes: outage } = carryOn(held, rejectedAbove(0), 20, 40);
    expect(Math.min(...outage.filter((n) => n > 3))).toBe(floor);
  });

  it('climbs back after a one-off failure at a size that worked many times', () => {
    const steps = drive(30, network);
    const cruise = steps.at(-1)!.size;
    let step = bracket.next(steps.at(-1)!.state as never, { size: cruise, durationMs: 9000, ok: false, error: 'timeout' }, ctx());
    expect(step.size).toBe(cruise + 1);
    const after: number[] = [];
    for (let i = 0; i < 4; i++) {
      step = bracket.next(step.state as never, network(step.size), ctx());
      after.push(step.size);
    }
    expect(Math.max(...after)).toBeGreaterThanOrEqual(cruise * 0.9);
  });

  it('after a hang at a size that worked and a check that passes, tries that size again: random if it works, a ceiling if not', () => {
    const weak = (size: number): BatchOutcome =>
      size <= 450 ? { size, durationMs: 600 + 1.2 * size, ok: true } : { size, durationMs: 1800, ok: false, error: 'timeout' };
    const start = ctx({ history: history(450, 1140, 451), anchorMs: 600 });
    const steps = drive(40, weak, start);
    expect(steps.at(-1)!.size).toBe(450);
    // A random hang at 450, which worked dozens of times; the check at a third works.
    const hung = bracket.next(steps.at(-1)!.state as never, { size: 450, durationMs: 1800, ok: false, error: 'timeout' }, start);
    expect(hung.size).toBe(150);
    const checked = bracket.next(hung.state as never, weak(150), start);
    expect(checked.size).toBe(450);
    // It works: the failure was random, and the ceiling found before it (above 450) still stands.
    const random = bracket.next(checked.state as never, weak(450), start);
    expect(random.reason).toContain('random');
    let step = random;
    for (let i = 0; i < 8; i++) {
      expect(step.size).toBe(450);
      step = bracket.next(step.state as never, weak(step.size), start);
    }
    // Had it failed again, the capacity fell: it brackets below it instead of trying it a third time.
    const again = bracket.next(checked.state as never, { size: 450, durationMs: 1800, ok: false, error: 'timeout' }, start);
    expect(again.size).toBeGreaterThan(150);
    expect(again.size).toBeLessThan(450);
  });

  it('where hangs have proven random, a check that hangs too may be chance again: it climbs back instead of cruising at a ninth', () => {
    const weak = (size: number): BatchOutcome =>
      size <= 450 ? { size, durationMs: 600 + 1.2 * size, ok: true } : { size, durationMs: 1800, ok: false, error: 'timeout' };
    const hang = (size: number): BatchOutcome => ({ size, durationMs: 1800, ok: false, error: 'timeout' });
    const start = ctx({ history: history(450, 1140, 451), anchorMs: 600 });
    let step = drive(40, weak, start).at(-1)!;
    // One random hang, shown random: the check works and 450 works again.
    for (const outcome of [hang(450), weak(150), weak(450)]) step = bracket.next(step.state as never, outcome, start);
    expect(step.size).toBe(450);
    // Then a hang at 450 and at the check below it.
    step = bracket.next(step.state as never, hang(450), start);
    expect(step.size).toBe(150);
    step = bracket.next(step.state as never, hang(150), start);
    expect(step.reason).toContain('or both were random');
    const sizes: number[] = [];
    for (let i = 0; i < 6; i++) {
      step = bracket.next(step.state as never, weak(step.size), start);
      sizes.push(step.size);
    }
    expect(Math.max(...sizes)).toBeGreaterThan(400);
  });

  it('keeps a remembered limit when a probe above it fails, and from the second failed probe waits twice as long after each', () => {
    const weak = (size: number): BatchOutcome =>
      size <= 450 ? { size, durationMs: 600 + 1.2 * size, ok: true } : { size, durationMs: 1800, ok: false, error: 'timeout' };
    const start = ctx({ history: history(450, 1140, 451), anchorMs: 600 });
    const sizes = drive(200, weak, start).map((s) => s.size);
    // Only probes go above 450, and one failed probe is all it takes: no bracketing between the limit and the probe.
    const probes = sizes.flatMap((n, i) => (n > 450 ? [i] : []));
    expect(probes.length).toBeGreaterThanOrEqual(3);
    expect(probes.every((i) => sizes[i + 1] === 450)).toBe(true);
    const gaps = probes.slice(1).map((i, k) => i - probes[k]!);
    // One failed probe may just have come early: the usual wait. Then each doubles it.
    expect(gaps[0]!).toBeLessThanOrEqual(PROBE_EVERY + 1);
    for (let k = 1; k < gaps.length; k++) expect(gaps[k]!).toBeGreaterThanOrEqual(2 * gaps[k - 1]! - 1);
  });

  it('counts a first call that hung at its full cost, so the search after it takes cautious steps', () => {
    // Capacity 450 and failures hang: the first call (1000) is given up on, a third of it works.
    const weak = (size: number): BatchOutcome =>
      size <= 450 ? { size, durationMs: 600 + 1.2 * size, ok: true } : { size, durationMs: 4300, ok: false, error: 'timeout' };
    const steps = drive(2, weak, ctx({ anchorMs: 600, total: 10_000, remaining: 10_000 }));
    expect(steps.map((s) => s.size).slice(0, 2)).toEqual([1000, 333]);
    // The capacity taken as log-uniform between 333 and 1000 has its midpoint at 577: a hung
    // call costing four times a good one is worth a smaller step than that.
    expect(steps[2]!.size).toBeGreaterThan(333);
    expect(steps[2]!.size).toBeLessThan(Math.round(Math.sqrt(333 * 1000)));
  });

  it('probes sooner where failures are cheap, and notices a capacity that rose', () => {
    // Rejected fast (in 400 ms) above 350 for the first 20 calls, then everything up to 6000 works.
    let calls = 0;
    const rising = (size: number): BatchOutcome => {
      calls++;
      const capacity = calls <= 20 ? 350 : 6000;
      return size <= capacity ? { size, durationMs: 450 + size, ok: true } : { size, durationMs: 400, ok: false, error: 'error' };
    };
    const sizes = drive(40, rising, ctx({ anchorMs: 450 })).map((s) => s.size);
    expect(Math.max(...sizes.slice(1, 20))).toBeLessThan(1000);
    expect(Math.max(...sizes.slice(20, 35))).toBeGreaterThan(1000);
  });

  it("weighs a try by what a call costs at the session's pace: where the server holds calls back, larger ones are worth more", () => {
    // 1,000 ms + 1 ms each; 1,000 worked, 2,000 failed. Trying 1,400 on the 6,000 left: at the configured
    // 2 calls/s the calls are slower than their spacing and the try is not worth a hung call; at one call
    // every 5 s each call costs 5 s whatever it carries, so 1,400 a call saves far more than it risks.
    const evidence = {
      good: 1000,
      bad: 2000,
      badGuessed: false,
      samples: [
        { n: 1, ms: 1001, wins: 1 },
        { n: 1000, ms: 2000, wins: 1 },
      ],
      proven: 0,
      ceilingOdds: 1,
    };
    const left = ctx({ remaining: 6000, batchesSent: 2, batchesOk: 1 });
    expect(worthTrying(1000, 1400, evidence, left)).toBe(false);
    expect(worthTrying(1000, 1400, evidence, { ...left, callsPerSecond: 0.2 })).toBe(true);
    expect(worthTrying(1000, 1400, evidence, { ...left, callsPerSecond: config.maxBatchesPerSecond })).toBe(false);
  });

  it('never changes size on a rate limit', () => {
    const [first] = drive(0, network);
    const limited = bracket.next(first!.state as never, { size: 1000, durationMs: 300, ok: false, error: 'rate_limited' }, ctx());
    expect(limited.size).toBe(1000);
  });

  it('starts at a third of the proven size, grows to it on a long send and cruises under the limit memory found', () => {
    const start = ctx({ history: history(6000, 3300, 6001), anchorMs: 1500 });
    const steps = drive(5, network6000, start);
    expect(steps.map((s) => s.size)).toEqual([2000, 6000, 6000, 6000, 6000, 6000]);
    const stale = bracket.next(bracket.start(start).state as never, { size: 2000, durationMs: 5000, ok: false, error: 'timeout' }, start);
    expect(stale.size).toBe(Math.floor(2000 / 3));
  });

  it('with no limit remembered, takes a proven size as what an earlier send needed, not a ceiling', () => {
    // History says 2000 worked (and nothing failed): the network takes 6000.
    const start = ctx({ history: history(2000, 2100), anchorMs: 1500 });
    const sizes = drive(6, network6000, start).map((s) => s.size);
    expect(Math.max(...sizes)).toBeGreaterThan(2000);
    // A proven size under the cold start with no limit (a short list) is no history at all.
    expect(bracket.start(ctx({ history: history(300, 800) })).size).toBe(1000);
  });

  it('on a weak account whose limit memory found, starts at the proven size under the cold start and stays under the limit', () => {
    const weak = (size: number): BatchOutcome =>
      size <= 450 ? { size, durationMs: 600 + 1.2 * size, ok: true } : { size, durationMs: 15_000, ok: false, error: 'timeout' };
    const start = ctx({ history: history(450, 1140, 465), anchorMs: 600, total: 10_000, remaining: 10_000 });
    const sizes = drive(8, weak, start).map((s) => s.size);
    expect(sizes[0]).toBe(450);
    expect(sizes.every((n) => n <= 450)).toBe(true);
  });

  it('on a short send, does not bet a hung call on a proven size the network may no longer take', () => {
    // History says 9000; the account now takes 3000. On 10,000 recipients a failed 9000 would cost more than it could save.
    const start = ctx({ history: history(9000, 7600), total: 10_000, remaining: 10_000 });
    let step = bracket.start(start);
    let remaining = 10_000;
    const sizes: number[] = [];
    while (remaining > 0) {
      const sent = planSize(step.size, remaining, config.maxBatchSize);
      sizes.push(sent);
      const outcome = network(sent);
      if (outcome.ok) remaining -= sent;
      step = bracket.next(step.state as never, outcome, ctx({ ...start, remaining }));
    }
    expect(sizes[0]).toBe(3000);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(3000);
  });

  it('splits the end of the list rather than let the tail rule send an untested size', () => {
    const [first] = drive(0, network);
    const ok = bracket.next(first!.state as never, { size: 1000, durationMs: 1200, ok: true }, ctx({ remaining: 1400 }));
    expect(ok.size).toBe(700);
  });

  it('walks its phases through an outage: a retry and a check after the fast error, one recipient at a time, the check again, back to steady', () => {
    const start = ctx({ history: history(2000, 2000, 2200) });
    let step = bracket.next(bracket.start(start).state, { size: 2000, durationMs: 2000, ok: true }, start);
    const phases: Phase['kind'][] = [step.state.phase.kind];
    for (const outcome of [
      { size: 2000, durationMs: 300, ok: false, error: 'error' },
      { size: 2001, durationMs: 300, ok: false, error: 'error' },
      { size: 666, durationMs: 300, ok: false, error: 'error' },
      { size: 1, durationMs: 300, ok: false, error: 'error' },
      { size: 1, durationMs: 450, ok: true },
      { size: 666, durationMs: 900, ok: true },
    ] satisfies BatchOutcome[]) {
      step = bracket.next(step.state, outcome, start);
      phases.push(step.state.phase.kind);
    }
    expect(phases).toEqual(['steady', 'retrying', 'checking', 'outage', 'outage', 'checking', 'steady']);
    expect(step.size).toBe(2000);
  });

  it('never predicts a call faster than a smaller one was, however jitter tilts the line', () => {
    // 2,300 ms + 0.65 ms each, +-30%: 279 came in fast and 424 slow, so the line through them has a base of ~1.4 s.
    const samples = [
      { n: 1, ms: 2296, wins: 1 },
      { n: 279, ms: 1936, wins: 1 },
      { n: 424, ms: 2300, wins: 1 },
    ];
    expect(fitLine(samples)!.base).toBeLessThan(1500);
    // A call of 3 takes at least the anchor's round trip: giving up on it at 1.3x the line's 1.4 s cut healthy calls short.
    expect(giveUpMs(3, samples)!).toBeCloseTo(2296 * GIVE_UP_FACTOR + GIVE_UP_MARGIN_MS, 0);
    expect(giveUpMs(300, samples)!).toBeGreaterThanOrEqual(2296 * GIVE_UP_FACTOR + GIVE_UP_MARGIN_MS);
  });

  it('sends one recipient first rather than fail the same front of the queue a third time', () => {
    // Latency 2,500 ms + 0.5 ms each, capacity 400, failures hang: the cold start and the step down both fail.
    const anchorMs = 1900;
    const list = ctx({ anchorMs, total: 10_000, remaining: 10_000 });
    const first = bracket.start(list);
    expect(first.size).toBe(1000);
    const second = bracket.next(first.state, { size: 1000, durationMs: first.timeoutMs!, ok: false, error: 'timeout' }, list);
    expect(second.size).toBe(Math.floor(1000 / CHECK_DIVISOR));
    // Both failures counted against the first 333 recipients (nothing had worked): a third would give them up.
    const third = bracket.next(second.state, { size: second.size, durationMs: second.timeoutMs!, ok: false, error: 'timeout' }, list);
    expect(third.size).toBe(1);
    expect(third.reason).toContain('one recipient first');
    expect(third.timeoutMs).toBe(Math.round((anchorMs + MAX_MS_PER_RECIPIENT) * GIVE_UP_FACTOR + GIVE_UP_MARGIN_MS));
    // It got through: the step down it went before goes next, and no longer risks their last attempt.
    const after = bracket.next(third.state, { size: 1, durationMs: 1950, ok: true }, list);
    expect(after.size).toBe(Math.floor(second.size / CHECK_DIVISOR));
    expect(after.state.rescuing).toBe(false);
    expect(after.state.lastOk).toBe(1);
    // When that fails too (above the one that worked: no attempt lost), it goes on down with no rescue in between.
    const lower = bracket.next(after.state, { size: after.size, durationMs: 3000, ok: false, error: 'timeout' }, list);
    expect(lower.size).toBe(Math.floor(after.size / CHECK_DIVISOR));
  });

  it('keeps count of the front of the queue across batches that deliver only part of it', () => {
    // A cold failure at 5,000, then 1,666 and 2,516 work: 818 of the 5,000 are still at the front, with one failed attempt.
    const list = ctx({ anchorMs: 2400, total: 10_000, remaining: 10_000 });
    let step = bracket.start(list);
    expect(step.size).toBe(5000);
    for (const outcome of [
      { size: 5000, durationMs: 3000, ok: false, error: 'error' },
      { size: 1666, durationMs: 2300, ok: true },
      { size: 2516, durationMs: 3200, ok: true },
    ] satisfies BatchOutcome[])
      step = bracket.next(step.state, outcome, list);
    expect(step.state.front).toEqual([[818, 1]]);
    // A fast error at 2,516 (a size that worked) takes them to two. The retry just above it costs nobody an
    // attempt; when it fails too, the check at a third goes after one recipient.
    const retry = bracket.next(step.state, { size: 2516, durationMs: 2700, ok: false, error: 'error' }, list);
    expect(retry.size).toBe(2517);
    const check = bracket.next(retry.state, { size: 2517, durationMs: 2700, ok: false, error: 'error' }, list);
    expect(check.state.front).toEqual([
      [818, 2],
      [1698, 1],
    ]);
    expect(check.size).toBe(1);
    expect(check.reason).toContain(`-> ${Math.floor(2516 / CHECK_DIVISOR)}, after one recipient first`);
  });
});
