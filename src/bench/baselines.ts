/**
 * The two yardsticks every strategy is measured against.
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
 *   carries one recipient, and one that will hang is given up on as soon as the
 *   engine allows; a call slower than the latency model allows (a stall) is
 *   given up on at once. It reads the draws from a copy: the network's own
 *   streams, and so every other contender's run, are untouched.
 * - `fixed`: the seed's progressive sequence one level at a time, no skipping,
 *   no memory, then the top level for good: what storycast exists to beat.
 * Neither is offered by the server: the oracle needs the simulator's truth.
 */
import { defineStrategy, planSize, sendsAllRemaining, TAIL_FACTOR, type AnyStrategy, type StrategyContext } from '../../strategies/sdk.js';
import type { Clock } from '../clock.js';
import type { SmartSendConfig } from '../config.js';
import type { SimOracle } from '../transport/sim/oracle.js';
import { SchedulePlanner } from './oracle-planner.js';

export { bestSize } from './oracle-planner.js';

export const ORACLE = 'oracle';
export const FIXED = 'fixed';

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
  const interval = 1000 / config.maxBatchesPerSecond;
  const planner = new SchedulePlanner(network, config);
  /**
   * When the next call starts: the engine's pacer spaces calls 1/maxBatchesPerSecond apart.
   * After a refusal for rate it holds calls for the server's hint and may slow down, so the
   * start is only known to lie somewhere in the next few intervals.
   */
  function nextStart(now: number): { at: number; slack: number } {
    const calls = network.calls;
    const last = calls.at(-1);
    const at = last === undefined ? now : Math.max(now, network.sinceStart(last.startedAt) + interval);
    const refused = calls.some((c) => c.outcome === 'RATE_LIMITED');
    return { at, slack: refused ? 10 * interval : 0 };
  }
  /** How many of the latest calls failed, back to the last that worked or the anchor. */
  function failedInARow(): number {
    const calls = network.calls;
    let n = 0;
    for (let i = calls.length - 1; i >= 0 && !calls[i]!.anchor && calls[i]!.outcome !== 'ok'; i--) n++;
    return n;
  }
  function decide(ctx: StrategyContext): { size: number; reason: string; timeoutMs: number } {
    const { at, slack } = nextStart(network.sinceStart(clock.now()));
    // Before the anchor there is no call to read the session from, and that decision is made again once it is back.
    const session = network.calls.at(-1)?.sessionId;
    const counted = network.calls.filter((c) => c.outcome !== 'RATE_LIMITED').map((c) => network.sinceStart(c.startedAt));
    planner.see(session === undefined ? undefined : network.upcomingCalls(session), counted);
    const timeoutMs = (size: number) => planner.timeoutMs(0, at, planSize(size, ctx.remaining, config.maxBatchSize));
    // Whatever it carries, the call fails, and each failure spends its recipients' attempts.
    if (planner.fails(0, at)) {
      const size = planner.doomedSize(at, ctx.remaining, failedInARow());
      const hangs = network.profile.failure === 'timeout' ? ', given up on as soon as the engine allows' : '';
      return {
        size,
        reason: `the next call will fail at random (${Math.round(network.failureRateAt(at) * 100)}% of calls fail): ${size} recipient${size === 1 ? '' : 's'}${hangs}`,
        timeoutMs: timeoutMs(size),
      };
    }
    let { size, planned } = planner.next(at, ctx.remaining);
    const capacity = planner.lowestCapacity(at, at + slack);
    // Never over the capacity the call can meet, nor a size the tail rule would merge into more.
    if (size > capacity) size = planner.base(0, at + slack, ctx.remaining);
    if (size !== ctx.remaining && sendsAllRemaining(size, ctx.remaining)) size = Math.floor(ctx.remaining / TAIL_FACTOR);
    size = Math.max(1, Math.min(size, capacity));
    const how = planned
      ? `planned on the schedule and the draws: ${size}`
      : size === ctx.remaining
        ? 'all that remains'
        : `best throughput at ${size}`;
    return {
      size,
      reason: `capacity ${Number.isFinite(capacity) ? capacity : 'unlimited'} at ${(at / 1000).toFixed(1)} s: ${how}`,
      timeoutMs: timeoutMs(size),
    };
  }

  return defineStrategy<null>({
    name: ORACLE,
    description: "Baseline: knows the true capacity, latency, schedule and its own calls' random draws; the physical limit.",
    start: (ctx) => ({ state: null, ...decide(ctx) }),
    next: (_state, _outcome, ctx) => ({ state: null, ...decide(ctx) }),
  });
}
