/**
 * The statistics behind experiment results: pure functions over numbers, each
 * with its formula written out. Where a quantity is undefined (too few
 * observations, no variance at all, a zero denominator) they return
 * `{ ok: false, reason }` instead of NaN, so callers must say why there is no
 * answer rather than print "NaN%".
 *
 * Distributions come from jstat; the t-test, the one-sample interval and the
 * chi-squared test are checked against scipy in test/fixtures/stats.
 */
import jStat from 'jstat';

/** Why a statistic has no value. */
interface Unavailable {
  readonly ok: false;
  readonly reason: string;
}

export type Computed<T> = ({ readonly ok: true } & T) | Unavailable;

/** Confidence level of every interval here; the experiment API only speaks of 95% intervals. */
const LEVEL = 0.95;

/** Below this SRM p-value the split is called broken: strict, because SRM is checked on every look at the results. */
const SRM_ALPHA = 0.001;

const unavailable = (reason: string): Unavailable => ({ ok: false, reason });

function mean(xs: readonly number[]): number {
  let sum = 0;
  for (const x of xs) sum += x;
  return sum / xs.length;
}

/** Sample variance with n − 1 (Bessel), so that s²/n is unbiased for the variance of the mean. */
export function sampleVariance(xs: readonly number[]): number {
  const m = mean(xs);
  let ss = 0;
  for (const x of xs) ss += (x - m) ** 2;
  return ss / (xs.length - 1);
}

/** The two-sided critical value t_{1−α/2, df}. */
function tQuantile(df: number): number {
  return jStat.studentt.inv(1 - (1 - LEVEL) / 2, df);
}

/** z_{1−α/2}: the delta-method intervals are asymptotic, so they use the normal. */
function zQuantile(): number {
  return jStat.normal.inv(1 - (1 - LEVEL) / 2, 0, 1);
}

/**
 * Two-sided p of a t statistic: P(|T_df| ≥ |t|) = I_{df/(df+t²)}(df/2, 1/2).
 * Written with the incomplete beta directly rather than 2·(1 − cdf), which
 * loses every digit once p is below ~1e-16.
 */
function tTwoSidedP(t: number, df: number): number {
  return jStat.ibeta(df / (df + t * t), df / 2, 0.5);
}

/** Two-sided p of a z statistic: 2·Φ(−|z|) = erfc(|z|/√2), again without 1 − Φ cancelling. */
function zTwoSidedP(z: number): number {
  return jStat.erfc(Math.abs(z) / Math.SQRT2);
}

export interface MeanInterval {
  readonly n: number;
  readonly mean: number;
  readonly standardError: number;
  readonly lower: number;
  readonly upper: number;
}

/** Mean and its 95% CI: x̄ ± t_{0.975, n−1} · s/√n. */
export function meanInterval(xs: readonly number[]): Computed<MeanInterval> {
  const n = xs.length;
  if (n < 2) return unavailable(`${n} observation${n === 1 ? '' : 's'}, at least 2 needed for an interval`);
  const m = mean(xs);
  const standardError = Math.sqrt(sampleVariance(xs) / n);
  const half = tQuantile(n - 1) * standardError;
  return { ok: true, n, mean: m, standardError, lower: m - half, upper: m + half };
}

export interface WelchTest {
  /** mean(a) − mean(b), as scipy.stats.ttest_ind(a, b) orders it. */
  readonly difference: number;
  readonly standardError: number;
  readonly t: number;
  /** Welch–Satterthwaite degrees of freedom (not an integer in general). */
  readonly df: number;
  readonly pValue: number;
  readonly lower: number;
  readonly upper: number;
}

/**
 * Welch's t-test, which does not assume equal variances (arms of a batching
 * experiment rarely have them):
 *   se² = s_a²/n_a + s_b²/n_b,   t = (x̄_a − x̄_b)/se,
 *   df = se⁴ / ((s_a²/n_a)²/(n_a−1) + (s_b²/n_b)²/(n_b−1)),
 *   CI = (x̄_a − x̄_b) ± t_{0.975, df} · se.
 */
export function welchTTest(a: readonly number[], b: readonly number[]): Computed<WelchTest> {
  if (a.length < 2 || b.length < 2) return unavailable(`samples of ${a.length} and ${b.length}, at least 2 each needed`);
  const va = sampleVariance(a) / a.length;
  const vb = sampleVariance(b) / b.length;
  const se2 = va + vb;
  // t would be ±∞ or 0/0 and df 0/0: there is no sampling noise to test against.
  if (se2 === 0) return unavailable('no variance in either sample');
  const standardError = Math.sqrt(se2);
  const difference = mean(a) - mean(b);
  const t = difference / standardError;
  const df = (se2 * se2) / ((va * va) / (a.length - 1) + (vb * vb) / (b.length - 1));
  const half = tQuantile(df) * standardError;
  return { ok: true, difference, standardError, t, df, pValue: tTwoSidedP(t, df), lower: difference - half, upper: difference + half };
}

export interface RelativeDifference {
  /** treatment / control − 1: −0.38 means 38% lower than the control. */
  readonly relative: number;
  readonly standardError: number;
  readonly lower: number;
  readonly upper: number;
  /**
   * Two-sided p of H0: relative = 0: a z test on the delta-method standard
   * error for independent samples; on the difference scale for clusters (see
   * clusteredRelativeDifference).
   */
  readonly pValue: number;
}

/**
 * Relative difference of two independent estimates m_t and m_c with variances
 * v_t and v_c. The delta method on g(m_t, m_c) = m_t/m_c, whose gradient is
 * (1/m_c, −m_t/m_c²), with zero covariance because the arms are independent:
 *   Var(m_t/m_c) ≈ v_t/m_c² + m_t²·v_c/m_c⁴.
 * "−1" shifts the estimate, not its variance. CI = r ± z_{0.975}·se.
 */
function relativeOf(mt: number, vt: number, mc: number, vc: number): Computed<RelativeDifference> {
  if (mc === 0) return unavailable('the control mean is 0, a relative difference is undefined');
  const variance = vt / (mc * mc) + (mt * mt * vc) / mc ** 4;
  if (!(variance > 0)) return unavailable('no variance in either arm');
  const standardError = Math.sqrt(variance);
  const relative = mt / mc - 1;
  const half = zQuantile() * standardError;
  return {
    ok: true,
    relative,
    standardError,
    lower: relative - half,
    upper: relative + half,
    pValue: zTwoSidedP(relative / standardError),
  };
}

/** Relative difference of means of two independent samples, each mean's variance being s²/n. */
export function relativeDifference(treatment: readonly number[], control: readonly number[]): Computed<RelativeDifference> {
  if (treatment.length < 2 || control.length < 2) {
    return unavailable(`samples of ${treatment.length} and ${control.length}, at least 2 each needed`);
  }
  return relativeOf(mean(treatment), sampleVariance(treatment) / treatment.length, mean(control), sampleVariance(control) / control.length);
}

/**
 * One independent unit (e.g. a session) holding n correlated observations
 * (its sends), summarised by the sums of the ratio's numerator and
 * denominator over them.
 */
export interface Cluster {
  readonly sumNumerator: number;
  readonly sumDenominator: number;
  readonly n: number;
}

export interface RatioEstimate {
  /** Σ numerators / Σ denominators over all clusters. */
  readonly ratio: number;
  /** Delta-method variance of the ratio. */
  readonly variance: number;
  readonly standardError: number;
  readonly lower: number;
  readonly upper: number;
  readonly clusters: number;
  /** Σ n: the observations behind the clusters. */
  readonly observations: number;
}

/**
 * Ratio-of-sums metric over clusters (Deng, Knoblich & Lu 2018, "Applying the
 * Delta Method in Metric Analytics"). Observations within a cluster are not
 * independent, so the variance treats clusters, not observations, as the
 * sample: with K clusters, X_i, Y_i the cluster sums, R = X̄/Ȳ,
 *   Var(R) ≈ (1/K)·(σ_X²/Ȳ² − 2·X̄·σ_XY/Ȳ³ + X̄²·σ_Y²/Ȳ⁴)
 *          = (1/K)·Var(X − R·Y)/Ȳ².
 * The second form is the same quantity (X − RY has mean 0 at R = X̄/Ȳ) and is
 * computed as Σ(X_i − R·Y_i)²/(K − 1): a sum of squares, so never negative
 * from rounding. CI = R ± z_{0.975}·√Var(R).
 */
export function clusteredRatio(clusters: readonly Cluster[]): Computed<RatioEstimate> {
  const k = clusters.length;
  if (k < 2) return unavailable(`${k} cluster${k === 1 ? '' : 's'}, at least 2 needed`);
  let sumX = 0;
  let sumY = 0;
  let observations = 0;
  for (const c of clusters) {
    sumX += c.sumNumerator;
    sumY += c.sumDenominator;
    observations += c.n;
  }
  if (sumY === 0) return unavailable('the denominator sums to 0');
  const ratio = sumX / sumY;
  const meanY = sumY / k;
  let ss = 0;
  for (const c of clusters) ss += (c.sumNumerator - ratio * c.sumDenominator) ** 2;
  const variance = ss / (k - 1) / (k * meanY * meanY);
  const standardError = Math.sqrt(variance);
  const half = zQuantile() * standardError;
  return { ok: true, ratio, variance, standardError, lower: ratio - half, upper: ratio + half, clusters: k, observations };
}

/** Relative difference of two arms' clustered ratio metrics: the arms are independent, so their delta-method variances combine as in relativeOf. */
/**
 * The relative difference of two arms' clustered ratios, with the delta
 * method's CI; its p-value comes from the difference scale instead:
 *   t = (R_t − R_c)/√(Var R_t + Var R_c),
 *   df = (v_t + v_c)² / (v_t²/(K_t−1) + v_c²/(K_c−1))  (Welch–Satterthwaite over clusters).
 * The z test on the relative scale is not symmetric in the arms: its standard
 * error is taken at the observed means, so when the control drew the slow
 * sessions (durations are right-skewed) its own variance term shrinks and
 * A/A experiments come out "treatment is faster" far more than 5% of the time.
 * Zero difference on either scale is the same hypothesis, so the CI and the
 * p-value still speak of one thing.
 */
export function clusteredRelativeDifference(treatment: readonly Cluster[], control: readonly Cluster[]): Computed<RelativeDifference> {
  const t = clusteredRatio(treatment);
  if (!t.ok) return unavailable(`treatment: ${t.reason}`);
  const c = clusteredRatio(control);
  if (!c.ok) return unavailable(`control: ${c.reason}`);
  const relative = relativeOf(t.ratio, t.variance, c.ratio, c.variance);
  if (!relative.ok) return relative;
  const se2 = t.variance + c.variance;
  const df = (se2 * se2) / ((t.variance * t.variance) / (t.clusters - 1) + (c.variance * c.variance) / (c.clusters - 1));
  return { ok: true, ...withDegreesOfFreedom(relative, df), pValue: tTwoSidedP((t.ratio - c.ratio) / Math.sqrt(se2), df) };
}

/**
 * The delta method's interval with the t quantile at `df` instead of z: with
 * few units the normal interval is too narrow, and would exclude 0 where the
 * t test beside it does not reject (2 sessions per arm: a CI of -22% to -6%
 * next to p = 0.21). With the same df both say the same thing.
 */
export function withDegreesOfFreedom(d: RelativeDifference, df: number): RelativeDifference {
  const half = tQuantile(df) * d.standardError;
  return { ...d, lower: d.relative - half, upper: d.relative + half };
}

export interface SampleRatioCheck {
  readonly chiSquared: number;
  readonly df: number;
  readonly pValue: number;
  /** p < SRM_ALPHA: the observed split is very unlikely under the configured weights. */
  readonly flagged: boolean;
}

/**
 * Sample-ratio mismatch: Pearson's chi-squared goodness of fit of the units
 * each arm got against the shares its weight promises. Coverage plays no part:
 * it decides which units enter the experiment, the weights split those among
 * the arms, so expected_i = N·w_i/Σw.
 *   χ² = Σ (o_i − e_i)²/e_i,   df = arms − 1,   p = 1 − F_χ²(χ²; df).
 * 1 − cdf loses relative precision for p below ~1e-15, far below SRM_ALPHA.
 */
export function sampleRatioMismatch(observed: readonly number[], weights: readonly number[]): Computed<SampleRatioCheck> {
  if (observed.length !== weights.length) return unavailable(`${observed.length} counts for ${weights.length} weights`);
  if (observed.length < 2) return unavailable('fewer than 2 arms');
  if (weights.some((w) => !(w > 0))) return unavailable('every weight must be positive');
  const total = observed.reduce((s, o) => s + o, 0);
  if (total === 0) return unavailable('no units yet');
  const weightSum = weights.reduce((s, w) => s + w, 0);
  let chiSquared = 0;
  observed.forEach((o, i) => {
    const e = (total * weights[i]!) / weightSum;
    chiSquared += (o - e) ** 2 / e;
  });
  const df = observed.length - 1;
  const pValue = Math.max(0, 1 - jStat.chisquare.cdf(chiSquared, df));
  return { ok: true, chiSquared, df, pValue, flagged: pValue < SRM_ALPHA };
}
