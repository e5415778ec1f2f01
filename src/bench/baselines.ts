/**
 * The two yardsticks every strategy is measured against.
 * - `oracle`: reads the simulated network's truth (capacity now and a pacing
 *   interval ahead, the deterministic latency model, the failure bursts) and
 *   always sends the size with the best throughput that cannot fail on size: no
 *   probing, no size-related failures; inside a burst where most calls fail, one
 *   recipient a call, so it never gives up on the list to look fast. A call
 *   slower than the latency model allows (a random hang, a stall) is given up
 *   on at once. Its completion time is the physical limit.
 * - `fixed`: the seed's progressive sequence one level at a time, no skipping,
 *   no memory, then the top level for good: what storycast exists to beat.
 * Neither is offered by the server: the oracle needs the simulator's truth.
 */
import { defineStrategy, planSize, sendsAllRemaining, TAIL_FACTOR, type AnyStrategy, type StrategyContext } from '../../strategies/sdk.js';
import type { Clock } from '../clock.js';
import type { SmartSendConfig } from '../config.js';
import type { SimOracle } from '../transport/sim/oracle.js';

export const ORACLE = 'oracle';
/** A failure rate at which the oracle treats the network as down. */
const OUTAGE_RATE = 0.5;
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

/**
 * The size with the best throughput that cannot fail on size at network time
 * `t`: under the capacity for the next pacing interval, and with worst-case
 * jitter still under the batch timeout. Throughput counts the pacing floor:
 * a call never takes less than 1/maxBatchesPerSecond.
 */
export function bestSize(network: SimOracle, config: SmartSendConfig, t: number): { size: number; capacity: number } {
  const interval = 1000 / config.maxBatchesPerSecond;
  const worstJitter = 1 + network.profile.jitterPct / 100;
  const capacity = Math.min(network.capacityAt(t), network.capacityAt(t + interval), config.maxBatchSize);
  let size = 1;
  let bestRate = 0;
  for (let n = 1; n <= capacity; n++) {
    const latency = network.baseLatencyMs(n) * worstJitter;
    if (latency >= config.batchTimeoutMs) break;
    const rate = n / Math.max(latency, interval);
    if (rate >= bestRate) {
      bestRate = rate;
      size = n;
    }
  }
  return { size, capacity };
}

/** The oracle for one run: bound to that run's network and clock. */
export function oracle(network: SimOracle, clock: Clock, config: SmartSendConfig): AnyStrategy {
  const worstJitter = 1 + network.profile.jitterPct / 100;
  // A healthy call of n takes at most this long: past it the call has stalled or hung, and the
  // oracle, knowing the latency model, gives up on it at once rather than wait out the batch timeout.
  const deadline = (ctx: StrategyContext, size: number): number =>
    Math.ceil(network.baseLatencyMs(planSize(size, ctx.remaining, config.maxBatchSize)) * worstJitter) + 1;
  function decide(ctx: StrategyContext): { size: number; reason: string; timeoutMs: number } {
    const now = network.sinceStart(clock.now());
    // In an outage every size is more likely to fail than not, and each failure spends its
    // recipients' attempts: the least it can risk is one recipient a call until it ends.
    const failureRate = network.failureRateAt(now);
    if (failureRate >= OUTAGE_RATE) {
      return {
        size: 1,
        reason: `outage (${Math.round(failureRate * 100)}% of calls fail): one recipient at a time`,
        timeoutMs: deadline(ctx, 1),
      };
    }
    const { size: best, capacity } = bestSize(network, config, now);
    // The engine's tail rule may send everything that remains: never let that exceed capacity
    // (the largest size it leaves alone is remaining / TAIL_FACTOR).
    const size = ctx.remaining > capacity && sendsAllRemaining(best, ctx.remaining) ? Math.floor(ctx.remaining / TAIL_FACTOR) : best;
    return {
      size: Math.max(1, size),
      reason: `capacity ${Number.isFinite(capacity) ? capacity : 'unlimited'}: best throughput at ${best}`,
      timeoutMs: deadline(ctx, Math.max(1, size)),
    };
  }

  return defineStrategy<null>({
    name: ORACLE,
    description: 'Baseline: knows the true capacity and latency; the physical limit.',
    start: (ctx) => ({ state: null, ...decide(ctx) }),
    next: (_state, _outcome, ctx) => ({ state: null, ...decide(ctx) }),
  });
}
