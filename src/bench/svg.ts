/**
 * Text, numbers and scales for the lab's SVG chart: XML-safe text that
 * measures and clips itself, coordinates kept short and stable, and 1-2-5 tick
 * steps. Pure; chart.ts draws with them.
 */

/** Width of a glyph relative to font size: generous, so estimates err towards space. */
const CHAR_EM = 0.62;

/** XML-escapes text, dropping what XML 1.0 cannot carry at all. */
export function escapeXml(value: string): string {
  return (
    value
      // Control characters other than tab, newline and carriage return, and the two non-characters.
      .replace(/\p{Cc}/gu, (c) => ('\t\n\r'.includes(c) ? c : ''))
      .replace(/[\uFFFE\uFFFF]/g, '')
      .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD')
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&apos;')
  );
}

/** A ratio as shown in the heat map; non-finite values are "—". */
export function formatRatio(value: number): string {
  if (!Number.isFinite(value)) return '—';
  const abs = Math.abs(value);
  return value.toFixed(abs >= 100 ? 0 : abs >= 10 ? 1 : 2);
}

export function formatSeconds(ms: number): string {
  if (!Number.isFinite(ms)) return '—';
  const s = ms / 1000;
  return `${s.toFixed(Math.abs(s) >= 100 ? 0 : 1)} s`;
}

export function grouped(n: number): string {
  if (!Number.isFinite(n)) return '—';
  const [int, frac] = Math.abs(n).toString().split('.');
  const body = int!.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${n < 0 ? '-' : ''}${body}${frac === undefined ? '' : `.${frac}`}`;
}

/** Coordinates to one decimal, never "-0": keeps output small and stable. */
export function n1(v: number): string {
  const r = Math.round(v * 10) / 10;
  return Object.is(r, -0) ? '0' : String(r);
}

function chars(s: string): number {
  return Array.from(s).length;
}
export function textWidth(s: string, px: number): number {
  return chars(s) * px * CHAR_EM;
}
/** Shortens to fit a width, by code point so surrogate pairs survive. */
function clip(s: string, px: number, width: number): string {
  const max = Math.max(2, Math.floor(width / (px * CHAR_EM)));
  const cps = Array.from(s);
  return cps.length <= max ? s : `${cps.slice(0, max - 1).join('')}…`;
}

export function text(x: number, y: number, content: string, attrs = ''): string {
  return `<text x="${n1(x)}" y="${n1(y)}"${attrs ? ` ${attrs}` : ''}>${escapeXml(content)}</text>`;
}
/** Text that may be clipped keeps its full value in a tooltip. */
export function clippedText(x: number, y: number, full: string, px: number, width: number, attrs = ''): string {
  const shown = clip(full, px, width);
  if (shown === full) return text(x, y, full, attrs);
  return `<g><title>${escapeXml(full)}</title>${text(x, y, shown, attrs)}</g>`;
}

/** A 1-2-5 step giving about `target` intervals over `span`. */
export function niceStep(span: number, target: number): number {
  const raw = span / Math.max(1, target);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

/** 1-2-5 ticks per decade while they fit, decades alone once they would crowd. */
export function logTicks(lo: number, hi: number): { lo: number; hi: number; ticks: number[] } {
  const all: number[] = [];
  for (let e = Math.floor(Math.log10(lo)) - 1; e <= Math.ceil(Math.log10(hi)) + 1; e++) {
    for (const m of [1, 2, 5]) all.push(m * 10 ** e);
  }
  const below = all.filter((t) => t <= lo * (1 + 1e-9));
  const above = all.filter((t) => t >= hi * (1 - 1e-9));
  let dLo = below[below.length - 1] ?? all[0]!;
  let dHi = above[0] ?? all[all.length - 1]!;
  if (dLo === dHi) {
    dLo = all[all.indexOf(dLo) - 1]!;
    dHi = all[all.indexOf(dHi) + 1]!;
  }
  const inside = all.filter((t) => t >= dLo * (1 - 1e-9) && t <= dHi * (1 + 1e-9));
  const decades = Math.log10(dHi / dLo);
  const ticks = decades > 4 ? inside.filter((t) => Number.isInteger(Math.log10(t) + 1e-9) || t === dLo || t === dHi) : inside;
  return { lo: dLo, hi: dHi, ticks: [...new Set(ticks.map((t) => Number(t.toPrecision(6))))] };
}

export function sizeLabel(v: number): string {
  return v >= 1 ? grouped(Math.round(v)) : String(Number(v.toPrecision(3)));
}
