import { describe, expect, it } from 'vitest';
import adaptive from '../strategies/adaptive.js';
import aggressive from '../strategies/aggressive.js';
import conservative, { CLEAN_BATCHES_TO_STEP_UP } from '../strategies/conservative.js';
import { builtinStrategies } from '../strategies/index.js';
import {
  defineStrategy,
  planSize,
  sendsAllRemaining,
  TAIL_FACTOR,
  type BatchOutcome,
  type DefinedStrategy,
  type StrategyContext,
} from '../strategies/sdk.js';
import { defaultConfig } from '../src/config.js';
import { planSize as enginePlanSize } from '../src/engine/engine.js';
import { loadStrategies, StrategyLoadError } from '../src/strategy-registry.js';

const config = defaultConfig.smartSend;

function ctx(over: Partial<StrategyContext> = {}): StrategyContext {
  return { config, history: null, total: 50_000, remaining: 50_000, batchesSent: 0, batchesOk: 0, ...over };
}
const history = (maxProvenBatchSize: number) => ({ maxProvenBatchSize, averageBatchTime: 1000, successRate: 1, totalSuccessfulSends: 10 });
const ok = (size: number, durationMs: number): BatchOutcome => ({ size, durationMs, ok: true });
const failed = (size: number): BatchOutcome => ({ size, durationMs: 15_000, ok: false, error: 'timeout' });

/** Feeds outcomes through a strategy and returns the sizes it chose. */
function walk<S>(strategy: DefinedStrategy<S>, outcomes: ((size: number) => BatchOutcome)[], start = ctx()): number[] {
  let step = strategy.start(start);
  const sizes = [step.size];
  let sent = 0;
  let good = 0;
  for (const make of outcomes) {
    const outcome = make(step.size);
    sent++;
    if (outcome.ok) good++;
    step = strategy.next(step.state, outcome, ctx({ history: start.history, batchesSent: sent, batchesOk: good }));
    sizes.push(step.size);
  }
  return sizes;
}

const fast = (size: number) => ok(size, 500);
const normal = (size: number) => ok(size, 5000);
const slow = (size: number) => ok(size, 12_000);
const fail = (size: number) => failed(size);
const rateLimited = (size: number): BatchOutcome => ({ size, durationMs: 300, ok: false, error: 'rate_limited' });

describe('adaptive', () => {
  it('ramps from the first level without history, skipping one level when fast', () => {
    expect(walk(adaptive, [fast, fast, fast])).toEqual([100, 1000, 4000, 5000]);
  });
  it('climbs one level at a time at normal speed', () => {
    expect(walk(adaptive, [normal, normal, normal])).toEqual([100, 500, 1000, 2000]);
  });
  it('does not skip while the success rate is under minSuccessRate', () => {
    // 1 refusal in 2 batches = 50% < 95%. A rate limit, so that no size is held back as having failed.
    expect(walk(adaptive, [rateLimited, fast, fast])).toEqual([100, 50, 100, 500]);
  });
  it('halves to a level on failure and steps one level up after recovering, but not back to the size that failed', () => {
    expect(walk(adaptive, [fail, normal, normal], ctx({ history: history(5000) }))).toEqual([5000, 2000, 4000, 4000]);
  });
  it('drops one level on a slow batch', () => {
    expect(walk(adaptive, [slow], ctx({ history: history(4000) }))).toEqual([4000, 2000]);
  });
  it('starts at the proven size, even off the sequence, and never climbs past the top level', () => {
    expect(walk(adaptive, [fast], ctx({ history: history(3000) }))).toEqual([3000, 5000]);
    expect(walk(adaptive, [fast, fast], ctx({ history: history(5000) }))).toEqual([5000, 5000, 5000]);
  });
  it('says why in every decision', () => {
    const step = adaptive.next(adaptive.start(ctx()).state, fast(100), ctx({ batchesSent: 1, batchesOk: 1 }));
    expect(step.reason).toMatch(/fast .*skipping 500/);
  });
});

describe('conservative', () => {
  it(`needs ${CLEAN_BATCHES_TO_STEP_UP} clean batches per level at normal speed, one when fast, and never skips`, () => {
    expect(walk(conservative, [normal, normal, normal, normal, normal, normal])).toEqual([100, 100, 100, 500, 500, 500, 1000]);
    expect(walk(conservative, [fast, fast, fast, fast])).toEqual([100, 500, 1000, 2000, 4000]);
  });
  it('starts one level below the proven size', () => {
    expect(conservative.start(ctx({ history: history(4000) })).size).toBe(2000);
    expect(conservative.start(ctx({ history: history(3000) })).size).toBe(2000);
  });
  it('drops one level on failure or slowness and restarts the count, and does not step back onto the size that failed', () => {
    // 4000 failed: after three clean batches at 2000 it goes halfway to 4000, not to 4000.
    expect(walk(conservative, [normal, fail, normal, normal, normal], ctx({ history: history(5000) }))).toEqual([
      4000, 4000, 2000, 2000, 2000, 3000,
    ]);
    expect(walk(conservative, [slow], ctx({ history: history(5000) }))).toEqual([4000, 2000]);
  });
});

describe('aggressive', () => {
  it('grows while fast, past the sequence, up to maxBatchSize: as far as the last call says stays fast, at most x8', () => {
    // Every call takes 500 ms: 100 at 5 ms a recipient would stay under 2000 ms up to 396, 396 up to 1580, and so on.
    expect(walk(aggressive, [fast, fast, fast, fast, fast])).toEqual([100, 396, 1580, 6316, 10_000, 10_000]);
    // x1.25 at normal speed.
    expect(walk(aggressive, [normal, normal])).toEqual([100, 125, 156]);
  });
  it('halves on failure and takes a quarter off when slow', () => {
    expect(walk(aggressive, [fail], ctx({ history: history(8000) }))).toEqual([8000, 4000]);
    expect(walk(aggressive, [slow], ctx({ history: history(8000) }))).toEqual([8000, 6000]);
  });
});

describe('every built-in', () => {
  it.each([...builtinStrategies])('$name is deterministic and stays within [1, maxBatchSize]', (strategy) => {
    const script = [fast, normal, fail, slow, fast, fail, fail, fail, fail, fail, fail, fail, fast, fast, fast, fast, fast, fast, fast];
    const a = walk(strategy, script, ctx({ history: history(20_000) }));
    expect(walk(strategy, script, ctx({ history: history(20_000) }))).toEqual(a);
    for (const size of a) expect(size >= 1 && size <= config.maxBatchSize && Number.isInteger(size)).toBe(true);
  });
});

describe('the tail rule in the SDK', () => {
  it('is the one the engine applies, so a strategy can bound what a call really carries', () => {
    expect(enginePlanSize).toBe(planSize);
    expect(TAIL_FACTOR).toBe(1.5);
    // 1,400 left is under 1.5 x 1,000: all of it goes, unless that is over the cap.
    expect(sendsAllRemaining(1000, 1400)).toBe(true);
    expect(planSize(1000, 1400, 10_000)).toBe(1400);
    expect(planSize(1000, 1400, 1200)).toBe(1200);
    expect(sendsAllRemaining(1000, 1500)).toBe(false);
    expect(planSize(1000, 1500, 10_000)).toBe(1000);
  });
});

describe('defineStrategy', () => {
  it('rejects a bad name', () => {
    expect(() =>
      defineStrategy({
        name: 'Bad Name',
        description: '',
        start: () => ({ state: 0, size: 1, reason: '' }),
        next: () => ({ state: 0, size: 1, reason: '' }),
      }),
    ).toThrow(/lowercase/);
  });
});

describe('loading strategies', () => {
  const dir = new URL('./fixtures/strategies/', import.meta.url).pathname;

  it('adds a third-party module to the built-ins', async () => {
    const registry = await loadStrategies(['./fixed-250.ts'], 'adaptive', dir);
    expect(registry.list().map((s) => s.name)).toEqual(['adaptive', 'conservative', 'aggressive', 'bracket', 'fixed-250']);
    expect(registry.get('fixed-250')!.start(ctx()).size).toBe(250);
    expect(registry.get('')!.name).toBe('adaptive');
    expect(registry.get('nope')).toBeUndefined();
  });

  it.each([
    ['./no-default.ts', /must default-export a strategy made with defineStrategy/],
    ['./plain-object.ts', /must default-export a strategy made with defineStrategy/],
    ['./named-adaptive.ts', /defines strategy "adaptive", already defined by a built-in/],
    ['./throws-on-load.ts', /cannot load ".\/throws-on-load.ts": this module is broken/],
    ['./missing.ts', /cannot load ".\/missing.ts"/],
  ])('stops start-up on %s', async (entry, message) => {
    const error = await loadStrategies([entry], 'adaptive', dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StrategyLoadError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).toContain('STORYCAST_STRATEGY_MODULES');
  });

  it('loads the example module the README shows, by a path from the working directory', async () => {
    const root = new URL('../', import.meta.url).pathname;
    const registry = await loadStrategies(['./strategies/examples/steady-500.ts'], 'steady-500', root);
    const steady = registry.get('')!;
    expect(steady.name).toBe('steady-500');
    const first = steady.start(ctx());
    expect(steady.next(first.state, failed(500), ctx()).size).toBe(250);
    expect(steady.next(first.state, ok(500, 100), ctx()).size).toBe(500);
  });

  it('rejects the same module twice and an unknown default', async () => {
    await expect(loadStrategies(['./fixed-250.ts', './fixed-250.ts'], 'adaptive', dir)).rejects.toThrow(
      /already defined by ".\/fixed-250.ts"/,
    );
    await expect(loadStrategies([], 'nope', dir)).rejects.toThrow(/STORYCAST_DEFAULT_STRATEGY="nope"/);
  });
});
