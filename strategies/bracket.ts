/**
 * bracket — finds the session's capacity and sends just under it.
 *
 * Optimises: time to finish, measured against an oracle that knows the
 * network. It keeps two numbers for the send: `good`, the largest size that
 * succeeded, and `bad`, the smallest size that failed because of its size.
 * - Until something fails it grows as far as its latency model allows: to the
 *   size predicted to take twice as long as the last good one (at least x2, at
 *   most x`maxGrowth`, 3), never into a size predicted to be SLOW: a failed try
 *   costs about one call of its size, and a try that works delivers.
 * - Once bracketed it tries, between good and bad, the size with the best
 *   expected gain (the capacity taken as log-uniform between them) until none
 *   is worth a failure, then cruises at good; every `probeEvery` clean batches
 *   (fewer where failures are cheap) it probes a little above, so a network
 *   that got faster is noticed. From the second probe in a row that fails, each
 *   doubles the wait for the next (up to 2^`maxProbeBackoff`): a ceiling that
 *   holds stops costing a failed call every few dozen batches.
 * - A first failure at or below `good` is most likely random (networks fail a
 *   few percent of calls at random, and such failures rarely come twice in a
 *   row; a capacity that fell fails every time): it retries once, one above the
 *   engine's last size that worked, where a failure is a size probe and costs
 *   nobody an attempt (not where that would reach `bad` or be merged by the
 *   tail rule). If the retry works, nothing changes. If it fails too (or there
 *   is no such retry), a capacity that fell or an outage: it checks at a third
 *   (the same recipients are at the front, and each failure at or under the last
 *   size that worked costs them one of their attempts). If that works it brackets again
 *   between the check and the failed size, the failed size included: after a
 *   hang, the odds that the capacity really fell come from how such hangs turned
 *   out earlier in the send (Laplace: half and half at first; one that worked
 *   again was random, one followed by more failures was not). If the failed
 *   size works again, the ceiling found before it stands; sizes that worked
 *   many times keep low odds of failing (1/(wins+2), each failure halving the
 *   wins above it), and after a few failures in a row it follows a drifting
 *   capacity down. A fast error (not a hang) after a clean run with no retry is
 *   a blip: if the check works it goes straight back; a second one within
 *   `blipSpacing` batches, or one right after a failed retry, is about size. If the check fails too with a timeout,
 *   the capacity fell: it goes on down by thirds (where hangs in this send have
 *   mostly turned out random, the check's size stays in doubt too, and the
 *   ceiling before both is kept), not below a sixteenth of the size that worked,
 *   where tiny calls failing too is an outage; but when a call of a few recipients
 *   sent between failures at that floor keeps going through, the floor comes down
 *   by a third. If it fails fast, it is an outage: one
 *   recipient at a time until one gets through, then the check again, and
 *   back to the size that worked (unless one recipient went through at once
 *   twice, and more than twice as often as one failed: then it is a capacity
 *   that fell and is rejected fast; a network that drops a few percent of calls
 *   at random must not keep the check walking into that wall). Rate limits
 *   never change the size. Where it stands (steady, probing, retrying, checking,
 *   riding out an outage) is its `phase`; every move between phases is in
 *   bracket-phase.ts.
 * - It predicts each call's latency from what succeeded (a fitted line, or a
 *   bound: above a sample latency grows at most proportionally, below it
 *   cannot be slower, and no call is faster than a smaller one was) and asks
 *   the engine to give up at 1.3x that plus 300 ms, far above the largest size
 *   seen too (a try that fails there costs about one call, not a wait for
 *   latency bending up to proportional): a call far slower than predicted has
 *   hit a limit, and waiting out the full timeout only costs time.
 * - Every try is weighed (bracket-weigh.ts): the time it would save over the
 *   rest of the send against what a failure would cost (as much as failures
 *   have cost in this send so far, relative to their predicted latency), at
 *   its odds.
 * - Without history it starts at the sequence's third level (1,000 by default),
 *   and uses the anchor's round trip as the base of its latency line: the first
 *   batch gives it a model at once, and a first call that hangs is cut short.
 *   When that round trip alone is not FAST, a call is mostly fixed cost and an
 *   extra call costs about one anchor: it starts at the sequence's top instead,
 *   and gives up on a first call after (1 + `coldGiveUpAnchors`) anchors' round
 *   trips (x1.3, +300 ms) rather than the batch timeout.
 * - With history it starts at a third of the proven size and grows to it as the
 *   weighing allows, with lower odds of failure at and below it: on a long send
 *   that is the next batch; on a short one, where one hung call at a size the
 *   network no longer takes would cost a large share of the send, only when
 *   the saving is worth it. If an earlier send found a limit above it
 *   (minFailedBatchSize), it cruises under that and probes above it after a few
 *   clean batches (a probe that fails there confirms the limit); if not, the
 *   proven size is only what an earlier send needed (memory is a starting
 *   point, never a ceiling) and it keeps growing. Under
 *   the cold start a proven size counts only with a limit (a weak account):
 *   it starts there instead of hanging where the last send did.
 * - It never lets the engine's tail rule merge a batch into an untested size.
 * - It keeps count, as the engine does, of the attempts the recipients at the
 *   front of the queue have failed (a failed batch goes back first, and counts
 *   against its recipients unless it was larger than the last that worked).
 *   Before a call that would give up whoever failed twice already, it sends
 *   one recipient: once that works, a failure above it costs nobody an attempt.
 * Compared with `adaptive`: no fixed levels, the failure point remembered within
 * a send, random failures told apart from size failures, and early give-up.
 *
 * `createBracket(options)` makes one with other tuning (and another name);
 * the default export is the built-in, made with `bracketDefaults`.
 */
import { addSample, bestThroughput, GIVE_UP_FACTOR, giveUpAfter, giveUpMs } from './bracket-latency.js';
import { PROBING, STEADY, transition, type Phase } from './bracket-phase.js';
import { resolveTuning, type BracketOptions, type BracketTuning } from './bracket-options.js';
import { bracketTry, growth, worthTrying } from './bracket-weigh.js';
import { defineStrategy, planSize, sendsAllRemaining, type BatchOutcome, type DefinedStrategy, type StrategyContext } from './sdk.js';

import {
  afterFailure,
  afterSuccess,
  onlyAnchor,
  predictedMs,
  ENGINE_ATTEMPTS,
  frontStrikes,
  NOTHING_UNDER_FLOOR,
  strikeFront,
  type BracketState,
} from './bracket-update.js';

export { bracketDefaults, type BracketOptions } from './bracket-options.js';
export type { BracketState } from './bracket-update.js';

const NAME = 'bracket';
const DESCRIPTION =
  'Brackets the capacity between the last good and first failed size, cruises just under it, gives up early on calls far slower than predicted.';

type Decision = { state: BracketState; size: number; reason: string; timeoutMs?: number };

function decide(state: BracketState, ctx: StrategyContext, why: string, t: BracketTuning): Decision {
  const { good, bad, phase } = state;
  const tolerance = good > 0 && ctx.remaining / good > 20 ? t.toleranceLong : t.toleranceShort;
  // Where failures are cheap (rejected fast), probing often costs little and notices a network that got better sooner.
  const cheapness = Math.min(1, (state.failCost ?? GIVE_UP_FACTOR) / GIVE_UP_FACTOR);
  const backoff = 2 ** Math.min(Math.max(0, state.failedProbes - 1), t.maxProbeBackoff);
  const probeEvery = Math.max(t.minProbeEvery, Math.ceil((state.badGuessed ? t.probeFromMemory : t.probeEvery) * cheapness)) * backoff;
  let size: number;
  let how: string;
  let next: Phase = phase.kind === 'probing' ? STEADY : phase;
  // Asked only where the branch below that uses it is reached: not in an outage or a check, with a ceiling and a size that worked.
  const bracketing =
    phase.kind !== 'outage' &&
    phase.kind !== 'checking' &&
    phase.kind !== 'retrying' &&
    Number.isFinite(bad) &&
    good !== 0 &&
    (bad / good > tolerance || state.ceilingOdds < 1) &&
    !state.badGuessed
      ? bracketTry(state, ctx)
      : undefined;
  if (phase.kind === 'outage') {
    // Every call that fails costs its recipients an attempt: during an outage, risk one at a time.
    size = 1;
    how = `waiting out the outage with one recipient at a time`;
  } else if (phase.kind === 'retrying') {
    size = retrySize(phase.size, state.lastOk);
    how = `retrying ${phase.size} once`;
  } else if (phase.kind === 'checking') {
    size = Math.max(1, Math.floor(good / t.checkDivisor));
    how = `checking at 1/${t.checkDivisor} of ${good}`;
  } else if (!Number.isFinite(bad)) {
    // Growing toward a proven size, never past it: above it the usual probing takes over.
    const target =
      good === 0
        ? state.size
        : good < state.proven
          ? Math.min(growth(good, state, ctx, t.maxGrowth), state.proven)
          : growth(good, state, ctx, t.maxGrowth);
    const grow = good === 0 || worthTrying(good, target, state, ctx);
    size = grow ? target : good;
    how =
      good === 0
        ? 'start'
        : grow
          ? `no failure yet: growing from ${good}`
          : `no failure yet, but growing past ${good} would save less than a failure costs`;
  } else if (good === 0) {
    size = state.size;
    how = `nothing has worked yet below ${bad}`;
  } else if (bracketing !== undefined) {
    size = bracketing;
    how = `bracketing between ${good} and ${bad}`;
  } else if (state.streak >= probeEvery && worthTrying(good, Math.ceil(good * t.probeStep), state, ctx, t.probeOdds)) {
    size = Math.ceil(good * t.probeStep);
    next = PROBING;
    how = `probing above ${good} after ${state.streak} clean batches`;
  } else {
    size = good;
    how = state.badGuessed
      ? `cruising at the proven ${good}`
      : Number.isFinite(bad)
        ? `cruising at ${good} (failed at ${bad})`
        : `cruising at ${good}`;
    // Past a knee, bigger is slower per recipient: cruise where throughput was best.
    const peak = bestThroughput(state.samples, ctx);
    if (peak && peak.n < good) {
      size = peak.n;
      how = `cruising at ${peak.n}, the best throughput seen (above it latency bends)`;
    }
  }
  size = Math.max(1, Math.min(ctx.config.maxBatchSize, Math.floor(size)));
  // The tail rule would send the whole rest: split it in two instead if that rest is untested
  // (judged on the rest itself, before the engine's cap, so a rest over maxBatchSize splits too).
  if (sendsAllRemaining(size, ctx.remaining) && ctx.remaining > Math.max(good, size)) {
    size = Math.ceil(ctx.remaining / 2);
    how += `; splitting the last ${ctx.remaining} in two`;
  }
  // Bound the size the engine will really send: its tail rule may send less than asked.
  const sent = planSize(size, ctx.remaining, ctx.config.maxBatchSize);
  const after = { ...state, size, phase: next, floorCheck: false };
  // Whoever is at the front of the queue has failed twice: send one recipient first, which the
  // network carries (the anchor did), so that a failure of `size` after it costs them no attempt.
  const strikes = state.lastOk === 0 || sent <= state.lastOk;
  const struck = strikes && frontStrikes(state.front, sent) >= ENGINE_ATTEMPTS - 1;
  const lead = struck ? 1 : state.floorCheck ? floorCheckSize(state, sent) : 0;
  if (sent > 1 && phase.kind !== 'outage' && lead > 0) {
    const first = lead === 1 ? 'one recipient' : `${lead} recipients`;
    // Marked a floor check only when that is why it goes: what it shows then counts in underFloor.
    const leading = { ...after, rescuing: true, floorCheck: !struck };
    const rescue = { state: leading, size: lead, reason: `${why}: ${how} -> ${size}, after ${first} first` };
    const giveUp = timeoutFor(lead, state, ctx, t);
    return giveUp === undefined ? rescue : { ...rescue, timeoutMs: Math.round(giveUp) };
  }
  const giveUp = timeoutFor(sent, state, ctx, t);
  const reason = `${why}: ${how} -> ${size}`;
  return giveUp === undefined ? { state: after, size, reason } : { state: after, size, reason, timeoutMs: Math.round(giveUp) };
}

/**
 * The call sent before the floor again, to tell a capacity under it from an outage: one above the
 * engine's last size that worked, whose failure costs nobody an attempt, while that is under
 * the floor; else one recipient, unless whoever is at the front has failed twice (0: no check).
 */
function floorCheckSize(state: BracketState, sent: number): number {
  if (state.lastOk > 0 && state.lastOk + 1 < sent) return state.lastOk + 1;
  return frontStrikes(state.front, 1) < ENGINE_ATTEMPTS - 1 ? 1 : 0;
}

/** What the small call sent before the floor again says of the floor (see BracketState.underFloor). */
function beside(prior: BracketState, outcome: BatchOutcome): BracketState['underFloor'] {
  if (!prior.floorCheck) return prior.underFloor;
  const { ok, failed } = prior.underFloor;
  return outcome.ok ? { ok: ok + 1, failed } : { ok, failed: failed + 1 };
}

/** Just above the engine's last size that worked, a failed retry is a size probe: it costs nobody an attempt. */
const retrySize = (failed: number, lastOk: number): number => (lastOk > 0 && failed <= lastOk ? lastOk + 1 : failed);

/**
 * Whether a failure at `failed` can be retried at no recipient's expense: only under the ceiling (one
 * above a size that worked may be just what failed before) and if the engine will send the retry's
 * size as asked (not merged into the rest by its tail rule, which would also be untested).
 */
function canRetry(failed: number, state: BracketState, ctx: StrategyContext): boolean {
  const size = retrySize(failed, state.lastOk);
  return size < state.bad && size <= ctx.config.maxBatchSize && !sendsAllRemaining(size, ctx.remaining);
}

/** When to give up on a call of `sent`: the anchor's bound until a batch worked, then the latency model. */
function timeoutFor(sent: number, state: BracketState, ctx: StrategyContext, t: BracketTuning): number | undefined {
  if (!onlyAnchor(state.samples)) return giveUpMs(sent, state.samples.length > 0 || !state.remembered ? state.samples : [state.remembered]);
  const anchor = state.samples[0]!.ms;
  const predicted = predictedMs(sent, state.samples, t)!;
  // A slow anchor starts at the sequence's top: a first call that hangs there must not cost the batch timeout.
  const slow = anchor >= ctx.config.fastBatchThresholdMs;
  return giveUpAfter(slow ? Math.min(predicted, anchor * (1 + t.coldGiveUpAnchors)) : predicted);
}

/**
 * The first size without history. The third level by default (1,000 in the default sequence): most
 * accounts take it, and a first call that fails is cut short by the anchor-based give-up, so starting
 * smaller buys little (and on a short list each extra call is a large share of the send). But when the
 * anchor's round trip alone is not FAST, a call's fixed cost dominates: every extra call costs about one
 * anchor and more recipients in a call cost little, so it starts at the top of the sequence, the largest
 * batch the operator expects to work (on 10,000 recipients: two calls after the anchor, not three). A
 * first call that hangs there is given up after a few anchors' round trips (see timeoutFor).
 */
function coldStart(ctx: StrategyContext, t: BracketTuning): { size: number; why: string } {
  const seq = ctx.config.progressiveSequence;
  const level = seq[Math.min(t.startLevel, seq.length - 1)]!;
  const anchor = ctx.anchorMs;
  if (anchor === undefined || anchor < ctx.config.fastBatchThresholdMs) return { size: level, why: 'no history' };
  return {
    size: Math.max(level, seq.at(-1)!),
    why: `no history; the anchor took ${Math.round(anchor)} ms, not FAST with one recipient: a call is mostly fixed cost`,
  };
}

function start(ctx: StrategyContext, t: BracketTuning): Decision {
  const { size: first, why: cold } = coldStart(ctx, t);
  // The anchor is a call to one recipient: latency(1), the base of the latency line.
  const samples = ctx.anchorMs !== undefined ? [{ n: 1, ms: ctx.anchorMs, wins: 1 }] : [];
  const initial: BracketState = {
    phase: STEADY,
    size: first,
    good: 0,
    bad: Infinity,
    badGuessed: false,
    samples,
    streak: 0,
    floor: 1,
    proven: 0,
    limit: 0,
    lastBlip: -Infinity,
    ceilingOdds: 1,
    shadowBad: Infinity,
    randoms: 0,
    drops: 0,
    failedProbes: 0,
    lastOk: 0,
    front: [],
    rescuing: false,
    underFloor: NOTHING_UNDER_FLOOR,
    floorCheck: false,
  };
  const proven = Math.min(ctx.history?.maxProvenBatchSize ?? 0, ctx.config.maxBatchSize);
  const failed = ctx.history?.minFailedBatchSize ?? 0;
  const limit = failed > proven ? failed : 0;
  // A proven size at or under the cold start, with no limit found above it, says only how
  // much an earlier send needed (a short list), not what the session takes.
  if (proven === 0 || (proven <= first && limit === 0)) return decide(initial, ctx, cold, t);
  const remembered = ctx.history!.averageBatchTime > 0 ? { n: proven, ms: ctx.history!.averageBatchTime, wins: 0 } : undefined;
  // Under the cold start with a limit found just above (a weak account): start there rather
  // than hang where the last send did. Above: start at a third of it and grow to it as fast as
  // the cost of a failure allows: on a long send that is at once, on a short one only when
  // the network confirms it on the way.
  const size = proven < first ? proven : Math.max(first, Math.floor(proven / t.memoryStartDivisor));
  const state: BracketState = { ...initial, size, proven, limit, ...(remembered ? { remembered } : {}) };
  const why = limit > 0 ? `proven ${proven}, failed at ${limit} in history` : `proven ${proven} in history`;
  return decide(state, ctx, why, t);
}

/** A bracket strategy with its own tuning; every option left out takes its value from `bracketDefaults`. */
export function createBracket(options: BracketOptions = {}): DefinedStrategy<BracketState> {
  const { name = NAME, description = DESCRIPTION, ...tuning } = options;
  const t = resolveTuning(tuning);
  return defineStrategy<BracketState>({
    name,
    description,
    start: (ctx) => start(ctx, t),
    next(prior, outcome, ctx) {
      const lastOk = outcome.ok ? outcome.size : prior.lastOk;
      if (prior.rescuing) {
        // The one recipient sent first says nothing about `size`; the decision it went before stands.
        const state = {
          ...prior,
          rescuing: false,
          floorCheck: false,
          lastOk,
          front: strikeFront(prior, outcome),
          underFloor: beside(prior, outcome),
        };
        const samples = outcome.ok ? addSample(prior.samples, outcome.size, outcome.durationMs) : prior.samples;
        const who = outcome.size === 1 ? 'one recipient' : `${outcome.size} recipients`;
        const why = outcome.ok ? `${who} ok in ${Math.round(outcome.durationMs)} ms` : `${who} failed (${outcome.error ?? 'error'})`;
        return decide({ ...state, samples }, ctx, why, t);
      }
      const state = { ...prior, lastOk, front: strikeFront(prior, outcome) };
      const { phase, move } = transition(state.phase, outcome, {
        good: state.good,
        blipAllowed: ctx.batchesSent - state.lastBlip > t.blipSpacing,
        retryAllowed: canRetry(outcome.size, prior, ctx),
      });
      const [after, why] = outcome.ok ? afterSuccess(state, phase, move, outcome, ctx, t) : afterFailure(state, phase, move, outcome, t);
      return decide(after, ctx, why, t);
    },
  });
}

export default createBracket();
