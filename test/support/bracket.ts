/** What the bracket strategy's tests share: a context, memory, two networks and a driver that plays a strategy against one. */
import bracket, { bracketDefaults, type BracketState } from '../../strategies/bracket.js';
import type { BatchOutcome, DefinedStrategy, SessionHistoryView, Step, StrategyContext } from '../../strategies/sdk.js';
import { defaultConfig } from '../../src/config.js';

export const config = defaultConfig.smartSend;
export const { checkDivisor: CHECK_DIVISOR, maxMsPerRecipient: MAX_MS_PER_RECIPIENT, probeEvery: PROBE_EVERY } = bracketDefaults;
export const ctx = (over: Partial<StrategyContext> = {}): StrategyContext => ({
  config,
  history: null,
  total: 100_000,
  remaining: 100_000,
  batchesSent: 0,
  batchesOk: 0,
  anchorMs: 400,
  ...over,
});
export const history = (maxProvenBatchSize: number, averageBatchTime = 2000, minFailedBatchSize = 0): SessionHistoryView => ({
  maxProvenBatchSize,
  averageBatchTime,
  successRate: 1,
  totalSuccessfulSends: 5,
  minFailedBatchSize,
});
/** latency = 400 + 0.8 n, capacity 3000: a typical account. */
/** latency = 1500 + 0.3 n, capacity 6000: overhead-heavy, so big batches pay. */
export const network6000 = (size: number): BatchOutcome =>
  size <= 6000 ? { size, durationMs: 1500 + 0.3 * size, ok: true } : { size, durationMs: 5000, ok: false, error: 'timeout' };
export const network = (size: number): BatchOutcome =>
  size <= 3000 ? { size, durationMs: 400 + 0.8 * size, ok: true } : { size, durationMs: 5000, ok: false, error: 'timeout' };

export function drive(
  steps: number,
  outcome: (size: number) => BatchOutcome,
  start = ctx(),
  strategy: DefinedStrategy<BracketState> = bracket,
): Step<BracketState>[] {
  const seen: Step<BracketState>[] = [strategy.start(start)];
  for (let i = 0; i < steps; i++) seen.push(strategy.next(seen.at(-1)!.state, outcome(seen.at(-1)!.size), start));
  return seen;
}

/** A network that rejects anything above `limit` fast (in 400 ms), as after a capacity fell; smaller calls work. */
export const rejectedAbove =
  (limit: number) =>
  (size: number): BatchOutcome =>
    size <= limit ? { size, durationMs: 400 + 0.8 * size, ok: true } : { size, durationMs: 400, ok: false, error: 'error' };

/** Goes on from `step` for `calls` more calls against `outcome`, numbering them from `batchesSent`: the last step and every size chosen. */
export function carryOn(
  step: Step<BracketState>,
  outcome: (size: number) => BatchOutcome,
  calls: number,
  batchesSent: number,
): { step: Step<BracketState>; sizes: number[] } {
  const sizes: number[] = [];
  for (let i = 0; i < calls; i++) {
    step = bracket.next(step.state, outcome(step.size), ctx({ batchesSent: batchesSent + i }));
    sizes.push(step.size);
  }
  return { step, sizes };
}
