/** The strategy lab's README figures (`npm run bench:report`): computed from a bench JSON as the targets are. */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ORACLE } from '../src/bench/baselines.js';
import type { BenchRow } from '../src/bench/matrix.js';
import { benchRow } from './support/bench-rows.js';
import { BLOCK_END, BLOCK_START, renderLabFigures, replaceLabBlock, type BenchJson } from '../src/bench/readme.js';
/**
 * A small bench output: two sizes, 2 seeds, the oracle, fixed, adaptive and bracket on a
 * plain case, the weak account cold and with memory, and realistic cold and 3x too high.
 */
function benchFixture(): BenchJson {
  const row = (strategy: string, profile: string, recipients: number, ratio: number, over: Partial<BenchRow> = {}): BenchRow =>
    benchRow(strategy, profile, recipients, [ratio, ratio], over);
  const names = ['steady', 'expensive-failures', 'expensive-failures+memory', 'realistic', 'realistic+memory-3x-high'];
  const bracketAt: Record<string, number> = {
    steady: 1.2,
    'expensive-failures': 2.5,
    'expensive-failures+memory': 1.2,
    realistic: 1.2,
    'realistic+memory-3x-high': 1.2,
  };
  const rows = [1000, 10_000].flatMap((n) =>
    names.flatMap((c) => [
      row(ORACLE, c, n, 1),
      row('fixed', c, n, 4, { failedCalls: { mean: 10 }, undelivered: { mean: c === 'steady' && n === 10_000 ? 1e6 : 0 } }),
      row('adaptive', c, n, n === 1000 ? 2 : 3, { undelivered: { mean: 100 } }),
      row('bracket', c, n, bracketAt[c]!, {
        failedCalls: { mean: 1 },
        undelivered: { mean: c === 'steady' && n === 1000 ? 1.5 : 0 },
        ...(c === 'realistic+memory-3x-high' ? { completionMs: { mean: 1320 } } : {}),
      }),
    ]),
  );
  return {
    rows,
    seeds: 2,
    recipients: [1000, 10_000],
    best: 'bracket',
    targets: [
      { pass: true, text: 'PASS  bracket: geomean completion/oracle over the suite 1.390 <= 1.15' },
      { pass: false, text: 'FAIL  bracket: p95 completion/oracle <= 1.35 on every profile (over on expensive-failures @ 1000 2.50)' },
    ],
    cases: names.map((name) => ({
      name,
      description: name === 'expensive-failures+memory' ? 'expensive-failures with fresh, correct memory (proven 450, failed at 451)' : '',
    })),
  };
}

describe('the README figures (npm run bench:report)', () => {
  it('states the figures of a bench run, computed as the targets are', () => {
    const figures = renderLabFigures(benchFixture());
    expect(figures.split('\n').every((line) => line.length <= 100 || line.startsWith('|') || line.startsWith('FAIL'))).toBe(true);
    const text = figures.split('\n\n')[0]!.replaceAll('\n', ' ');
    // bracket: 1.2 on four cases, 2.5 on one, per size: (1.2^4 * 2.5)^(1/5) = 1.39. Versus fixed, run by run: 1.2/4 on
    // eight runs and 2.5/4 on two: 0.35. Failed calls 20 vs 200. 3x too high: 1320 ms against 1200 cold.
    expect(text).toContain(
      '`bracket` is the best built-in: 1.39x the oracle at 10,000 recipients and 1.39x at 1,000 (1.390 over the whole suite), ' +
        "against 3.00x and 2.00x for `adaptive` (the seed's algorithm, reported as it is). " +
        'It takes 0.35x the time of `fixed` with 0.10x its failed calls, and no strategy loses anybody; with memory 3x too high it costs at most 1.10x a cold start. ' +
        'A weak account that remembers the limit its last send found (`expensive-failures`, proven 450, failed above it) starts there: ' +
        '1.20x and 1.20x the oracle at 1,000 and 10,000 recipients, where a cold start pays 2.50x and 2.50x for the hung calls that find it. ' +
        'Over the 80 runs it gave up on 3 recipients (attempts used up, on `steady`), against 2,000 for `adaptive` and 2.0 million for `fixed`.',
    );
    expect(figures).toContain('| `adaptive` | 2.00 | 3.00 | 2.449 |');
    expect(figures).toContain('| **`bracket`** | 1.39 | 1.39 | 1.390 |');
    expect(figures).not.toContain(`| \`${ORACLE}\``);
    expect(figures).toContain(
      'Targets (best built-in: bracket; 2 seeds per case)\nPASS  bracket: geomean completion/oracle over the suite 1.390 <= 1.15\nFAIL  bracket: p95',
    );
  });

  it('refuses a narrowed run, which would drop figures the README quotes', () => {
    const json = benchFixture();
    expect(() => renderLabFigures({ ...json, rows: json.rows.filter((r) => r.strategy !== 'adaptive') })).toThrow(/no rows for "adaptive"/);
    expect(() => renderLabFigures({ ...json, best: undefined })).toThrow(/no best built-in/);
  });

  it('rewrites only what is between the markers, the same way every time', () => {
    const readme = `# lab\n\nprose before\n${BLOCK_START}: generated -->\nold figures\n${BLOCK_END}\n\nprose after\n`;
    const once = replaceLabBlock(readme, 'new figures');
    expect(once).toBe(`# lab\n\nprose before\n${BLOCK_START}: generated -->\nnew figures\n${BLOCK_END}\n\nprose after\n`);
    expect(replaceLabBlock(once, 'new figures')).toBe(once);
    expect(() => replaceLabBlock('# no block\n', 'x')).toThrow(/no .* block/);
    expect(() => replaceLabBlock(`${readme}${readme}`, 'x')).toThrow(/more than one/);
  });

  it('the README has one generated block, in the strategy lab section', async () => {
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
    const lab = readme.indexOf('## Strategy lab');
    const start = readme.indexOf(BLOCK_START);
    expect(start).toBeGreaterThan(lab);
    expect(readme.indexOf(BLOCK_START, start + 1)).toBe(-1);
    expect(readme.indexOf(BLOCK_END)).toBeGreaterThan(start);
    expect(readme.indexOf('\n## ', lab + 1)).toBeGreaterThan(readme.indexOf(BLOCK_END));
  });

  it('npm run bench:report rewrites a README from a bench JSON, and --check says whether it is current', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'storycast-report-'));
    try {
      const root = new URL('..', import.meta.url).pathname;
      const run = (...args: string[]) =>
        promisify(execFile)(join(root, 'node_modules/.bin/tsx'), ['src/bench/readme-cli.ts', ...args], { cwd: root, timeout: 60_000 });
      const [json, readme] = [join(dir, 'bench.json'), join(dir, 'README.md')];
      await writeFile(json, JSON.stringify(benchFixture()));
      await writeFile(readme, `intro\n${BLOCK_START} -->\ntyped by hand\n${BLOCK_END}\noutro\n`);
      const stale = await run('--check', '--readme', readme, json).catch((e: unknown) => e as { code: number; stderr: string });
      expect(stale).toMatchObject({ code: 1 });
      await run('--readme', readme, json);
      const written = await readFile(readme, 'utf8');
      expect(written).toBe(
        replaceLabBlock(`intro\n${BLOCK_START} -->\ntyped by hand\n${BLOCK_END}\noutro\n`, renderLabFigures(benchFixture())),
      );
      expect(written).toMatch(/^intro\n[\s\S]*1\.39x the oracle[\s\S]*\noutro\n$/);
      await expect(run('--check', '--readme', readme, json)).resolves.toBeDefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
