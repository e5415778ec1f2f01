/**
 * `storycast experiment results --chart FILE.svg`: each arm's distribution of
 * time per 1,000 recipients, one standalone SVG string. Per arm: every analysed
 * unit (a finished send, or a session) as a dot, jittered up and down by its
 * index so equal values stay visible; a box of its quartiles and median; and
 * the mean with its 95% CI and the comparison with the control. Pure and
 * deterministic, like the lab's chart (src/bench/chart.ts), whose text and
 * scale helpers it reuses.
 */
import {
  type ArmComparison,
  type ArmResult,
  type Estimate,
  ExperimentUnit,
  type GetExperimentResultsResponse,
} from '../gen/storycast/v1/experiment_service_pb.js';
import { clippedText, escapeXml, grouped, n1, niceStep, text, textWidth } from '../bench/svg.js';

/** What "not computable" (NaN from the API) reads as, in the table and in the chart. */
export const NOT_COMPUTABLE = '–';

/** Milliseconds per 1,000 recipients, whole, grouped: "12,345". */
export function formatMs(ms: number): string {
  return Number.isFinite(ms) ? grouped(Math.round(ms)) : NOT_COMPUTABLE;
}

/** "12,345 [11,002, 13,688]"; "[–]" when only the mean is known. */
export function formatEstimate(e: Estimate | undefined, format: (v: number) => string): string {
  if (!e || !Number.isFinite(e.mean)) return NOT_COMPUTABLE;
  const interval = Number.isFinite(e.ciLow) && Number.isFinite(e.ciHigh) ? `${format(e.ciLow)}, ${format(e.ciHigh)}` : NOT_COMPUTABLE;
  return `${format(e.mean)} [${interval}]`;
}

/** A share 0..1 as a percentage to one decimal at most: "50%", "12.5%". */
export const share = (v: number): string => (Number.isFinite(v) ? `${Math.round(v * 1000) / 10}%` : NOT_COMPUTABLE);
export const signedShare = (v: number): string => (Number.isFinite(v) ? `${v > 0 ? '+' : ''}${share(v)}` : NOT_COMPUTABLE);
export const pValue = (p: number): string => (!Number.isFinite(p) ? NOT_COMPUTABLE : p < 0.001 ? '<0.001' : p.toFixed(3));

// The lab chart's font stack and Okabe–Ito colours: orange marks the control, blue the others.
const FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, 'DejaVu Sans', sans-serif";
const CONTROL_INK = '#D55E00';
const CONTROL_BAND = '#fdf0e6';
const ARM_INK = '#0072B2';
const MUTED = '#555';
const GRID = '#e6e6e6';

const WIDTH = 900;
const MARGIN = 24;
const LABEL_W = 200;
const VALUE_W = 236;
const ROW_H = 72;
/** Half the height of an arm's box; its dots spread over the same band. */
const BOX_HALF = 12;
/** Where, below the row's centre, the mean and its interval sit, under the box. */
const MEAN_DY = 22;
/** Where, above the row's centre, the box and dots sit. */
const BOX_DY = -6;

/** Words onto lines no wider than `width`, so a long verdict stays inside the picture. */
function wrap(content: string, px: number, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of content.split(/\s+/).filter(Boolean)) {
    const next = line === '' ? word : `${line} ${word}`;
    if (line !== '' && textWidth(next, px) > width) {
      lines.push(line);
      line = word;
    } else {
      line = next;
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}

const finite = (values: readonly number[]): number[] => values.filter(Number.isFinite);

/** The p-quantile of sorted values, interpolating between neighbours (R's type 7, numpy's default). */
function quantile(sorted: readonly number[], p: number): number {
  const h = (sorted.length - 1) * p;
  const below = Math.floor(h);
  const low = sorted[below]!;
  return low + (h - below) * ((sorted[Math.min(below + 1, sorted.length - 1)] ?? low) - low);
}

/** Quartiles, and Tukey's whiskers: the furthest values within 1.5 interquartile ranges of the box. */
function boxStats(values: readonly number[]): { q1: number; median: number; q3: number; low: number; high: number } | undefined {
  const sorted = finite(values).sort((a, b) => a - b);
  if (sorted.length === 0) return undefined;
  const [q1, median, q3] = [quantile(sorted, 0.25), quantile(sorted, 0.5), quantile(sorted, 0.75)];
  const reach = 1.5 * (q3 - q1);
  const low = sorted.find((v) => v >= q1 - reach) ?? q1;
  const high = sorted.findLast((v) => v <= q3 + reach) ?? q3;
  return { q1, median, q3, low, high };
}

/**
 * A dot's vertical offset, -1..1, from its index alone: the golden-ratio sequence spreads
 * any number of dots evenly over the band, and the same results always draw the same picture.
 */
const jitter = (i: number): number => (((i * 0.6180339887498949) % 1) * 2 - 1) * 0.92;

/** The x domain snapped to 1-2-5 ticks, a little wider than every unit value, mean and interval end. */
function scale(arms: readonly ArmResult[]): { lo: number; hi: number; ticks: number[] } | undefined {
  const values = finite(
    arms.flatMap((a) => [
      ...a.unitMsPerThousand,
      a.msPerThousand?.mean ?? NaN,
      a.msPerThousand?.ciLow ?? NaN,
      a.msPerThousand?.ciHigh ?? NaN,
    ]),
  );
  if (values.length === 0) return undefined;
  let lo = values.reduce((m, v) => Math.min(m, v), Infinity);
  let hi = values.reduce((m, v) => Math.max(m, v), -Infinity);
  // One value (or all equal): give it room instead of a zero-width axis.
  const pad = hi > lo ? (hi - lo) * 0.05 : Math.max(1, Math.abs(lo) * 0.1);
  lo -= pad;
  hi += pad;
  const step = niceStep(hi - lo, 6);
  lo = Math.floor(lo / step) * step;
  hi = Math.ceil(hi / step) * step;
  const ticks: number[] = [];
  for (let t = lo; t <= hi + step / 2; t += step) ticks.push(Number(t.toPrecision(12)));
  return { lo, hi, ticks };
}

export function distributionSvg(results: GetExperimentResultsResponse): string {
  const key = results.experiment?.key ?? '';
  const title = `Experiment "${key}": time per 1,000 recipients by arm`;
  const verdictLines = wrap(`Verdict: ${results.verdict || NOT_COMPUTABLE}`, 13, WIDTH - 2 * MARGIN);
  const unit = results.experiment?.unit === ExperimentUnit.SEND ? 'finished send' : 'session (its total time per 1,000 of its recipients)';
  const legendLines = wrap(
    `Each dot: one ${unit}, spread up and down only so that dots do not hide each other. ` +
      'Box: the middle half of the values, the line in it the median, whiskers to the furthest values within 1.5 box lengths. ' +
      'Square and bar below it: the mean and its 95% CI.',
    11,
    WIDTH - 2 * MARGIN,
  );
  const headerBottom = 58 + verdictLines.length * 18;
  const plot = { left: MARGIN + LABEL_W, right: WIDTH - MARGIN - VALUE_W, top: headerBottom + 34 };
  const rows = results.arms;
  const plotBottom = plot.top + Math.max(1, rows.length) * ROW_H;
  const height = plotBottom + 62 + legendLines.length * 15;
  const domain = scale(rows);
  const sx = (v: number): number =>
    domain ? plot.left + ((v - domain.lo) / (domain.hi - domain.lo)) * (plot.right - plot.left) : plot.left;

  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${n1(height)}" viewBox="0 0 ${WIDTH} ${n1(height)}" ` +
      `font-family="${escapeXml(FONT)}" font-size="12" fill="#111" role="img" aria-label="${escapeXml(title)}">`,
    `<title>${escapeXml(`${title}. ${results.verdict}`)}</title>`,
    `<rect x="0" y="0" width="${WIDTH}" height="${n1(height)}" fill="#fff"/>`,
    clippedText(MARGIN, 34, title, 20, WIDTH - 2 * MARGIN, 'font-size="20" font-weight="700"'),
    ...verdictLines.map((line, i) => text(MARGIN, 60 + i * 18, line, `font-size="13" fill="${MUTED}"`)),
    // Column headers: what each side of the plot is.
    text(MARGIN, plot.top - 12, 'arm (strategy)', `font-size="11" font-weight="700" fill="${MUTED}"`),
    text(plot.right + 14, plot.top - 12, 'mean [95% CI]; vs control; median', `font-size="11" font-weight="700" fill="${MUTED}"`),
  ];

  // Behind everything: the control's band, the grid, and the control's mean as the reference line.
  const controlRow = rows.findIndex((a) => a.control);
  if (controlRow >= 0) {
    const y = plot.top + controlRow * ROW_H;
    out.push(
      `<rect class="control-band" x="${MARGIN - 8}" y="${n1(y + 2)}" width="${WIDTH - 2 * MARGIN + 16}" height="${ROW_H - 4}" rx="4" fill="${CONTROL_BAND}"/>`,
    );
  }
  if (domain) {
    out.push('<g font-size="11">');
    for (const t of domain.ticks) {
      const x = sx(t);
      const label = domain.hi - domain.lo >= 10 ? grouped(Math.round(t)) : String(Number(t.toPrecision(3)));
      out.push(
        `<line x1="${n1(x)}" y1="${n1(plot.top)}" x2="${n1(x)}" y2="${n1(plotBottom)}" stroke="${GRID}"/>`,
        text(x, plotBottom + 18, label, `text-anchor="middle" fill="${MUTED}"`),
      );
    }
    out.push('</g>');
    const control = rows[controlRow]?.msPerThousand?.mean ?? NaN;
    if (Number.isFinite(control)) {
      // The reference every other arm is compared with, as in the comparisons' relative differences.
      const x = sx(control);
      out.push(
        `<line class="control-mean" x1="${n1(x)}" y1="${n1(plot.top - 4)}" x2="${n1(x)}" y2="${n1(plotBottom)}" stroke="${CONTROL_INK}" stroke-width="1.5" stroke-dasharray="5 4"/>`,
        text(x, plot.top - 8, 'control mean', `text-anchor="middle" font-size="10" fill="${CONTROL_INK}"`),
      );
    }
  }

  rows.forEach((arm, i) => {
    const cy = plot.top + i * ROW_H + ROW_H / 2;
    const vs = results.comparisons.find((c) => c.arm === arm.arm);
    out.push(`<g class="arm" data-arm="${escapeXml(arm.arm)}">`, ...armRow(arm, vs, cy, plot, domain ? sx : undefined), '</g>');
  });
  if (!domain) out.push(text(plot.left + 8, plotBottom + 18, 'no finished sends yet: nothing to draw', `font-size="11" fill="${MUTED}"`));

  out.push(
    `<line x1="${n1(plot.left)}" y1="${n1(plotBottom)}" x2="${n1(plot.right)}" y2="${n1(plotBottom)}" stroke="#bbb"/>`,
    text(
      (plot.left + plot.right) / 2,
      plotBottom + 38,
      'ms per 1,000 recipients (lower is faster)',
      `text-anchor="middle" fill="${MUTED}"`,
    ),
    ...legendLines.map((line, i) => text(MARGIN, plotBottom + 64 + i * 15, line, `font-size="11" fill="${MUTED}"`)),
    '</svg>',
  );
  return `${out.join('\n')}\n`;
}

/** One arm: its labels on the left, its numbers on the right, and its values, box, mean and interval on the x scale. */
function armRow(
  arm: ArmResult,
  vs: ArmComparison | undefined,
  cy: number,
  plot: { readonly left: number; readonly right: number },
  sx: ((v: number) => number) | undefined,
): string[] {
  // "control (control)" says nothing twice.
  const name = arm.control && arm.arm !== 'control' ? `${arm.arm} (control)` : arm.arm;
  const units = `${grouped(arm.units)} unit${arm.units === 1 ? '' : 's'}, ${grouped(arm.sends)} send${arm.sends === 1 ? '' : 's'}`;
  const values = finite(arm.unitMsPerThousand);
  const box = boxStats(values);
  const e = arm.msPerThousand;
  const [mean, low, high] = [e?.mean ?? NaN, e?.ciLow ?? NaN, e?.ciHigh ?? NaN];
  const right = plot.right + 14;
  const parts = [
    // The whole row's numbers as its tooltip.
    `<title>${escapeXml(
      `${name}: ${values.length} value${values.length === 1 ? '' : 's'}` +
        (box ? `; median ${formatMs(box.median)}, quartiles ${formatMs(box.q1)} to ${formatMs(box.q3)}` : '') +
        `; mean [95% CI] ${formatEstimate(e, formatMs)} ms per 1,000 recipients`,
    )}</title>`,
    clippedText(MARGIN, cy - 10, name, 13, LABEL_W - 10, `font-size="13" font-weight="${arm.control ? 700 : 600}"`),
    clippedText(MARGIN, cy + 6, arm.strategy, 11, LABEL_W - 10, `font-size="11" fill="${MUTED}"`),
    clippedText(MARGIN, cy + 21, units, 11, LABEL_W - 10, `font-size="11" fill="${MUTED}"`),
    text(right, cy - 10, formatEstimate(e, formatMs), 'font-size="12"'),
  ];
  // The comparison the verdict rests on, next to the interval it summarises; the control is what the others are compared with.
  let detail = arm.control ? 'the reference' : `vs control: ${NOT_COMPUTABLE}`;
  if (vs && Number.isFinite(vs.relativeDifference)) {
    const ci = Number.isFinite(vs.ciLow) && Number.isFinite(vs.ciHigh) ? ` [${signedShare(vs.ciLow)}, ${signedShare(vs.ciHigh)}]` : '';
    detail = `${signedShare(vs.relativeDifference)}${ci}, p ${pValue(vs.pValue)}`;
  }
  parts.push(clippedText(right, cy + 6, detail, 11, VALUE_W - 14, `font-size="11" fill="${MUTED}"`));
  if (box) {
    parts.push(
      clippedText(
        right,
        cy + 21,
        `median ${formatMs(box.median)} (${formatMs(box.q1)}–${formatMs(box.q3)})`,
        11,
        VALUE_W - 14,
        `font-size="11" fill="${MUTED}"`,
      ),
    );
  }
  if (!sx || (values.length === 0 && !Number.isFinite(mean))) {
    parts.push(text(plot.left + 8, cy + 4, 'no finished sends yet', `font-size="11" font-style="italic" fill="${MUTED}"`));
    return parts;
  }
  const ink = arm.control ? CONTROL_INK : ARM_INK;
  const yb = cy + BOX_DY;
  if (box) {
    // Under the dots: the whiskers, then the box with its median.
    const [x1, xm, x3] = [sx(box.q1), sx(box.median), sx(box.q3)];
    parts.push(
      `<path class="whisker" d="M${n1(sx(box.low))} ${n1(yb)}H${n1(x1)}M${n1(x3)} ${n1(yb)}H${n1(sx(box.high))}` +
        `M${n1(sx(box.low))} ${n1(yb - 5)}v10M${n1(sx(box.high))} ${n1(yb - 5)}v10" stroke="${ink}" stroke-width="1.2" fill="none"/>`,
      `<rect class="box" x="${n1(x1)}" y="${n1(yb - BOX_HALF)}" width="${n1(Math.max(x3 - x1, 0.5))}" height="${2 * BOX_HALF}" ` +
        `fill="${ink}" fill-opacity="0.12" stroke="${ink}" stroke-width="1.2"/>`,
      `<line class="median" x1="${n1(xm)}" y1="${n1(yb - BOX_HALF)}" x2="${n1(xm)}" y2="${n1(yb + BOX_HALF)}" stroke="${ink}" stroke-width="2.5"/>`,
    );
  }
  parts.push(`<g class="units" fill="${ink}" fill-opacity="0.5">`);
  values.forEach((v, i) => {
    parts.push(`<circle class="unit" cx="${n1(sx(v))}" cy="${n1(yb + jitter(i) * BOX_HALF)}" r="2.6"/>`);
  });
  parts.push('</g>');
  if (!Number.isFinite(mean)) return parts;
  const ym = cy + MEAN_DY;
  if (Number.isFinite(low) && Number.isFinite(high)) {
    const [x1, x2] = [sx(low), sx(high)];
    parts.push(
      `<line class="ci" x1="${n1(x1)}" y1="${n1(ym)}" x2="${n1(x2)}" y2="${n1(ym)}" stroke="${ink}" stroke-width="2.5"/>`,
      `<path d="M${n1(x1)} ${n1(ym - 5)}v10M${n1(x2)} ${n1(ym - 5)}v10" stroke="${ink}" stroke-width="2"/>`,
    );
  }
  const s = arm.control ? 5.5 : 5;
  parts.push(
    `<rect class="mean" x="${n1(sx(mean) - s)}" y="${n1(ym - s)}" width="${2 * s}" height="${2 * s}" fill="${ink}" stroke="#fff" stroke-width="1.5"/>`,
  );
  return parts;
}
