/**
 * `npm run bench -- --random N --random-seed S`: N network profiles drawn from
 * one documented family, so a strategy is measured on networks nobody tuned it
 * for, not only on the suite's hand-written ones.
 *
 * The family (every draw independent; "log-uniform" = uniform in log space):
 * - baseMs: 100-3,000 ms, log-uniform, whole ms.
 * - perRecipientMs: 0.05-2 ms, log-uniform (a 40x span: uniform would make
 *   almost every network cost ~1 ms a recipient), rounded to 0.001 ms.
 * - jitterPct: 0-30, uniform, whole percent.
 * - capacity: 300-10,000 recipients, log-uniform, whole.
 * - failure: "timeout" (a failing call hangs until the batch timeout) or
 *   "fast" (rejected after baseMs), even odds.
 * - failureRate: 0-10%, uniform, rounded to 0.01%.
 * - rateLimitPerSecond: none with even odds, else 0.3-5 calls/s,
 *   log-uniform, rounded to 0.01 (fractional rates: model.ts perSecondWindow).
 * - capacitySchedule: zero, one or two changes (even odds), each at 1-60 s
 *   (uniform, whole ms, sorted) to a capacity drawn afresh as above.
 * - latencyTail (heavy tails): with even odds, a share of 0.5-5% of calls
 *   (uniform) stalls by a factor log-uniform between minFactor 2-4 (uniform)
 *   and maxFactor 10-40 (log-uniform); else none.
 * No knee, bursts or extra rate windows: those stay the suite's.
 *
 * The plain family (`plain-S-III`) is the same draws with everything but the
 * search taken out: no jitter, random failures, rate limit, capacity changes or
 * stalls. It is the model in which docs/lab computes the best any strategy that
 * does not know the capacity can do, so there a strategy is measured against a
 * bound it could reach, not only against the clairvoyant oracle.
 *
 * Profile i of seed S is drawn from its own stream, pure-rand's xoroshiro128+
 * seeded with deriveSeed(S, `random-${i}`) as the simulator seeds its sessions:
 * the first 10 profiles of `--random 100` are those of `--random 10`, and a
 * profile never depends on the order others were drawn in. Profiles are named
 * `random-S-III` (I from 1); each is a cold-start case of its own, run like the
 * suite's (`--case`, `--trace` and `--json`, which writes every drawn profile,
 * take these names). Changing any of this changes every family figure: keep
 * the draws, their order and their roundings, or say so in the README.
 */
import { parseProfile, type SimProfile, type SimProfileInput } from '../transport/sim/profile.js';
import { createRng, deriveSeed, type Rng } from '../transport/sim/rng.js';
import type { BenchCase } from './run.js';

/** The family's ranges, for the README and the tests. */
export const FAMILY = {
  baseMs: [100, 3000],
  perRecipientMs: [0.05, 2],
  jitterPct: [0, 30],
  capacity: [300, 10_000],
  failureRate: [0, 0.1],
  rateLimitPerSecond: [0.3, 5],
  scheduleAtMs: [1000, 60_000],
  maxScheduleSteps: 2,
  tailProbability: [0.005, 0.05],
  tailMinFactor: [2, 4],
  tailMaxFactor: [10, 40],
} as const;

const uniform = (rng: Rng, [lo, hi]: readonly [number, number]) => lo + (hi - lo) * rng.next();
const logUniform = (rng: Rng, [lo, hi]: readonly [number, number]) => lo * (hi / lo) ** rng.next();
const round = (x: number, step: number) => Math.round(x / step) * step;
/** Rounding by a step leaves float dust (0.07100000000000001); a fixed number of decimals does not. */
const decimals = (x: number, digits: number) => Number(x.toFixed(digits));
const coin = (rng: Rng) => rng.next() < 0.5;

/** `random` draws the whole family; `plain` the same networks with only the search left (see above). */
export type FamilyKind = 'random' | 'plain';

const familyCaseName = (kind: FamilyKind, seed: number, index: number): string => `${kind}-${seed}-${String(index + 1).padStart(3, '0')}`;

/** Profile `index` (from 0) of the family drawn with `seed`. */
export function drawProfile(seed: number, index: number, kind: FamilyKind = 'random'): SimProfile {
  const rng = createRng(deriveSeed(seed, `random-${index}`));
  // Every draw is made whatever an earlier one decided, so each knob keeps its own numbers.
  const baseMs = Math.round(logUniform(rng, FAMILY.baseMs));
  const perRecipientMs = decimals(logUniform(rng, FAMILY.perRecipientMs), 3);
  const jitterPct = Math.round(uniform(rng, FAMILY.jitterPct));
  const capacity = Math.round(logUniform(rng, FAMILY.capacity));
  const failure = coin(rng) ? 'timeout' : 'fast';
  const failureRate = decimals(round(uniform(rng, FAMILY.failureRate), 0.0001), 4);
  const limited = coin(rng);
  const rate = decimals(logUniform(rng, FAMILY.rateLimitPerSecond), 2);
  const steps = Math.min(FAMILY.maxScheduleSteps, Math.floor(rng.next() * (FAMILY.maxScheduleSteps + 1)));
  const schedule = Array.from({ length: FAMILY.maxScheduleSteps }, () => ({
    atMs: Math.round(uniform(rng, FAMILY.scheduleAtMs)),
    capacity: Math.round(logUniform(rng, FAMILY.capacity)),
  }))
    .slice(0, steps)
    .sort((a, b) => a.atMs - b.atMs);
  const tailed = coin(rng);
  const tail = {
    probability: decimals(uniform(rng, FAMILY.tailProbability), 4),
    minFactor: decimals(uniform(rng, FAMILY.tailMinFactor), 2),
    maxFactor: decimals(logUniform(rng, FAMILY.tailMaxFactor), 1),
  };
  const drawn = { baseMs, perRecipientMs, jitterPct, capacity, failure, failureRate, limited, rate, schedule, tailed, tail };
  const d = kind === 'plain' ? { ...drawn, jitterPct: 0, failureRate: 0, limited: false, schedule: [], tailed: false } : drawn;
  const input: SimProfileInput = {
    name: familyCaseName(kind, seed, index),
    description: describe(d),
    baseMs,
    perRecipientMs,
    jitterPct: d.jitterPct,
    capacity,
    failure,
    failureRate: d.failureRate,
    rateLimitPerSecond: d.limited ? rate : 0,
    capacitySchedule: d.schedule,
    latencyTail: d.tailed ? tail : null,
  };
  return parseProfile(input, `${kind} family seed ${seed}, profile ${index + 1}`);
}

function describe(p: {
  baseMs: number;
  perRecipientMs: number;
  jitterPct: number;
  capacity: number;
  failure: string;
  failureRate: number;
  limited: boolean;
  rate: number;
  schedule: readonly { atMs: number; capacity: number }[];
  tailed: boolean;
  tail: { probability: number; minFactor: number; maxFactor: number };
}): string {
  const parts = [
    `${p.baseMs} ms + ${p.perRecipientMs} ms each, ±${p.jitterPct}%`,
    `capacity ${p.capacity}${p.schedule.map((s) => ` -> ${s.capacity} at ${(s.atMs / 1000).toFixed(1)} s`).join('')}`,
    `${(p.failureRate * 100).toFixed(2)}% ${p.failure} failures`,
    p.limited ? `${p.rate} calls/s` : 'no rate limit',
    p.tailed ? `${(p.tail.probability * 100).toFixed(2)}% of calls stall ${p.tail.minFactor}x-${p.tail.maxFactor}x` : 'no stalls',
  ];
  return parts.join('; ');
}

/** The first `count` profiles of the family as cold-start cases. */
export function familyCases(count: number, seed: number, kind: FamilyKind = 'random'): BenchCase[] {
  return Array.from({ length: count }, (_, i) => {
    const profile = drawProfile(seed, i, kind);
    return { name: profile.name, description: profile.description ?? '', profile, family: kind };
  });
}

/** What `--random N --random-seed S` asks for. */
export interface FamilyInputs {
  readonly count: number;
  readonly seed: number;
}
