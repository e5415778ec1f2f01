/**
 * The benchmark's chart as one standalone SVG string, for the README and for
 * people who look rather than read the table. Pure and deterministic: no
 * clock, no randomness, no locale-dependent formatting, so the same input
 * always gives the same bytes (the README diff stays quiet).
 *
 * Top view: batch size over time on one profile, one step line per strategy
 * with the oracle as a thick grey dashed reference. Bottom view: completion
 * time / oracle as a heat map, profiles x strategies.
 */
import { clippedText, escapeXml, formatRatio, formatSeconds, grouped, logTicks, n1, niceStep, sizeLabel, text, textWidth } from './svg.js';

interface TracePoint {
  tMs: number;
  size: number;
  ok: boolean;
  durationMs?: number;
  /** The error's code when the call failed. */
  error?: string;
  /** The next size the strategy asked for, and why. */
  next?: number;
  reason?: string;
}
export interface SizeTrace {
  strategy: string;
  /** One per transport call after the anchor, in time order; tMs from the send's start. */
  points: TracePoint[];
  /** When the send completed. */
  finishedMs: number;
  /** The anchor's round trip. */
  anchorMs?: number;
}
export interface RatioCell {
  strategy: string;
  profile: string;
  geomean: number;
  p95: number;
}
export interface ChartInput {
  title: string;
  /** The profile the traces are from. */
  profile: string;
  recipients: number;
  /** Includes the oracle's trace (strategy === 'oracle'). */
  traces: SizeTrace[];
  /** Every strategy x profile; oracle cells are ignored (always 1). */
  ratios: RatioCell[];
}

const ORACLE = 'oracle';
// System UI fonts first; DejaVu is what headless Linux renderers have.
const FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, 'DejaVu Sans', sans-serif";
// Okabe–Ito, reordered so the two hardest on white (yellow) and the one closest
// to the failure marks' red (vermillion) come last.
const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#000000', '#D55E00', '#B8A000'];
const ORACLE_INK = '#9a9a9a';
const FAIL_INK = '#d40000';
const MUTED = '#555';
const GRID = '#e6e6e6';

/** Heat-map bins, good to bad; light to dark so they also read in greyscale. */
const BINS = [
  { max: 1.05, fill: '#c7e9c0', ink: '#111', label: '≤ 1.05' },
  { max: 1.15, fill: '#fff3b0', ink: '#111', label: '1.05 – 1.15' },
  { max: 1.35, fill: '#fdae61', ink: '#111', label: '1.15 – 1.35' },
  { max: Infinity, fill: '#d73027', ink: '#fff', label: '> 1.35' },
] as const;
const NA = { fill: '#eeeeee', ink: '#777', label: '— no result' };

function binOf(v: number): { fill: string; ink: string } {
  if (!Number.isFinite(v)) return NA;
  return BINS.find((b) => v <= b.max) ?? BINS[BINS.length - 1]!;
}

interface Line {
  name: string;
  color: string;
  dash: string;
  oracle: boolean;
  points: { tMs: number; size: number; ok: boolean }[];
  endMs: number;
  failures: number;
}

function uniq(values: string[]): string[] {
  return [...new Set(values)];
}

export function renderChart(input: ChartInput): string {
  const strategies = uniq([...input.traces.map((t) => t.strategy), ...input.ratios.map((r) => r.strategy)]).filter((s) => s !== ORACLE);
  const colorOf = (s: string): string => PALETTE[strategies.indexOf(s) % PALETTE.length] ?? PALETTE[0]!;
  // Past eight strategies the colours repeat, so the line pattern tells them apart.
  const dashOf = (s: string): string => (strategies.indexOf(s) >= PALETTE.length ? '7 3' : '');

  const lines: Line[] = input.traces.map((t) => {
    const points = t.points
      .filter((p) => Number.isFinite(p.tMs) && Number.isFinite(p.size))
      .map((p) => ({ tMs: Math.max(0, p.tMs), size: Math.max(p.size, 1), ok: p.ok }))
      .sort((a, b) => a.tMs - b.tMs);
    const lastT = points.length > 0 ? points[points.length - 1]!.tMs : 0;
    const oracle = t.strategy === ORACLE;
    return {
      name: t.strategy,
      color: oracle ? ORACLE_INK : colorOf(t.strategy),
      dash: oracle ? '12 6' : dashOf(t.strategy),
      oracle,
      points,
      endMs: Number.isFinite(t.finishedMs) ? Math.max(t.finishedMs, lastT) : lastT,
      failures: points.filter((p) => !p.ok).length,
    };
  });
  const oracleLine = lines.find((l) => l.oracle);
  // The legend doubles as the finishing order: the reference first, then fastest to slowest.
  const rank = (l: Line): number => (l.oracle ? 0 : l.points.length > 0 ? 1 : 2);
  const legend = [...lines].sort((a, b) => rank(a) - rank(b) || a.endMs - b.endMs || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  const profiles = uniq(input.ratios.filter((r) => r.strategy !== ORACLE).map((r) => r.profile));
  const columns = strategies.filter((s) => input.ratios.some((r) => r.strategy === s));
  const cellOf = new Map(input.ratios.map((r) => [`${r.strategy}\u0000${r.profile}`, r] as const));

  // ---- layout: every width that depends on names is estimated from their length.
  const margin = 28;
  const rowLabelW = Math.min(260, Math.max(90, Math.max(0, ...profiles.map((p) => textWidth(p, 12))) + 16));
  const cellW = Math.min(150, Math.max(88, Math.max(0, ...columns.map((s) => textWidth(s, 12))) + 16));
  const cellH = 42;
  const width = Math.max(980, Math.ceil(margin * 2 + rowLabelW + columns.length * cellW));

  const legendW = 280;
  const legendRowH = 36;
  const plot = { left: margin + 62, top: 118, right: width - margin - legendW - 16, height: 0, bottom: 0 };
  plot.height = Math.max(300, (legend.length + 2) * legendRowH);
  plot.bottom = plot.top + plot.height;
  const plotW = plot.right - plot.left;

  const heatTitleY = plot.bottom + 96;
  const heatTop = heatTitleY + 58;
  const heatLeft = margin + rowLabelW;
  const heatBottom = heatTop + Math.max(1, profiles.length) * cellH;
  const keyY = heatBottom + 30;
  const height = keyY + 40;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
      `font-family="${escapeXml(FONT)}" font-size="12" fill="#111" role="img" aria-label="${escapeXml(input.title)}">`,
    `<title>${escapeXml(input.title)}</title>`,
    // An opaque background: the README may be shown in dark mode.
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#fff"/>`,
    clippedText(margin, 36, input.title, 20, width - 2 * margin, 'font-size="20" font-weight="700"'),
    clippedText(
      margin,
      60,
      `${input.title.includes(grouped(input.recipients)) ? '' : `${grouped(input.recipients)} recipients · `}traces from profile “${input.profile}” · heat map over ${profiles.length} profile${profiles.length === 1 ? '' : 's'}`,
      13,
      width - 2 * margin,
      `font-size="13" fill="${MUTED}"`,
    ),
  );

  // ---- view 1: batch size over time.
  out.push(
    clippedText(
      margin,
      98,
      `Batch size over time — profile “${input.profile}”`,
      15,
      plot.right - margin,
      'font-size="15" font-weight="700"',
    ),
  );
  const allPts = lines.flatMap((l) => l.points);
  const sizes = allPts.map((p) => p.size);
  const y = logTicks(sizes.length > 0 ? Math.min(...sizes) : 1, sizes.length > 0 ? Math.max(...sizes) : 10);
  const maxMs = Math.max(1000, ...lines.map((l) => l.endMs));
  const xStep = niceStep(maxMs, Math.max(2, Math.floor(plotW / 90)));
  const xMax = Math.ceil(maxMs / xStep - 1e-9) * xStep;
  const sx = (ms: number): number => plot.left + (ms / xMax) * plotW;
  // Inset so marks at the extremes are not cut by the frame.
  const sy = (v: number): number => plot.bottom - 8 - (Math.log10(v / y.lo) / Math.log10(y.hi / y.lo)) * (plot.height - 16);

  out.push('<g font-size="11">');
  for (const t of y.ticks) {
    out.push(
      `<line x1="${n1(plot.left)}" y1="${n1(sy(t))}" x2="${n1(plot.right)}" y2="${n1(sy(t))}" stroke="${GRID}"/>`,
      text(plot.left - 8, sy(t) + 4, sizeLabel(t), `text-anchor="end" fill="${MUTED}"`),
    );
  }
  for (let i = 0; i * xStep <= xMax + 1e-9; i++) {
    const ms = i * xStep;
    const secs = ms / 1000;
    const label = Number(secs.toFixed(xStep >= 1000 ? 0 : 3)).toString();
    out.push(
      `<line x1="${n1(sx(ms))}" y1="${n1(plot.top)}" x2="${n1(sx(ms))}" y2="${n1(plot.bottom)}" stroke="${GRID}"/>`,
      text(sx(ms), plot.bottom + 18, label, `text-anchor="middle" fill="${MUTED}"`),
    );
  }
  out.push('</g>');
  out.push(
    `<rect x="${n1(plot.left)}" y="${n1(plot.top)}" width="${n1(plotW)}" height="${n1(plot.height)}" fill="none" stroke="#bbb"/>`,
    text(plot.left + plotW / 2, plot.bottom + 42, 'time since the send started (s)', `text-anchor="middle" fill="${MUTED}"`),
    text(
      0,
      0,
      'batch size (log scale)',
      `text-anchor="middle" fill="${MUTED}" transform="translate(${n1(margin + 4)} ${n1(plot.top + plot.height / 2)}) rotate(-90)"`,
    ),
  );

  if (oracleLine && oracleLine.points.length > 0) {
    const ox = sx(oracleLine.endMs);
    out.push(
      `<line x1="${n1(ox)}" y1="${n1(plot.top)}" x2="${n1(ox)}" y2="${n1(plot.bottom)}" stroke="${ORACLE_INK}" stroke-dasharray="2 3"/>`,
      text(
        Math.min(Math.max(ox, plot.left + 50), plot.right - 50),
        plot.top - 5,
        `oracle done ${formatSeconds(oracleLine.endMs)}`,
        `text-anchor="middle" font-size="10" fill="${MUTED}"`,
      ),
    );
  }
  // Oracle first so every strategy is drawn over the reference, not under it.
  const drawOrder = [...lines.filter((l) => l.oracle), ...lines.filter((l) => !l.oracle)];
  // Strategies often sit on the same level; a 2 px stagger shows them side by side
  // (like a transit map) instead of one hiding the other. Negligible on a log axis.
  const drawn = drawOrder.filter((l) => !l.oracle && l.points.length > 0);
  const yOf = (l: Line, v: number): number => sy(v) + (l.oracle ? 0 : (drawn.indexOf(l) - (drawn.length - 1) / 2) * 2);
  for (const l of drawOrder) {
    if (l.points.length === 0) continue;
    const [first, ...rest] = l.points;
    let d = `M${n1(sx(first!.tMs))} ${n1(yOf(l, first!.size))}`;
    for (const p of rest) d += `H${n1(sx(p.tMs))}V${n1(yOf(l, p.size))}`;
    d += `H${n1(sx(l.endMs))}`;
    const stroke = l.oracle
      ? `stroke="${l.color}" stroke-width="5" stroke-opacity="0.75" stroke-dasharray="${l.dash}"`
      : `stroke="${l.color}" stroke-width="2"${l.dash ? ` stroke-dasharray="${l.dash}"` : ''}`;
    out.push(`<path class="trace" data-strategy="${escapeXml(l.name)}" d="${d}" fill="none" ${stroke} stroke-linejoin="round"/>`);
  }
  for (const l of drawOrder) {
    const last = l.points[l.points.length - 1];
    if (!last) continue;
    out.push(
      `<circle class="finish" data-strategy="${escapeXml(l.name)}" cx="${n1(sx(l.endMs))}" cy="${n1(yOf(l, last.size))}" r="${l.oracle ? 6 : 5}" fill="${l.color}" stroke="#fff" stroke-width="1.5"/>`,
    );
  }
  // Crosses last: a failure must never hide under a finish marker.
  for (const l of drawOrder) {
    for (const p of l.points.filter((q) => !q.ok)) {
      const cx = sx(p.tMs);
      const cy = yOf(l, p.size);
      const dx = `M${n1(cx - 4.5)} ${n1(cy - 4.5)}L${n1(cx + 4.5)} ${n1(cy + 4.5)}M${n1(cx - 4.5)} ${n1(cy + 4.5)}L${n1(cx + 4.5)} ${n1(cy - 4.5)}`;
      // A white halo keeps the cross visible where it sits on a line.
      out.push(
        `<path class="fail" data-strategy="${escapeXml(l.name)}" d="${dx}" stroke="#fff" stroke-width="5"/><path d="${dx}" stroke="${FAIL_INK}" stroke-width="2.2"/>`,
      );
    }
  }

  // Legend: swatch, name, then completion time, x oracle, failures.
  const lx = plot.right + 20;
  out.push(text(lx, plot.top + 4, 'finished (first to last)', `font-size="11" fill="${MUTED}"`));
  legend.forEach((l, i) => {
    const ly = plot.top + 22 + i * legendRowH;
    const swatch = l.oracle
      ? `stroke="${l.color}" stroke-width="5" stroke-opacity="0.75" stroke-dasharray="8 4"`
      : `stroke="${l.color}" stroke-width="2.5"${l.dash ? ` stroke-dasharray="${l.dash}"` : ''}`;
    const vsOracle = !l.oracle && oracleLine && oracleLine.endMs > 0 ? ` · ${formatRatio(l.endMs / oracleLine.endMs)}× oracle` : '';
    const detail =
      l.points.length === 0
        ? `${formatSeconds(l.endMs)} · no calls`
        : `${formatSeconds(l.endMs)}${vsOracle}${l.oracle ? ' · the limit' : ` · ${l.failures} failed`}`;
    out.push(
      `<line x1="${n1(lx)}" y1="${n1(ly)}" x2="${n1(lx + 26)}" y2="${n1(ly)}" ${swatch}/>`,
      `<circle cx="${n1(lx + 26)}" cy="${n1(ly)}" r="4" fill="${l.color}" stroke="#fff" stroke-width="1.2"/>`,
      clippedText(lx + 36, ly + 4, l.name, 13, legendW - 40, `font-size="13" font-weight="${l.oracle ? 400 : 600}"`),
      clippedText(lx + 36, ly + 19, detail, 11, legendW - 40, `font-size="11" fill="${MUTED}"`),
    );
  });
  const ky = plot.top + 22 + legend.length * legendRowH + 6;
  out.push(
    `<path d="M${n1(lx + 9)} ${n1(ky - 4.5)}l9 9m-9 0l9 -9" stroke="${FAIL_INK}" stroke-width="2.2"/>`,
    text(lx + 36, ky + 4, 'failed call', `font-size="11" fill="${MUTED}"`),
    `<circle cx="${n1(lx + 13.5)}" cy="${n1(ky + 20)}" r="4.5" fill="#777" stroke="#fff" stroke-width="1.2"/>`,
    text(lx + 36, ky + 24, 'send finished', `font-size="11" fill="${MUTED}"`),
  );

  // ---- view 2: completion time / oracle.
  out.push(
    text(margin, heatTitleY, 'Completion time ÷ oracle, per profile', 'font-size="15" font-weight="700"'),
    text(
      margin,
      heatTitleY + 18,
      'geomean over runs (p95 below) · 1.00 = the physical limit · lower is better',
      `font-size="11" fill="${MUTED}"`,
    ),
  );
  columns.forEach((s, c) => {
    const x = heatLeft + c * cellW;
    out.push(
      `<rect x="${n1(x + 6)}" y="${n1(heatTop - 30)}" width="${n1(cellW - 12)}" height="4" rx="2" fill="${colorOf(s)}"/>`,
      clippedText(x + cellW / 2, heatTop - 9, s, 12, cellW - 8, 'text-anchor="middle" font-weight="600"'),
    );
  });
  if (profiles.length === 0 || columns.length === 0) {
    out.push(text(heatLeft, heatTop + 26, 'no results', `fill="${MUTED}"`));
  }
  profiles.forEach((p, r) => {
    const ry = heatTop + r * cellH;
    out.push(clippedText(heatLeft - 10, ry + cellH / 2 + 4, p, 12, rowLabelW - 14, 'text-anchor="end"'));
    const row = columns.map((s) => cellOf.get(`${s}\u0000${p}`));
    const finite = row.map((c) => (c && Number.isFinite(c.geomean) ? c.geomean : Infinity));
    const best = Math.min(...finite);
    columns.forEach((s, c) => {
      const cell = row[c];
      const g = cell?.geomean ?? NaN;
      const bin = binOf(g);
      const x = heatLeft + c * cellW;
      const isBest = Number.isFinite(best) && finite[c] === best;
      out.push(
        `<g class="cell" data-strategy="${escapeXml(s)}" data-profile="${escapeXml(p)}">`,
        `<rect x="${n1(x + 1)}" y="${n1(ry + 1)}" width="${n1(cellW - 2)}" height="${n1(cellH - 2)}" rx="3" fill="${bin.fill}"${isBest ? ' stroke="#111" stroke-width="2"' : ''}/>`,
        text(x + cellW / 2, ry + 20, formatRatio(g), `text-anchor="middle" font-size="15" font-weight="700" fill="${bin.ink}"`),
        text(x + cellW / 2, ry + 34, `p95 ${formatRatio(cell?.p95 ?? NaN)}`, `text-anchor="middle" font-size="10" fill="${bin.ink}"`),
        '</g>',
      );
    });
  });

  // Colour key: the bins, "no result" and the best-in-row outline.
  let kx = margin;
  out.push(text(kx, keyY + 13, 'colour:', `font-size="11" fill="${MUTED}"`));
  kx += 50;
  for (const b of [...BINS, NA]) {
    out.push(
      `<rect x="${n1(kx)}" y="${n1(keyY)}" width="22" height="16" rx="2" fill="${b.fill}"/>`,
      text(kx + 28, keyY + 12.5, b.label, 'font-size="11"'),
    );
    kx += 28 + textWidth(b.label, 11) + 18;
  }
  out.push(
    `<rect x="${n1(kx)}" y="${n1(keyY)}" width="22" height="16" rx="2" fill="#fff" stroke="#111" stroke-width="2"/>`,
    text(kx + 28, keyY + 12.5, 'best in its profile', 'font-size="11"'),
    '</svg>',
  );
  return `${out.join('\n')}\n`;
}
