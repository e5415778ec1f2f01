import { describe, expect, it } from 'vitest';
import { renderChart, type ChartInput, type RatioCell, type SizeTrace } from '../src/bench/chart.js';
import { escapeXml, formatRatio } from '../src/bench/svg.js';

/**
 * A small XML well-formedness check (node has no DOM): one root, every tag
 * closed in order, attributes quoted, no raw `<` or stray `&` in text or values.
 * Returns the element names seen, in order.
 */
function checkXml(xml: string): string[] {
  const names: string[] = [];
  const stack: string[] = [];
  const entity = /^&(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/;
  const checkText = (s: string, where: number): void => {
    for (let i = s.indexOf('&'); i !== -1; i = s.indexOf('&', i + 1)) {
      if (!entity.test(s.slice(i))) throw new Error(`bare & at ${where + i}`);
    }
  };
  const tag = /<(\/?)([A-Za-z_][\w.:-]*)((?:\s+[A-Za-z_][\w.:-]*="[^"<]*")*)\s*(\/?)>/y;
  let pos = xml.startsWith('<?xml') ? xml.indexOf('?>') + 2 : 0;
  let roots = 0;
  while (pos < xml.length) {
    const lt = xml.indexOf('<', pos);
    const chunk = lt === -1 ? xml.slice(pos) : xml.slice(pos, lt);
    if (stack.length === 0 && chunk.trim() !== '') throw new Error(`text outside the root at ${pos}`);
    checkText(chunk, pos);
    if (lt === -1) break;
    tag.lastIndex = lt;
    const m = tag.exec(xml);
    if (!m) throw new Error(`malformed tag at ${lt}: ${xml.slice(lt, lt + 60)}`);
    const [, close, name, attrs, selfClose] = m;
    checkText(attrs!, lt);
    const attrNames = [...attrs!.matchAll(/([\w.:-]+)="/g)].map((a) => a[1]);
    if (new Set(attrNames).size !== attrNames.length) throw new Error(`duplicate attribute in <${name}>`);
    if (close) {
      if (stack.pop() !== name) throw new Error(`unbalanced </${name}> at ${lt}`);
    } else {
      if (stack.length === 0 && ++roots > 1) throw new Error('more than one root');
      names.push(name!);
      if (!selfClose) stack.push(name!);
    }
    pos = tag.lastIndex;
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack.join('>, <')}>`);
  if (roots !== 1) throw new Error('no root element');
  return names;
}

function trace(strategy: string, sizes: number[], fail: number[] = [], stepMs = 1000): SizeTrace {
  const points = sizes.map((size, i) => ({ tMs: 500 + i * stepMs, size, ok: !fail.includes(i) }));
  return { strategy, points, finishedMs: 500 + sizes.length * stepMs };
}

const PROFILES = ['realistic', 'flaky', 'rate-limited', 'weak-account'];
const STRATEGIES = ['adaptive', 'fixed', 'conservative', 'aggressive'];

function input(over: Partial<ChartInput> = {}): ChartInput {
  const ratios: RatioCell[] = [];
  PROFILES.forEach((profile, p) => {
    STRATEGIES.forEach((strategy, s) => {
      ratios.push({ strategy, profile, geomean: 1 + 0.07 * (p + s), p95: 1.1 + 0.1 * (p + s) });
    });
  });
  return {
    title: 'storycast strategy lab — 10,000 recipients',
    profile: 'realistic',
    recipients: 10_000,
    traces: [
      trace('oracle', [3000, 3000, 3000, 1000]),
      trace('adaptive', [100, 1000, 5000, 2000, 3000, 3000, 900], [2]),
      trace(
        'fixed',
        Array.from({ length: 20 }, () => 500),
      ),
      trace('conservative', [100, 500, 1000, 2000, 3000, 3000, 400]),
      trace('aggressive', [100, 200, 400, 800, 1600, 3200, 6400, 3200, 700], [6, 7]),
    ],
    ratios,
    ...over,
  };
}

describe('renderChart', () => {
  it('is one well-formed standalone SVG document', () => {
    const svg = renderChart(input());
    const names = checkXml(svg);
    expect(names[0]).toBe('svg');
    const root = /^<svg [^>]*>/.exec(svg)![0];
    expect(root).toContain('xmlns="http://www.w3.org/2000/svg"');
    const [, w, h] = /width="(\d+)" height="(\d+)"/.exec(root)!;
    expect(root).toContain(`viewBox="0 0 ${w} ${h}"`);
    expect(Number(w)).toBeGreaterThan(0);
    expect(svg).toContain('sans-serif');
  });

  it('names every strategy and profile, draws the oracle, and states the scale', () => {
    const svg = renderChart(input());
    for (const name of [...STRATEGIES, ...PROFILES]) expect(svg).toContain(`>${name}<`);
    expect(svg).toContain('class="trace" data-strategy="oracle"');
    expect(svg).toMatch(/data-strategy="oracle"[^>]*stroke-dasharray/);
    expect(svg).toContain('log scale');
    expect(svg).toContain('Completion time ÷ oracle');
    // The oracle is a reference line, not a heat-map column.
    expect(svg).not.toContain('class="cell" data-strategy="oracle"');
  });

  it('marks every failed call and every finish', () => {
    const svg = renderChart(input());
    expect(svg.match(/class="fail" data-strategy="adaptive"/g)).toHaveLength(1);
    expect(svg.match(/class="fail" data-strategy="aggressive"/g)).toHaveLength(2);
    expect(svg.match(/class="fail"/g)).toHaveLength(3);
    expect(svg.match(/class="finish"/g)).toHaveLength(5);
    // Legend: completion times, fastest first after the oracle.
    expect(svg).toContain('4.5 s');
    expect(svg).toContain('9.5 s · 2.11× oracle · 2 failed');
    const order = ['oracle', 'adaptive', 'conservative', 'aggressive', 'fixed'].map((s) =>
      svg.indexOf(`font-size="13" font-weight="${s === 'oracle' ? 400 : 600}">${s}<`),
    );
    expect(order.every((i) => i > 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  it('writes the formatted geomean and p95 in each heat-map cell', () => {
    const svg = renderChart(input());
    const cell = (s: string, p: string): string => {
      const start = svg.indexOf(`class="cell" data-strategy="${s}" data-profile="${p}"`);
      expect(start).toBeGreaterThan(0);
      return svg.slice(start, svg.indexOf('</g>', start));
    };
    expect(cell('adaptive', 'realistic')).toContain('>1.00<');
    expect(cell('adaptive', 'realistic')).toContain('>p95 1.10<');
    expect(cell('aggressive', 'weak-account')).toContain('>1.42<');
    expect(cell('aggressive', 'weak-account')).toContain('>p95 1.70<');
    // Colour bins: good is green, past 1.35 red.
    expect(cell('adaptive', 'realistic')).toContain('#c7e9c0');
    expect(cell('aggressive', 'weak-account')).toContain('#d73027');
    expect(svg.match(/class="cell"/g)).toHaveLength(PROFILES.length * STRATEGIES.length);
  });

  it('is deterministic', () => {
    expect(renderChart(input())).toBe(renderChart(input()));
  });

  it('escapes hostile names everywhere', () => {
    const evil = `<script>alert("x")</script> & 'co'`;
    const evilProfile = `p<1> & "q" ]]> \u0007`;
    const base = input();
    const svg = renderChart({
      ...base,
      title: `lab & <b>"bold"</b>`,
      profile: evilProfile,
      traces: [...base.traces, trace(evil, [100, 200], [1])],
      ratios: [...base.ratios, { strategy: evil, profile: evilProfile, geomean: 1.2, p95: 1.3 }],
    });
    checkXml(svg);
    expect(svg).not.toContain('<script');
    expect(svg).not.toContain('<b>');
    expect(svg).not.toContain('\u0007');
    expect(svg).toContain(escapeXml(evil));
    expect(svg).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &apos;co&apos;');
    expect(svg).toContain('p&lt;1&gt; &amp; &quot;q&quot; ]]&gt;');
    expect(svg).toContain('lab &amp; &lt;b&gt;&quot;bold&quot;&lt;/b&gt;');
  });

  it('keeps clipped long names whole in a tooltip', () => {
    const long = `weak-account & "quoted" <profile> with a very long name indeed, longer than any row label`;
    const svg = renderChart(input({ ratios: [{ strategy: 'adaptive', profile: long, geomean: 1, p95: 1 }] }));
    checkXml(svg);
    expect(svg).toContain(`<title>${escapeXml(long)}</title>`);
    expect(svg).toContain('…');
  });

  it('handles edge cases: one point, no failures, empty traces, non-finite ratios, no data', () => {
    const svg = renderChart(
      input({
        traces: [trace('oracle', [10_000]), trace('solo', [4000]), { strategy: 'idle', points: [], finishedMs: 0 }],
        ratios: [
          { strategy: 'solo', profile: 'realistic', geomean: Number.NaN, p95: Number.POSITIVE_INFINITY },
          { strategy: 'idle', profile: 'realistic', geomean: Number.POSITIVE_INFINITY, p95: 2 },
        ],
      }),
    );
    checkXml(svg);
    expect(svg).not.toMatch(/NaN|Infinity/);
    expect(svg).not.toContain('class="fail"');
    expect(svg.match(/class="finish"/g)).toHaveLength(2);
    expect(svg).not.toContain('class="trace" data-strategy="idle"');
    expect(svg).toContain('no calls');
    expect(svg).toContain('>—<');
    expect(svg).toContain('>p95 —<');

    const empty = renderChart({ title: 't', profile: 'p', recipients: 0, traces: [], ratios: [] });
    checkXml(empty);
    expect(empty).not.toMatch(/NaN|Infinity/);
    expect(empty).toContain('no results');
  });

  it('sizes itself to fit many profiles and strategies', () => {
    const profiles = Array.from({ length: 20 }, (_, i) => `profile-${i}`);
    const strategies = Array.from({ length: 7 }, (_, i) => `strategy-number-${i}`);
    const ratios = profiles.flatMap((profile) => strategies.map((strategy) => ({ strategy, profile, geomean: 1.1, p95: 1.2 })));
    const small = renderChart(input());
    const big = renderChart(input({ ratios, traces: strategies.map((s, i) => trace(s, [100 * (i + 1), 200 * (i + 1)])) }));
    checkXml(big);
    const dims = (svg: string): number[] => /width="(\d+)" height="(\d+)"/.exec(svg)!.slice(1).map(Number);
    const [bw, bh] = dims(big);
    const [sw, sh] = dims(small);
    expect(bh!).toBeGreaterThan(sh! + 16 * 40);
    expect(bw!).toBeGreaterThanOrEqual(sw!);
    // Cell rectangles never overlap: the rightmost one ends inside the canvas.
    const xs = [...big.matchAll(/<g class="cell"[^>]*>\n<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)"/g)].map(
      (m) => Number(m[1]) + Number(m[2]),
    );
    expect(Math.max(...xs)).toBeLessThanOrEqual(bw!);
  });
});

describe('formatRatio', () => {
  it('shows two decimals, fewer for large values, and — for non-finite', () => {
    expect(formatRatio(1)).toBe('1.00');
    expect(formatRatio(1.2345)).toBe('1.23');
    expect(formatRatio(12.345)).toBe('12.3');
    expect(formatRatio(Number.NaN)).toBe('—');
    expect(formatRatio(Number.NEGATIVE_INFINITY)).toBe('—');
  });
});
