import { describe, expect, it } from 'vitest';
import { bucketRanges, chooseArm, hash } from '../src/experiments/assign.js';
import { MemoryExperimentStore } from '../src/experiments/store.js';
import type { Arm, Experiment } from '../src/experiments/types.js';

const arms = (...weights: number[]): Arm[] =>
  weights.map((weight, i) => ({ name: `arm-${i}`, strategy: `strategy-${i}`, weight, control: i === 0 }));

const exp = (key: string, weights: number[], coverage = 1): Pick<Experiment, 'key' | 'arms' | 'coverage'> => ({
  key,
  arms: arms(...weights),
  coverage,
});

/** Session-like unit ids: what the service hashes for unit SESSION. */
const units = (n: number) => Array.from({ length: n }, (_, i) => `session-${i}`);

function split(e: Pick<Experiment, 'key' | 'arms' | 'coverage'>, ids: readonly string[]) {
  const counts = new Map<string | undefined, number>();
  for (const id of ids) {
    const arm = chooseArm(e, id);
    counts.set(arm, (counts.get(arm) ?? 0) + 1);
  }
  return counts;
}

describe('hash (GrowthBook hash version 2)', () => {
  // The GrowthBook SDK spec's vectors: growthbook/growthbook packages/sdk-js/test/cases.json
  // (specVersion 0.5.4, commit 021bf498f75c8491c156184ca1b3a1fbafa1d64e), "hash" cases with
  // version 2, as [seed, value, expected]. Every GrowthBook SDK must reproduce these.
  const spec: Array<[string, string, number]> = [
    ['seed', 'a', 0.0505],
    ['seed', 'b', 0.2696],
    ['foo', 'ab', 0.2575],
    ['foo', 'def', 0.2019],
    ['89123klj', '8952klfjas09ujkasdf', 0.124],
    ['90850943850283058242805', '123', 0.7516],
    ['()**(%$##$%#$#', '___)((*":&', 0.0128],
  ];
  it.each(spec)('hash(%j, %j) = %d, as the spec says', (seed, value, expected) => {
    expect(hash(seed, value)).toBe(expected);
  });

  // Computed with @growthbook/growthbook 1.8.0's own hash(seed, value, 2) (dist/cjs/util.js, npm pack):
  // non-ASCII ids, which the spec vectors do not cover, must hash by UTF-16 code unit as the SDK does.
  const sdk: Array<[string, string, number]> = [
    ['exp-1', 'session-ü', 0.8141],
    ['batch-size', '4915100000042@s.whatsapp.net', 0.8428],
    ['😀', 'x', 0.5165],
    ['k', '', 0.0658],
  ];
  it.each(sdk)('hash(%j, %j) = %d, as the SDK computes it', (seed, value, expected) => {
    expect(hash(seed, value)).toBe(expected);
  });

  it('is in [0, 1) with at most four decimals', () => {
    for (const id of units(10_000)) {
      const n = hash('exp', id);
      expect(n).toBeGreaterThanOrEqual(0);
      expect(n).toBeLessThan(1);
      // n is k / 10000: the double nearest its four-decimal text.
      expect(Number(n.toFixed(4))).toBe(n);
    }
  });
});

describe('bucketRanges (GrowthBook getBucketRanges)', () => {
  // The spec's "getBucketRange" cases with valid input (the same cases.json); its weights are
  // shares of 1, ours are integers in the same proportion. Cases for clamped or invalid input
  // (coverage <= 0 or > 1, weights not summing to 1) have no counterpart: the API refuses those.
  const spec: Array<[string, number[], number, Array<[number, number]>]> = [
    [
      'normal 50/50',
      [1, 1],
      1,
      [
        [0, 0.5],
        [0.5, 1],
      ],
    ],
    [
      'reduced coverage',
      [1, 1],
      0.5,
      [
        [0, 0.25],
        [0.5, 0.75],
      ],
    ],
    [
      '4 variations',
      [1, 1, 1, 1],
      1,
      [
        [0, 0.25],
        [0.25, 0.5],
        [0.5, 0.75],
        [0.75, 1],
      ],
    ],
    [
      'uneven weights',
      [2, 3],
      1,
      [
        [0, 0.4],
        [0.4, 1],
      ],
    ],
    [
      'uneven weights, 3 variations',
      [2, 3, 5],
      1,
      [
        [0, 0.2],
        [0.2, 0.5],
        [0.5, 1],
      ],
    ],
    [
      'uneven weights, reduced coverage, 3 variations',
      [2, 3, 5],
      0.2,
      [
        [0, 0.04],
        [0.2, 0.26],
        [0.5, 0.6],
      ],
    ],
  ];
  it.each(spec)('%s', (_, weights, coverage, expected) => {
    const ranges = bucketRanges(weights, coverage);
    expect(ranges).toHaveLength(expected.length);
    ranges.forEach(([start, end], i) => {
      expect(start).toBeCloseTo(expected[i]![0], 12);
      expect(end).toBeCloseTo(expected[i]![1], 12);
    });
  });

  it('refuses input the API must have refused, rather than misassign', () => {
    expect(() => bucketRanges([], 1)).toThrow(RangeError);
    expect(() => bucketRanges([1, 0], 1)).toThrow(/weight 0/);
    expect(() => bucketRanges([1, Number.NaN], 1)).toThrow(RangeError);
    expect(() => bucketRanges([1, 1], 0)).toThrow(/coverage 0/);
    expect(() => bucketRanges([1, 1], 1.01)).toThrow(RangeError);
  });
});

describe('chooseArm', () => {
  it('matches the spec case "creates experiments properly" (seed "feature", id "123", hash v2, 10/90, coverage 0.99)', () => {
    // There the SDK puts the unit (bucket 0.5231) in variation 1 of weights [0.1, 0.9].
    expect(hash('feature', '123')).toBe(0.5231);
    expect(chooseArm(exp('feature', [1, 9], 0.99), '123')).toBe('arm-1');
  });

  it('is deterministic, seeded by the experiment key, and leaves out a unit without an id', () => {
    const a = exp('exp-a', [1, 1]);
    const ids = units(1_000);
    expect(ids.map((id) => chooseArm(a, id))).toEqual(ids.map((id) => chooseArm({ ...a, arms: [...a.arms] }, id)));
    // Another key splits the same units independently: about half agree, not all.
    const b = exp('exp-b', [1, 1]);
    const same = ids.filter((id) => chooseArm(a, id) === chooseArm(b, id)).length;
    expect(same).toBeGreaterThan(400);
    expect(same).toBeLessThan(600);
    expect(chooseArm(a, '')).toBeUndefined();
  });

  it.each([
    [[1, 1], 'batch-size-1to1'],
    [[1, 3], 'batch-size-1to3'],
    [[2, 3, 5], 'batch-size-2to3to5'],
  ])('splits 100,000 units within 1 percentage point of weights %j', (weights, key) => {
    const n = 100_000;
    const counts = split(exp(key, weights), units(n));
    const total = weights.reduce((s, w) => s + w, 0);
    expect(counts.get(undefined)).toBeUndefined();
    weights.forEach((w, i) => {
      expect(Math.abs((counts.get(`arm-${i}`) ?? 0) / n - w / total)).toBeLessThan(0.01);
    });
  });

  it('takes about half the units at coverage 0.5, and raising it to 0.8 only adds units', () => {
    const n = 100_000;
    const ids = units(n);
    const half = exp('coverage-test', [1, 3], 0.5);
    const more = { ...half, coverage: 0.8 };
    const before = ids.map((id) => chooseArm(half, id));
    const after = ids.map((id) => chooseArm(more, id));
    const assigned = (arms: Array<string | undefined>) => arms.filter((a) => a !== undefined).length;
    expect(Math.abs(assigned(before) / n - 0.5)).toBeLessThan(0.01);
    expect(Math.abs(assigned(after) / n - 0.8)).toBeLessThan(0.01);
    let moved = 0;
    let joined = 0;
    before.forEach((arm, i) => {
      if (arm !== undefined && after[i] !== arm) moved++;
      if (arm === undefined && after[i] !== undefined) joined++;
    });
    expect(moved).toBe(0);
    expect(joined).toBe(assigned(after) - assigned(before));
    // Within the experiment the weights still hold, at either coverage.
    expect(Math.abs(before.filter((a) => a === 'arm-1').length / assigned(before) - 0.75)).toBeLessThan(0.01);
    expect(Math.abs(after.filter((a) => a === 'arm-1').length / assigned(after) - 0.75)).toBeLessThan(0.01);
    // And lowering it back only removes: every unit still in keeps its arm.
    ids.forEach((id, i) => {
      const arm = chooseArm({ ...half, coverage: 0.2 }, id);
      if (arm !== undefined) expect(arm).toBe(before[i]);
    });
  });
});

describe('sticky assignment through the store', () => {
  it('moves no assigned unit when the weights change, though the hash alone would move many', async () => {
    const store = new MemoryExperimentStore();
    const ids = units(20_000);
    const v1 = exp('sticky', [1, 1]);
    for (const id of ids) await store.assign(v1.key, id, chooseArm(v1, id)!);

    const v2 = exp('sticky', [1, 3]);
    let wouldMove = 0;
    for (const id of ids) {
      const had = await store.assignment(v1.key, id);
      const fresh = chooseArm(v2, id)!;
      if (fresh !== had) wouldMove++;
      expect(await store.assign(v2.key, id, fresh)).toBe(had);
    }
    // 1:1 -> 1:3 moves the units in [0.25, 0.5) from arm 0 to arm 1: about a quarter of them.
    expect(wouldMove / ids.length).toBeGreaterThan(0.2);
    expect(wouldMove / ids.length).toBeLessThan(0.3);

    // A unit new to the experiment gets the new weights' arm.
    const newcomer = units(20_001).at(-1)!;
    expect(await store.assign(v2.key, newcomer, chooseArm(v2, newcomer)!)).toBe(chooseArm(v2, newcomer));
  });
});
