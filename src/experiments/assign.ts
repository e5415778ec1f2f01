/**
 * Which arm a unit gets: deterministic, the way GrowthBook's SDK buckets a
 * user, so the same (experiment, unit) always lands in the same arm on every
 * replica without any shared state.
 *
 * The hash and the bucket ranges are GrowthBook's own (packages/sdk-js/src/util.ts,
 * `hashFnv32a`, `hash` version 2 and `getBucketRanges`, as published in
 * @growthbook/growthbook 1.8.0), rewritten here rather than depended on: the
 * package exports neither function (its `exports` map only offers the client
 * classes), it is 3.9 MB with a DOM dependency, and the whole algorithm is
 * the twenty lines below. test/experiment-assign.test.ts checks them against
 * the SDK spec's test vectors (cases.json).
 *
 * Arms take their ranges in list order, each starting at its cumulative
 * weight share and covering share * coverage of it. So raising coverage only
 * widens every arm's range in place (units join, none moves) and lowering it
 * only removes units. Changing weights does move units between arms; the
 * sticky assignment the stores keep (ExperimentStore.assign) is what protects
 * units already assigned from that.
 */
import type { Arm, Experiment } from './types.js';

/**
 * 32-bit FNV-1a over UTF-16 code units, exactly as GrowthBook's hashFnv32a
 * (charCodeAt, not UTF-8 bytes: other SDKs must agree on non-ASCII ids).
 */
function fnv32a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    // h * 16777619 (the FNV prime) mod 2^32, by shifts: the sum stays exact in a double and the next ^= wraps it.
    h += (h << 1) + (h << 4) + (h << 7) + (h << 8) + (h << 24);
  }
  return h >>> 0;
}

/**
 * GrowthBook's hash version 2: a number in [0, 1) with 4 decimals. Hashing
 * the decimal string of the first hash again removes version 1's bias;
 * seed first, then value, unlike version 1.
 */
export function hash(seed: string, value: string): number {
  return (fnv32a(String(fnv32a(seed + value))) % 10000) / 10000;
}

/**
 * One [start, end) range per weight, as GrowthBook's getBucketRanges with
 * weights normalised to shares of 1. Throws on what the API must have
 * refused already (no arms, a weight that is not positive, coverage outside
 * (0, 1]): bucketing with them would silently misassign.
 */
export function bucketRanges(weights: readonly number[], coverage: number): Array<readonly [number, number]> {
  if (weights.length === 0) throw new RangeError('experiment: no arms to bucket into');
  for (const w of weights) if (!(Number.isFinite(w) && w > 0)) throw new RangeError(`experiment: arm weight ${w} is not positive`);
  if (!(coverage > 0 && coverage <= 1)) throw new RangeError(`experiment: coverage ${coverage} is not in (0, 1]`);
  const total = weights.reduce((sum, w) => sum + w, 0);
  let cumulative = 0;
  return weights.map((w) => {
    const start = cumulative;
    const share = w / total;
    cumulative += share;
    return [start, start + coverage * share] as const;
  });
}

/**
 * The arm the unit falls in, or undefined when it falls outside the
 * coverage (or has no id: GrowthBook leaves a user without the hash
 * attribute out of the experiment rather than bucketing every such user
 * together). The experiment's key is the seed, so two experiments split the
 * same units independently. Pure: it ignores state and winner, which the
 * caller applies, and stickiness, which the store keeps.
 */
export function chooseArm(experiment: Pick<Experiment, 'key' | 'arms' | 'coverage'>, unitId: string): Arm['name'] | undefined {
  if (unitId === '') return undefined;
  const n = hash(experiment.key, unitId);
  const ranges = bucketRanges(
    experiment.arms.map((a) => a.weight),
    experiment.coverage,
  );
  const index = ranges.findIndex(([start, end]) => n >= start && n < end);
  return index < 0 ? undefined : experiment.arms[index]!.name;
}
