/**
 * Honest statistics, end to end: whole experiments run on the simulated
 * network in virtual time through the server's pipeline (chooseStrategy ->
 * engine -> outcomeOf -> store.record -> experimentResults; see
 * support/experiment-sim.ts). Every bit of noise is the simulator's own
 * (seeded jitter, random failures, timeouts), one network seed per
 * experiment, so the experiments below are independent replicates and the
 * share of them flagged significant is the pipeline's real error rate (or
 * power).
 *
 * Sizes, and how many sessions an effect needs. The A/B below (adaptive vs
 * bracket, one 300-recipient send per session on the benchmark's
 * overhead-dominated profile) measures bracket 33% faster in time per 1,000
 * recipients (25.7 s vs 17.3 s), with a per-session coefficient of variation
 * (sd / mean of the per-session time per 1,000 recipients, pooled over its
 * 2,000 sessions per arm) of 0.23 for adaptive and 0.26 for bracket. The
 * normal approximation then asks for 11 sessions per arm for 95% power
 * (7 for 80%), but at 11 it detected only 91 of 100 (samples that small fall
 * short of the approximation), and the results give no verdict below 20
 * units per arm (minUnitsPerArm): so 20, which detects the gap in 99 of 100
 * experiments. Sessions per arm for 80% power at alpha 0.05,
 * n ≈ 2·(z_0.975 + z_0.8)²·CV²/δ² = 15.7·CV²/δ² (δ the relative effect):
 *
 *   per-session CV                         δ = 5%    10%    20%    40%
 *   0.25 (overhead-dominated, measured)       393     99     25      7
 *   1.54 (realistic, same sends, 8,000     14,892  3,723    931    233
 *         sessions per arm of A/A runs)
 *
 * On `realistic` one send in ~15 meets a 15 s batch timeout, ten times a
 * normal send's time, hence its CV; below ~200 sessions per arm the normal
 * approximation flatters it, and see the known bug below.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { ExperimentResults } from '../src/experiments/results.js';
import type { SendOutcome } from '../src/experiments/types.js';
import { experimentResults } from '../src/experiments/results.js';
import { builtinProfiles, loadProfile } from '../src/transport/sim/profile.js';
import { runSimExperiment, type SimExperimentSpec } from './support/experiment-sim.js';

const profiles = builtinProfiles();
// 25% of calls fail fast (+-40% jitter): many small, cheap failures, so a unit's time is spread but not dominated by rare huge outliers.
const flaky = profiles['flaky']!;
// 2% of calls hang until the 15 s batch timeout: a 300-recipient send takes ~1.6 s, or ~16 s when it meets one (about 1 in 15).
const realistic = profiles['realistic']!;
// From the benchmark suite: 2.5 s per call whatever its size, so at 300 recipients adaptive's ramp (anchor, 100, 200) costs a call more than bracket's (anchor, 300).
const overheadDominated = await loadProfile(fileURLToPath(new URL('../src/bench/profiles/overhead-dominated.json', import.meta.url)));

/** Counts of A/A experiments by what their one comparison said. */
interface Tally {
  readonly experiments: number;
  readonly significant: number;
  /** Significant with treatment faster (relative < 0), and slower. */
  readonly faster: number;
  readonly slower: number;
  /** Experiments where some arm had fewer analysed units than the results' minimum. */
  readonly short: number;
}

async function tally(count: number, spec: (i: number) => SimExperimentSpec): Promise<Tally> {
  let significant = 0;
  let faster = 0;
  let short = 0;
  for (let i = 0; i < count; i++) {
    const { results } = await runSimExperiment(spec(i));
    const c = comparisonOf(results);
    if (!results.enoughData) short++;
    if (c.significant) {
      significant++;
      if (c.relative < 0) faster++;
    }
  }
  return { experiments: count, significant, faster, slower: significant - faster, short };
}

function comparisonOf(results: ExperimentResults): { significant: boolean; relative: number } {
  const c = results.comparisons[0];
  if (!c?.timePer1000Recipients.ok) throw new Error(`no comparison: ${results.verdict}`);
  return { significant: c.significant, relative: c.timePer1000Recipients.relative };
}

/** Per-unit time per 1,000 recipients (Σ durationMs·1000 / Σ recipients over the unit's finished sends): what the results average. */
function perUnit(outcomes: readonly SendOutcome[], arm: string): number[] {
  const units = new Map<string, { ms: number; recipients: number }>();
  for (const o of outcomes) {
    if (o.arm !== arm || !o.finished) continue;
    const u = units.get(o.unit) ?? { ms: 0, recipients: 0 };
    u.ms += o.durationMs * 1000;
    u.recipients += o.recipients;
    units.set(o.unit, u);
  }
  return [...units.values()].map((u) => u.ms / u.recipients);
}

function meanAndCv(xs: readonly number[]): { mean: number; cv: number } {
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  const variance = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (xs.length - 1);
  return { mean, cv: Math.sqrt(variance) / mean };
}

describe('A/A: both arms run adaptive, so every significant comparison is a false positive', () => {
  it('unit SESSION: 200 experiments of 25 sessions per arm (2 sends each) flag 2-9% at alpha 0.05', async () => {
    const t = await tally(200, (i) => ({
      key: `aa-session-${i}`,
      unit: 'SESSION',
      strategies: ['adaptive', 'adaptive'],
      enrol: { perArm: 25 },
      sendsPerSession: 2,
      recipients: 300,
      profile: flaky,
      seed: 10_000 + i,
    }));
    expect(t.short).toBe(0);
    expect(t.significant / t.experiments).toBeGreaterThanOrEqual(0.02);
    expect(t.significant / t.experiments).toBeLessThanOrEqual(0.09);
  }, 90_000);

  it('unit SEND: 200 experiments of 25 sends per arm flag 2-9% at alpha 0.05', async () => {
    const t = await tally(200, (i) => ({
      key: `aa-send-${i}`,
      unit: 'SEND',
      strategies: ['adaptive', 'adaptive'],
      enrol: { perArm: 25 },
      // Each session sends twice; its sends are randomised one by one, and both arms' sends share its memory (one strategy).
      sendsPerSession: 2,
      recipients: 300,
      profile: flaky,
      seed: 20_000 + i,
    }));
    expect(t.short).toBe(0);
    expect(t.significant / t.experiments).toBeGreaterThanOrEqual(0.02);
    expect(t.significant / t.experiments).toBeLessThanOrEqual(0.09);
  }, 90_000);
});

describe('A/A on realistic, where a session meets a 15 s timeout about 1 time in 15', () => {
  // On `realistic` (right-skewed: one send in ~15 meets a batch timeout) the SESSION p-value
  // once came from a z test on the relative scale, whose standard error is not symmetric in the
  // arms: 24 of 200 A/A experiments came out significant, 23 of them "treatment faster". It is
  // now a t test on the difference of the clustered ratios (src/experiments/stats.ts); this
  // guards that false positives neither exceed their share nor pile up on one side.
  it('unit SESSION: false positives at alpha 0.05 stay under 4.5% in each direction (200 experiments, 20 sessions per arm)', async () => {
    const t = await tally(200, (i) => ({
      key: `aa-realistic-${i}`,
      unit: 'SESSION',
      strategies: ['adaptive', 'adaptive'],
      enrol: { perArm: 20 },
      sendsPerSession: 1,
      recipients: 300,
      profile: realistic,
      seed: 50_000 + i,
    }));
    expect(t.short).toBe(0);
    // Per direction, not in total: on data this skewed a correct test may well be conservative
    // (few false positives); what it may not do is pile them up on one side.
    expect(t.faster / t.experiments).toBeLessThanOrEqual(0.045);
    expect(t.slower / t.experiments).toBeLessThanOrEqual(0.045);
  }, 60_000);
});

describe('A/B: bracket against adaptive where the benchmark shows a clear gap', () => {
  it('detects bracket as faster in at least 95 of 100 experiments of 20 sessions per arm', async () => {
    let detected = 0;
    let short = 0;
    const control: number[] = [];
    const treatment: number[] = [];
    for (let i = 0; i < 100; i++) {
      const { results, outcomes } = await runSimExperiment({
        key: `ab-${i}`,
        unit: 'SESSION',
        strategies: ['adaptive', 'bracket'],
        enrol: { perArm: 20 },
        sendsPerSession: 1,
        recipients: 300,
        profile: overheadDominated,
        seed: 30_000 + i,
      });
      const c = comparisonOf(results);
      if (!results.enoughData) short++;
      if (c.significant && c.relative < 0) detected++;
      control.push(...perUnit(outcomes, 'control'));
      treatment.push(...perUnit(outcomes, 'treatment'));
    }
    expect(short).toBe(0);
    expect(detected).toBeGreaterThanOrEqual(95);
    // The numbers the power table above rests on: if the simulator changes them, the table must be redone.
    const c = meanAndCv(control);
    const t = meanAndCv(treatment);
    expect(t.mean / c.mean - 1).toBeGreaterThan(-0.45);
    expect(t.mean / c.mean - 1).toBeLessThan(-0.25);
    expect(c.cv).toBeGreaterThan(0.15);
    expect(c.cv).toBeLessThan(0.35);
  }, 60_000);
});

describe('sample ratio mismatch at the pipeline level', () => {
  it('is not flagged on a clean 50/50 split, and is once the treatment loses the outcomes of 30% of its units', async () => {
    // 700 sessions split by the hash alone: a starved arm shows at p < 0.001 only from ~200 units per arm up.
    const { experiment, outcomes, results } = await runSimExperiment({
      key: 'srm',
      unit: 'SESSION',
      strategies: ['adaptive', 'bracket'],
      enrol: { total: 700 },
      sendsPerSession: 1,
      recipients: 300,
      profile: overheadDominated,
      seed: 40_000,
    });
    const [control, treatment] = results.arms;
    expect(control!.units + treatment!.units).toBe(700);
    expect(results.srmFlagged).toBe(false);
    expect(results.srmPValue).toBeGreaterThan(0.001);

    // Outcomes that never arrive for 30% of the treatment's sessions: a recording path that loses one arm's sends.
    const starvedUnits = [...new Set(outcomes.filter((o) => o.arm === 'treatment').map((o) => o.unit))];
    const dropped = new Set(starvedUnits.slice(0, Math.round(starvedUnits.length * 0.3)));
    const starved = experimentResults(
      experiment,
      outcomes.filter((o) => !dropped.has(o.unit)),
    );
    expect(starved.arms[1]!.units).toBe(treatment!.units - dropped.size);
    expect(starved.srmFlagged).toBe(true);
    expect(starved.verdict).toMatch(/^sample ratio mismatch/);
  }, 30_000);
});
