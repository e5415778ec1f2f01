/**
 * The Grafana dashboard in dashboards/grafana: valid JSON, one Prometheus
 * datasource variable, and every query naming only series storycast exports,
 * so renaming a metric without fixing the dashboard fails here.
 */
import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { createMetrics } from '../src/metrics/index.js';

interface Panel {
  readonly id: number;
  readonly type: string;
  readonly title: string;
  readonly gridPos: { x: number; y: number; w: number; h: number };
  readonly datasource?: { type: string; uid: string };
  readonly targets?: { refId: string; expr: string; datasource?: { uid: string } }[];
  readonly panels?: Panel[];
}

// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a JavaScript template
const DATASOURCE_UID = '${datasource}';
const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset', 'and', 'or', 'unless']);

/** The series a PromQL expression reads: identifiers outside strings, matchers, ranges and grouping lists, not called as functions. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  return [...bare.matchAll(/\b[a-zA-Z_][a-zA-Z0-9_]*\b(?!\s*\()/g)].map((m) => m[0]).filter((w) => !PROMQL_WORDS.has(w));
}

describe('dashboards/grafana/storycast.json', () => {
  let dashboard: {
    schemaVersion: number;
    uid: string;
    panels: Panel[];
    templating: { list: { name: string; type: string; query: unknown }[] };
  };
  let panels: Panel[];
  const exported = new Set<string>();
  const families: string[] = [];

  beforeAll(async () => {
    dashboard = JSON.parse(await readFile(new URL('../dashboards/grafana/storycast.json', import.meta.url), 'utf8'));
    panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]).filter((p) => p.type !== 'row');
    for (const m of await createMetrics().registry.getMetricsAsJSON()) {
      families.push(m.name);
      const suffixes =
        String(m.type) === 'histogram' ? ['_bucket', '_sum', '_count'] : String(m.type) === 'summary' ? ['', '_sum', '_count'] : [''];
      for (const s of suffixes) exported.add(`${m.name}${s}`);
    }
  });

  it('reads the metrics through one Prometheus datasource variable', () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.uid).toBe('storycast');
    expect(dashboard.templating.list.find((v) => v.type === 'datasource')).toMatchObject({ name: 'datasource', query: 'prometheus' });
    expect(panels.length).toBeGreaterThanOrEqual(15);
    for (const p of panels) {
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: DATASOURCE_UID });
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets ?? []) expect(t.datasource?.uid, p.title).toBe(DATASOURCE_UID);
    }
  });

  it('queries only series storycast exports, and shows every storycast and gRPC family', () => {
    const used = new Set<string>();
    for (const p of panels) {
      for (const t of p.targets ?? []) {
        const names = metricNames(t.expr);
        expect(names.length, `${p.title} ${t.refId}: ${t.expr}`).toBeGreaterThan(0);
        for (const name of names) {
          expect(exported.has(name), `${p.title} ${t.refId} reads ${name}, which is not exported`).toBe(true);
          used.add(name.replace(/_(?:bucket|sum|count)$/, ''));
        }
      }
    }
    const ours = families.filter((f) => f.startsWith('storycast_') || f.startsWith('grpc_server_'));
    expect(ours.filter((f) => !used.has(f))).toEqual([]);
  });

  it('has distinct panel ids and no two panels overlapping', () => {
    const all = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
    expect(new Set(all.map((p) => p.id)).size).toBe(all.length);
    const overlap = (a: Panel['gridPos'], b: Panel['gridPos']) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
    for (const [i, a] of all.entries()) {
      expect(a.gridPos.x + a.gridPos.w, a.title).toBeLessThanOrEqual(24);
      for (const b of all.slice(i + 1)) expect(overlap(a.gridPos, b.gridPos), `${a.title} / ${b.title}`).toBe(false);
    }
  });

  it('finds the names in a query the way the check above relies on', () => {
    expect(
      metricNames(
        'histogram_quantile(0.95, sum by (le, strategy) (rate(storycast_batch_size_bucket{instance=~"$instance", le!="x"}[$__rate_interval])))',
      ),
    ).toEqual(['storycast_batch_size_bucket']);
    expect(metricNames('sum(a_total{x="rate(b)"}) / on (job) group_left sum(c)')).toEqual(['a_total', 'c']);
  });
});
