/**
 * The yardsticks every strategy is measured against.
 * - `oracle`: reads the simulated network's truth (the capacity and failure
 *   schedule, the latency model, when its own calls started) and the random
 *   draws its own next calls will meet (each call's jitter, tail and random
 *   failure: call k gets the same draws whoever makes it), and plans its sizes
 *   over them: each call is the one that, followed by the best-throughput size
 *   the capacity allows at each later call's start, finishes the list soonest
 *   with those very draws (SchedulePlanner, oracle-planner.ts). A lower bound
 *   may be clairvoyant: it stands for the physical limit, not for a strategy
 *   anyone could run. It never sends more than the capacity at the moment its
 *   call starts, so nothing fails on size; a call it knows will fail at random
 *   carries few recipients, and one that will hang is given up on as soon as the
 *   engine allows (or just when the server's rate windows have room again, if
 *   that spares the next call a refusal); a call slower than the latency model
 *   allows (a stall), or a refusal for the rate that stalls, is given up on at
 *   once unless waiting it out finishes sooner. Where `informed`'s run on the
 *   same seed finishes sooner and delivers everyone, that run is the oracle's
 *   (run.ts): with the network known, informed's plan is one more the oracle
 *   could follow, and the planner's search does not cover every plan.
 *   It reads the draws from a copy: the network's own
 *   streams, and so every other contender's run, are untouched. It follows the
 *   engine's pacer and the server's rate windows call by call (pace-model.ts):
 *   it knows when each call will start and which the server will refuse, and
 *   so which draws the call that carries each batch will meet.
 * - `informed`: the oracle without the dice. It knows the network as the
 *   oracle does (capacity schedule, latency model, rate limit, the pacer) but
 *   plans every call at the model's mean draws, and gives each the timeout of
 *   a healthy call's worst case: it pays for random failures and stalls as a
 *   real strategy would. A reference, not a target: its distance from the
 *   oracle is what not seeing the draws costs even a strategy that knew the
 *   network.
 * - `fixed`: the seed's progressive sequence one level at a time, no skipping,
 *   no memory, then the top level for good: what storycast exists to beat.
 * Neither is offered by the server: the oracle needs the simulator's truth.
 */
import { defineStrategy, sendsAllRemaining, TAIL_FACTOR, type AnyStrategy, type StrategyContext } from '../../strategies/sdk.js';
import type { Clock } from '../clock.js';
import type { SmartSendConfig } from '../config.js';
import type { SimOracle } from '../transport/sim/oracle.js';
import { SchedulePlanner } from './oracle-planner.js';
import { PaceModel } from './pace-model.js';

export { bestSize } from './oracle-planner.js';

export const ORACLE = 'oracle';
export const FIXED = 'fixed';
export const INFORMED = 'informed';

export const fixed: AnyStrategy = defineStrategy<number>({
  name: FIXED,
  description: 'Baseline: the progressive sequence one level at a time, then its top level; ignores speed, failures and memory.',
  start: (ctx) => ({ state: 0, size: ctx.config.progressiveSequence[0]!, reason: 'first level' }),
  next: (level, _outcome, ctx) => {
    const seq = ctx.config.progressiveSequence;
    const next = Math.min(level + 1, seq.length - 1);
    return { state: next, size: seq[next]!, reason: next === level ? 'top level' : 'next level' };
  },
});

/** The oracle for one run: bound to that run's network and clock. */
export function oracle(network: SimOracle, clock: Clock, config: SmartSendConfig): AnyStrategy {
  return planned(network, clock, config, true);
}

/** `informed` for one run: the oracle's knowledge of the network, bound to that run's, without its draws. */
export function informed(network: SimOracle, clock: Clock, config: SmartSendConfig): AnyStrategy {
  return planned(network, clock, config, false);
}

function planned(network: SimOracle, clock: Clock, config: SmartSendConfig, seesDraws: boolean): AnyStrategy {
  const planner = new SchedulePlanner(network, config);
  /** How many of the latest calls failed, back to the last that worked or the anchor (refusals for the rate strike nobody). */
  function failedInARow(): number {
    const calls = network.calls;
    let n = 0;
    for (let i = calls.length - 1; i >= 0 && !calls[i]!.anchor && calls[i]!.outcome !== 'ok'; i--)
      if (calls[i]!.cause !== 'rate-limit') n++;
    return n;
  }
  function decide(ctx: StrategyContext): { size: number; reason: string; timeoutMs: number } {
    const now = network.sinceStart(clock.now());
    // Before the anchor there is no call to read the session from, and that decision is made again once it is back.
    const session = network.calls.at(-1)?.sessionId;
    // When each call starts and whether the server refuses it: the engine's pacer, rebuilt from every call so far.
    const pace = PaceModel.replay(
      config.maxBatchesPerSecond,
      network.rateLimits,
      network.calls.map((c) => ({
        ...c,
        startedAt: network.sinceStart(c.startedAt),
        endedAt: c.endedAt === undefined ? undefined : network.sinceStart(c.endedAt),
      })),
    );
    planner.see(session === undefined || !seesDraws ? undefined : network.upcomingCalls(session), now, pace);
    const decision = planner.decide(ctx.remaining, failedInARow());
    const { at, timeoutMs } = decision;
    if (decision.doomed) {
      const { size } = decision;
      const hangs = network.profile.failure === 'timeout' ? ', given up on as soon as the engine allows' : '';
      return {
        size,
        reason: `the next call will fail at random (${Math.round(network.failureRateAt(at) * 100)}% of calls fail): ${size} recipient${size === 1 ? '' : 's'}${hangs}`,
        timeoutMs,
      };
    }
    const capacity = planner.capacity(at);
    let { size } = decision;
    // Never over the capacity the call will meet, nor a size the tail rule would merge into more.
    if (size !== ctx.remaining && sendsAllRemaining(size, ctx.remaining)) size = Math.floor(ctx.remaining / TAIL_FACTOR);
    size = Math.max(1, Math.min(size, capacity));
    const how = decision.planned
      ? `planned on the schedule${seesDraws ? ' and the draws' : ''}: ${size}${decision.rides ? ', waiting out its stall' : ''}`
      : size === ctx.remaining
        ? 'all that remains'
        : `best throughput at ${size}`;
    return {
      size,
      reason: `capacity ${Number.isFinite(capacity) ? capacity : 'unlimited'} at ${(at / 1000).toFixed(1)} s: ${how}`,
      timeoutMs,
    };
  }

  return defineStrategy<null>({
    name: seesDraws ? ORACLE : INFORMED,
    description: seesDraws
      ? "Baseline: knows the true capacity, latency, schedule and its own calls' random draws; the physical limit."
      : 'Reference: knows the true capacity, latency, schedule and rate limit, not the random draws; plans at their mean.',
    start: (ctx) => ({ state: null, ...decide(ctx) }),
    next: (_state, _outcome, ctx) => ({ state: null, ...decide(ctx) }),
  });
}
