/**
 * Turns an experiment's send outcomes into per-arm results, comparisons with
 * the control and a verdict in plain words. Pure: the caller loads the
 * outcomes; the statistics are in ./stats.ts.
 */
import {
  type Cluster,
  clusteredRatio,
  clusteredRelativeDifference,
  meanInterval,
  type Computed,
  type RelativeDifference,
  relativeDifference,
  sampleRatioMismatch,
  welchTTest,
  withDegreesOfFreedom,
} from './stats.js';
import type { Experiment, ExperimentUnit, SendOutcome } from './types.js';

/** Units each arm needs before any verdict: below this a 95% interval is mostly noise and SRM has no power. */
const DEFAULT_MIN_UNITS_PER_ARM = 20;

/** Significance level of the comparisons with the control. */
const ALPHA = 0.05;

/** An estimate with its 95% CI and how many independent observations it rests on. */
export interface Interval {
  readonly estimate: number;
  readonly lower: number;
  readonly upper: number;
  /** Sends (unit SEND) or sessions (unit SESSION). */
  readonly n: number;
}

interface ArmResult {
  readonly arm: string;
  readonly strategy: string;
  readonly control: boolean;
  readonly weight: number;
  /** Distinct unit ids with an outcome in this arm, finished or not: what the SRM check counts. */
  readonly units: number;
  /** Units with at least one send in the time metric (finished, with recipients): what the minimum sample counts. */
  readonly unitsAnalysed: number;
  readonly sends: number;
  readonly finishedSends: number;
  /**
   * Milliseconds per 1,000 recipients over finished sends. Unit SEND: the mean
   * of each send's durationMs·1000/recipients. Unit SESSION: per session
   * Σ durationMs·1000 / Σ recipients, i.e. weighted by recipients.
   */
  readonly timePer1000Recipients: Computed<Interval>;
  /** Over all sends, finished or not: a stopped send's failed calls happened all the same. */
  readonly failedCallsPerSend: Computed<Interval>;
  /** Share of sends (finished or not) that gave up at least one recipient; undefined without sends. */
  readonly givenUpShare: number | undefined;
  readonly finishedShare: number | undefined;
  /** Time per 1,000 recipients of each analysed unit (a send, or a session's ratio of sums): the distribution the estimate sums up. */
  readonly unitValues: readonly number[];
}

/** Time per 1,000 recipients, arm / control − 1 (−0.38 is 38% faster), with the delta method's 95% CI (t quantile at the test's df). */
interface TimeComparison extends RelativeDifference {
  /**
   * Where pValue comes from. Unit SEND: Welch's t-test on per-send values,
   * exact for small samples where the delta method's z test rejects a little
   * too often (about 6% instead of 5% at 40 sends per arm). Unit SESSION: the
   * t test on the difference of the two arms' session-clustered ratios, with
   * delta-method variances and Welch–Satterthwaite degrees of freedom over sessions.
   */
  readonly test: 'welch' | 'delta-method';
}

interface ArmComparison {
  readonly arm: string;
  readonly control: string;
  readonly timePer1000Recipients: Computed<TimeComparison>;
  /** p < 0.05, with every arm at the minimum sample. */
  readonly significant: boolean;
}

export interface ExperimentResults {
  readonly experiment: string;
  readonly unit: ExperimentUnit;
  readonly minUnitsPerArm: number;
  readonly arms: readonly ArmResult[];
  /** One per non-control arm, in the experiment's arm order. */
  readonly comparisons: readonly ArmComparison[];
  /** Chi-squared p of the units per arm against the weights; undefined before any unit. */
  readonly srmPValue: number | undefined;
  readonly srmFlagged: boolean;
  /** Every arm has at least minUnitsPerArm analysed units. */
  readonly enoughData: boolean;
  readonly verdict: string;
}

interface ArmData {
  readonly result: ArmResult;
  /** Unit SEND: per-send time per 1,000 recipients. */
  readonly perSend: readonly number[];
  /** Unit SESSION: one cluster per session for the time metric. */
  readonly timeClusters: readonly Cluster[];
}

export function experimentResults(
  experiment: Experiment,
  outcomes: readonly SendOutcome[],
  opts: { minUnitsPerArm?: number } = {},
): ExperimentResults {
  const minUnitsPerArm = opts.minUnitsPerArm ?? DEFAULT_MIN_UNITS_PER_ARM;
  // Outcomes of another experiment, or of an arm this experiment does not have, are not ours to count.
  const mine = outcomes.filter((o) => o.experiment === experiment.key);
  const data = experiment.arms.map((arm): ArmData => {
    const sends = mine.filter((o) => o.arm === arm.name);
    return analyseArm(experiment.unit, { arm: arm.name, strategy: arm.strategy, control: arm.control, weight: arm.weight }, sends);
  });
  const arms = data.map((d) => d.result);

  const srm = sampleRatioMismatch(
    arms.map((a) => a.units),
    arms.map((a) => a.weight),
  );
  const srmPValue = srm.ok ? srm.pValue : undefined;
  const srmFlagged = srm.ok && srm.flagged;

  const fewest = Math.min(...arms.map((a) => a.unitsAnalysed));
  const enoughData = arms.length > 0 && fewest >= minUnitsPerArm;
  const control = data.find((d) => d.result.control);
  const comparisons: ArmComparison[] = control
    ? data
        .filter((d) => d !== control)
        .map((d) => {
          const diff = compareTime(experiment.unit, d, control);
          return {
            arm: d.result.arm,
            control: control.result.arm,
            timePer1000Recipients: diff,
            // Below the minimum sample nothing is called significant, whatever p says.
            significant: enoughData && diff.ok && diff.pValue < ALPHA,
          };
        })
    : [];

  const verdict = describe({ arms, comparisons, control: control?.result, srmFlagged, enoughData, fewest, minUnitsPerArm });
  return {
    experiment: experiment.key,
    unit: experiment.unit,
    minUnitsPerArm,
    arms,
    comparisons,
    srmPValue,
    srmFlagged,
    enoughData,
    verdict,
  };
}

function compareTime(unit: ExperimentUnit, arm: ArmData, control: ArmData): Computed<TimeComparison> {
  if (unit === 'SESSION') {
    const d = clusteredRelativeDifference(arm.timeClusters, control.timeClusters);
    return d.ok ? { ...d, test: 'delta-method' } : d;
  }
  const d = relativeDifference(arm.perSend, control.perSend);
  if (!d.ok) return d;
  const welch = welchTTest(arm.perSend, control.perSend);
  if (!welch.ok) return welch;
  return { ok: true, ...withDegreesOfFreedom(d, welch.df), pValue: welch.pValue, test: 'welch' };
}

function analyseArm(
  unit: ExperimentUnit,
  arm: Pick<ArmResult, 'arm' | 'strategy' | 'control' | 'weight'>,
  sends: readonly SendOutcome[],
): ArmData {
  // Unfinished sends (cancelled, or stopped by a fatal error) are left out of
  // the time metric: their duration says when they were stopped, not how fast
  // the strategy delivers. They still count in finishedShare, so an arm that
  // stops more often cannot hide it.
  const timed = sends.filter((o) => o.finished && o.recipients > 0);
  const perSend = timed.map((o) => (o.durationMs * 1000) / o.recipients);
  const timeClusters = clusters(
    timed,
    (o) => o.durationMs * 1000,
    (o) => o.recipients,
  );

  let timePer1000Recipients: Computed<Interval>;
  let failedCallsPerSend: Computed<Interval>;
  if (unit === 'SEND') {
    timePer1000Recipients = fromMean(meanInterval(perSend));
    failedCallsPerSend = fromMean(meanInterval(sends.map((o) => o.failedCalls)));
  } else {
    // A session's sends share its connection, account limits and contacts, so
    // they are not independent: sessions are the sample (clusters), and the
    // metrics are ratios of per-session sums with delta-method variances.
    timePer1000Recipients = fromRatio(clusteredRatio(timeClusters));
    failedCallsPerSend = fromRatio(
      clusteredRatio(
        clusters(
          sends,
          (o) => o.failedCalls,
          () => 1,
        ),
      ),
    );
  }

  const count = (pred: (o: SendOutcome) => boolean) => sends.filter(pred).length;
  const share = (k: number) => (sends.length > 0 ? k / sends.length : undefined);
  const finishedSends = count((o) => o.finished);
  return {
    result: {
      ...arm,
      units: new Set(sends.map((o) => o.unit)).size,
      unitsAnalysed: new Set(timed.map((o) => o.unit)).size,
      sends: sends.length,
      finishedSends,
      timePer1000Recipients,
      failedCallsPerSend,
      givenUpShare: share(count((o) => o.givenUp > 0)),
      finishedShare: share(finishedSends),
      unitValues: unit === 'SEND' ? perSend : timeClusters.map((c) => c.sumNumerator / c.sumDenominator),
    },
    perSend,
    timeClusters,
  };
}

/** One cluster per unit id, summing numerator and denominator over its sends. */
function clusters(sends: readonly SendOutcome[], num: (o: SendOutcome) => number, den: (o: SendOutcome) => number): Cluster[] {
  const byUnit = new Map<string, { sumNumerator: number; sumDenominator: number; n: number }>();
  for (const o of sends) {
    const c = byUnit.get(o.unit) ?? { sumNumerator: 0, sumDenominator: 0, n: 0 };
    c.sumNumerator += num(o);
    c.sumDenominator += den(o);
    c.n += 1;
    byUnit.set(o.unit, c);
  }
  return [...byUnit.values()];
}

function fromMean(m: ReturnType<typeof meanInterval>): Computed<Interval> {
  return m.ok ? { ok: true, estimate: m.mean, lower: m.lower, upper: m.upper, n: m.n } : m;
}

function fromRatio(r: ReturnType<typeof clusteredRatio>): Computed<Interval> {
  return r.ok ? { ok: true, estimate: r.ratio, lower: r.lower, upper: r.upper, n: r.clusters } : r;
}

interface VerdictInput {
  readonly arms: readonly ArmResult[];
  readonly comparisons: readonly ArmComparison[];
  readonly control: ArmResult | undefined;
  readonly srmFlagged: boolean;
  readonly enoughData: boolean;
  readonly fewest: number;
  readonly minUnitsPerArm: number;
}

/**
 * The verdict, most important problem first: a broken split invalidates
 * everything else, then too little data, then the comparisons.
 */
function describe(v: VerdictInput): string {
  if (v.srmFlagged) {
    const counts = v.arms.map((a) => `${a.arm} ${a.units}`).join(', ');
    return `sample ratio mismatch (units per arm: ${counts}; p < 0.001): the split is broken and results are not trustworthy`;
  }
  if (!v.control) return 'no verdict: the experiment has no control arm';
  if (!v.enoughData) return `not enough data yet: ${v.fewest} of the ${v.minUnitsPerArm} units per arm needed`;
  const control = v.control;
  const parts = v.comparisons.map((c) => {
    const arm = v.arms.find((a) => a.arm === c.arm)!;
    const calls = `failed calls per send ${formatRate(arm.failedCallsPerSend)} vs ${formatRate(control.failedCallsPerSend)}`;
    return `${timeSentence(c)}; ${calls}`;
  });
  return `${parts.join('. ')}; sample ratio OK`;
}

function timeSentence(c: ArmComparison): string {
  const d = c.timePer1000Recipients;
  if (!d.ok) return `${c.arm} vs ${c.control}: time per 1,000 recipients cannot be compared (${d.reason})`;
  const p = formatP(d.pValue);
  if (!c.significant) {
    const ci = `${signedPercent(d.lower)} to ${signedPercent(d.upper)}`;
    return `no significant difference between ${c.arm} and ${c.control} in time per 1,000 recipients (${signedPercent(d.relative)}, 95% CI ${ci}, ${p})`;
  }
  // Significant at 5% means the interval lies on one side of 0, so both ends read in the same direction.
  if (d.relative < 0) {
    return `${c.arm} is ${percent(-d.relative)} faster than ${c.control} (95% CI ${percent(-d.upper)} to ${percent(-d.lower)}, ${p})`;
  }
  return `${c.arm} is ${percent(d.relative)} slower than ${c.control} (95% CI ${percent(d.lower)} to ${percent(d.upper)}, ${p})`;
}

/** Whole percent from 10% up, one decimal below, so "3.4%" does not read as "3%". */
function percent(x: number): string {
  const v = Math.abs(x * 100);
  return `${v >= 10 ? v.toFixed(0) : String(Number(v.toFixed(1)))}%`;
}

function signedPercent(x: number): string {
  return `${x < 0 ? '−' : '+'}${percent(x)}`;
}

function formatP(p: number): string {
  return p < 0.001 ? 'p < 0.001' : `p = ${p.toPrecision(2)}`;
}

function formatRate(m: Computed<Interval>): string {
  if (!m.ok) return 'n/a';
  const x = m.estimate;
  return x.toFixed(x !== 0 && Math.abs(x) < 0.1 ? 2 : 1);
}
