/**
 * Issue 19 for the seed family (adaptive, aggressive, conservative): a shorter
 * timeout for a batch larger than anything that worked, the rules that keep
 * aggressive and conservative off a size that failed, and, through the real
 * engine on the simulated network, every one of them within 3x of the oracle on
 * the rate-limited profiles.
 */
import { describe, expect, it } from 'vitest';
import { ORACLE } from '../src/bench/baselines.js';
import { type BenchCase, runOnce } from '../src/bench/run.js';
import { defaultConfig } from '../src/config.js';
import { loadProfile } from '../src/transport/sim/profile.js';
import adaptive from '../strategies/adaptive.js';
import { callBoundMs, JITTER, MARGIN, unprovenTimeoutMs } from '../strategies/adaptive-timeout.js';
import aggressive, { CLEAN_BATCHES_TO_RETRY_CEILING as AGGRESSIVE_WAIT } from '../strategies/aggressive.js';
import conservative, { CLEAN_BATCHES_TO_RETRY_CEILING as CONSERVATIVE_WAIT } from '../strategies/conservative.js';
import {
  type BatchOutcome,
  type DefinedStrategy,
  MIN_CALL_TIMEOUT_MS,
  type SessionHistoryView,
  type StrategyContext,
} from '../strategies/sdk.js';

const config = defaultConfig.smartSend;
const ANCHOR_MS = 400;

function ctx(over: Partial<StrategyContext> = {}): StrategyContext {
  return { config, history: null, total: 1e6, remaining: 1e6, batchesSent: 0, batchesOk: 0, anchorMs: ANCHOR_MS, ...over };
}

const memory = (maxProvenBatchSize: number, minFailedBatchSize = 0): SessionHistoryView => ({
  maxProvenBatchSize,
  minFailedBatchSize,
  averageBatchTime: 1000,
  successRate: 1,
  totalSuccessfulSends: 10,
});

/** `realistic` without its jitter: 400 ms + 0.8 ms a recipient, and anything over `capacity` hangs. */
const network =
  (capacity: number) =>
  (size: number): BatchOutcome =>
    size <= capacity
      ? { size, durationMs: 400 + 0.8 * size, ok: true }
      : { size, durationMs: config.batchTimeoutMs, ok: false, error: 'timeout' };

interface Call {
  readonly size: number;
  readonly timeoutMs?: number;
}

/** Runs `calls` decisions on a list too long to run out; a call slower than its timeout times out there. */
function walk<S>(
  strategy: DefinedStrategy<S>,
  net: (size: number, i: number) => BatchOutcome,
  calls: number,
  history: SessionHistoryView | null = null,
): Call[] {
  let step = strategy.start(ctx({ history }));
  const out: Call[] = [{ size: step.size }];
  let sent = 0;
  let good = 0;
  for (let i = 0; i < calls; i++) {
    let outcome = net(step.size, i);
    if (step.timeoutMs !== undefined && outcome.durationMs > step.timeoutMs) {
      outcome = { size: step.size, durationMs: step.timeoutMs, ok: false, error: 'timeout' };
    }
    sent++;
    if (outcome.ok) good++;
    step = strategy.next(step.state, outcome, ctx({ history, batchesSent: sent, batchesOk: good }));
    out.push(step.timeoutMs === undefined ? { size: step.size } : { size: step.size, timeoutMs: step.timeoutMs });
  }
  return out;
}

const sizes = (calls: readonly Call[]) => calls.map((c) => c.size);

describe('the timeout for a batch larger than anything that worked', () => {
  it('covers any affine network whose calls jitter by up to 20%, whichever way the sample and the call were off', () => {
    let tightest = Infinity;
    for (const base of [100, 300, 800, 2500]) {
      for (const perRecipient of [0.05, 0.3, 0.8, 2.2]) {
        for (const [sample, n] of [
          [100, 1000],
          [1000, 4000],
          [2000, 3000],
          [450, 500],
          [4000, 2000],
        ] as const) {
          for (const sampleJitter of [0.8, 1, 1.2]) {
            for (const anchorJitter of [0.8, 1, 1.2]) {
              const truth = (size: number) => base + perRecipient * size;
              const bound = callBoundMs(n, { size: sample, ms: truth(sample) * sampleJitter }, truth(1) * anchorJitter);
              const slowest = truth(n) * 1.2;
              tightest = Math.min(tightest, (MARGIN * bound) / slowest);
            }
          }
        }
      }
    }
    expect(tightest).toBeGreaterThanOrEqual(1 - 1e-9);
    // And it is not slack for nothing: some case is within 30% of the slowest such call.
    expect(tightest).toBeLessThan(1.3);
    expect(JITTER).toBe(0.2);
  });

  it('is for sizes above what is proven, counts the tail rule, and never goes below the engine minimum', () => {
    const ref = { size: 1000, ms: 1200 };
    expect(unprovenTimeoutMs(1000, 1000, ref, ctx())).toBeUndefined();
    expect(unprovenTimeoutMs(4000, 1000, undefined, ctx())).toBeUndefined();
    const t = unprovenTimeoutMs(4000, 1000, ref, ctx())!;
    expect(t).toBeGreaterThan(400 + 0.8 * 4000);
    expect(t).toBeLessThan(config.batchTimeoutMs / 2);
    // 900 wanted with 1,200 left goes out as all 1,200 (the tail rule): that is the call bounded.
    expect(unprovenTimeoutMs(900, 1000, ref, ctx({ remaining: 1200 }))).toBeDefined();
    expect(unprovenTimeoutMs(900, 1000, ref, ctx({ remaining: 5000 }))).toBeUndefined();
    expect(unprovenTimeoutMs(1001, 1000, { size: 1000, ms: 10 }, ctx())).toBe(MIN_CALL_TIMEOUT_MS);
  });
});

describe('adaptive', () => {
  it("gives up early on the seed's skip to 4000 when it does not fit, and keeps the full timeout once a size worked", () => {
    const calls = walk(adaptive, network(3000), 8);
    expect(sizes(calls).slice(0, 5)).toEqual([100, 1000, 4000, 2000, 3000]);
    // 4000 would take 3.6 s if it fitted; it gives up well before the 15 s batch timeout.
    expect(calls[2]!.timeoutMs).toBeGreaterThan(3600);
    expect(calls[2]!.timeoutMs).toBeLessThan(8000);
    // 3000 had not worked yet when it was tried; once it had, it keeps the engine's timeout.
    expect(calls[4]!.timeoutMs).toBeDefined();
    expect(calls.slice(5).every((c) => c.size === 3000 && c.timeoutMs === undefined)).toBe(true);
  });

  it("keeps the full timeout for the size memory proved (the seed's scenario 3), until one no bigger fails", () => {
    const calls = walk(adaptive, network(4500), 2, memory(5000));
    expect(calls[0]).toEqual({ size: 5000 });
    // 5000 failed: memory no longer vouches for 4000, and 2000's 2 s bound it.
    expect(sizes(calls)).toEqual([5000, 2000, 4000]);
    expect(calls[2]!.timeoutMs).toBeGreaterThan(400 + 0.8 * 4000);
  });

  it('takes a quick refusal at a size that worked as an outage, not a limit', () => {
    const outage = (size: number, i: number): BatchOutcome =>
      i >= 3 && i < 6 ? { size, durationMs: 300, ok: false, error: 'error' } : network(Infinity)(size);
    const calls = sizes(walk(adaptive, outage, 10));
    // 100, 1000, 4000 work; 5000, 2000 and 1000 are refused: only 5000, above anything that worked, is a limit.
    // The first 1000 have failed twice at sizes that worked (front-guard.ts): one recipient goes before the 500.
    expect(calls.slice(0, 8)).toEqual([100, 1000, 4000, 5000, 2000, 1000, 1, 500]);
    expect(Math.max(...calls.slice(8))).toBeGreaterThanOrEqual(2000);
    expect(calls.slice(8).every((size) => size < 5000)).toBe(true);
  });

  it('after a hang at a size that had worked, bounds every call: the network changed', () => {
    let dropped = false;
    const stepDown = (size: number, i: number): BatchOutcome => {
      dropped ||= i >= 4;
      return network(dropped ? 900 : 7000)(size);
    };
    const calls = walk(adaptive, stepDown, 8);
    const hung = calls.findIndex((c, i) => i >= 4 && c.size <= 4000);
    expect(calls.slice(hung + 1).every((c) => c.timeoutMs !== undefined && c.timeoutMs < config.batchTimeoutMs)).toBe(true);
  });
});

describe('aggressive', () => {
  it('falls back to what worked below a failed size, goes halfway to it rather than into it, and retries it after a clean run', () => {
    const calls = sizes(walk(aggressive, network(3000), 6 + AGGRESSIVE_WAIT + 2));
    const failedAt = calls.findIndex((size) => size > 3000);
    const ceiling = calls[failedAt]!;
    // Back to the size before it, not half of the one that failed.
    expect(calls[failedAt + 1]).toBe(calls[failedAt - 1]);
    // Never the failed size again until a clean run allows it; in between, only sizes that fit.
    const after = calls.slice(failedAt + 1);
    const retry = after.indexOf(ceiling);
    expect(after.slice(0, retry === -1 ? undefined : retry).every((size) => size < ceiling)).toBe(true);
    expect(Math.max(...after.filter((size) => size <= 3000))).toBeGreaterThan(2500);
    // The retry is the size that failed, not a bigger one.
    expect(after.filter((size) => size > 3000).every((size) => size === ceiling)).toBe(true);
    expect(retry).toBeGreaterThanOrEqual(AGGRESSIVE_WAIT);
  });

  it('tries a quick refusal above anything that worked once more before taking it as a ceiling', () => {
    let refusals = 0;
    const chance = (size: number): BatchOutcome =>
      size === 800 && refusals++ === 0 ? { size, durationMs: 300, ok: false, error: 'error' } : network(Infinity)(size);
    expect(sizes(walk(aggressive, chance, 3)).slice(0, 3)).toEqual([100, 800, 800]);
  });

  it('starts at the proven size and stays below the limit memory remembers', () => {
    // 3000 takes 2.8 s (normal): x1.25 is 3750; x1.25 again would pass 4000, and halfway to it adds under 10%.
    const calls = sizes(walk(aggressive, network(Infinity), 3, memory(3000, 4000)));
    expect(calls).toEqual([3000, 3750, 3750, 3750]);
  });
});

describe('conservative', () => {
  it(`does not step onto a size that failed until ${CONSERVATIVE_WAIT} clean batches in a row`, () => {
    const calls = sizes(walk(conservative, network(3000), 8 + CONSERVATIVE_WAIT));
    // Fast up to 2000 (2 s is not FAST), three clean batches there, 4000 hangs, three at 2000, then halfway.
    expect(calls.slice(0, 11)).toEqual([100, 500, 1000, 2000, 2000, 2000, 4000, 2000, 2000, 2000, 3000]);
    const retry = calls.indexOf(4000, 7);
    expect(retry).toBe(7 + CONSERVATIVE_WAIT);
    expect(calls.slice(10, retry).every((size) => size === 3000)).toBe(true);
  });

  it('holds below the limit memory remembers from the first batch', () => {
    const calls = sizes(walk(conservative, network(3000), 10, memory(3000, 4000)));
    expect(calls[0]).toBe(2000);
    expect(Math.max(...calls)).toBe(3000);
  });
});

describe('through the engine on the rate-limited profiles (10,000 recipients, seed 1)', async () => {
  const cases: BenchCase[] = await Promise.all(
    ['server-rate-limit', 'one-call-a-second'].map(async (name) => {
      const profile = await loadProfile(new URL(`../src/bench/profiles/${name}.json`, import.meta.url).pathname);
      return { name, description: '', profile };
    }),
  );
  for (const benchCase of cases) {
    it(`${benchCase.name}: adaptive, aggressive and conservative within 3x of the oracle`, async () => {
      const oracle = await runOnce(ORACLE, benchCase, 10_000, 1, config);
      for (const strategy of [adaptive, aggressive, conservative]) {
        const run = await runOnce(strategy, benchCase, 10_000, 1, config);
        expect({ strategy: strategy.name, lost: run.lost, undelivered: run.undelivered }).toEqual({
          strategy: strategy.name,
          lost: 0,
          undelivered: 0,
        });
        expect(run.completionMs / oracle.completionMs, strategy.name).toBeLessThan(3);
      }
    });
  }
});
