/** `npm run bench -- --strategy-module PATH`: a strategy author's own module, run through the lab's worker threads. */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = new URL('..', import.meta.url).pathname;
const bench = (...args: string[]) =>
  promisify(execFile)(join(root, 'node_modules/.bin/tsx'), ['src/cli/bench.ts', ...args], { cwd: root, timeout: 120_000 });
const failure = (p: Promise<unknown>) =>
  p.then(
    () => ({ code: 0, stderr: '' }),
    (e: unknown) => e as { code: number; stderr: string },
  );

interface Row {
  strategy: string;
  profile: string;
  calls: { mean: number };
}

describe('npm run bench -- --strategy-module', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'storycast-module-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('runs a TypeScript module (the SDK guide example) next to the built-ins, in the workers', async () => {
    const out = join(dir, 'ts.json');
    const args = ['--strategy-module', './strategies/examples/steady-500.ts', '--strategy', 'steady-500', '--strategy', 'bracket'];
    const { stdout } = await bench(
      ...args,
      '--case',
      'step-down',
      '--case',
      'overhead-dominated',
      '--recipients',
      '2000',
      '--seeds',
      '1',
      '--json',
      out,
    );
    expect(stdout).toMatch(/^profile +fixed +steady-500 +bracket$/m);
    const rows = (JSON.parse(await readFile(out, 'utf8')) as { rows: Row[] }).rows;
    const steady = rows.filter((r) => r.strategy === 'steady-500');
    expect(steady.map((r) => r.profile).sort()).toEqual(['overhead-dominated', 'step-down']);
    // 1,999 recipients after the anchor, 500 a call (nothing fails on overhead-dominated): 500, 500, 500, then the last 499.
    expect(steady.find((r) => r.profile === 'overhead-dominated')!.calls.mean).toBe(4);
  });

  it('runs a plain JavaScript module from anywhere, importing the SDK by path', async () => {
    const file = join(dir, 'halves.mjs');
    const sdk = pathToFileURL(join(root, 'strategies/sdk.ts')).href;
    await writeFile(
      file,
      `import { defineStrategy } from ${JSON.stringify(sdk)};
export default defineStrategy({
  name: 'always-250',
  description: 'Sends 250 a call, whatever happens.',
  start: () => ({ state: null, size: 250, reason: 'always 250' }),
  next: (state) => ({ state, size: 250, reason: 'always 250' }),
});
`,
    );
    const out = join(dir, 'js.json');
    // 1,000 after the anchor, 250 a call: four calls.
    await bench(
      '--strategy-module',
      file,
      '--strategy',
      'always-250',
      '--case',
      'overhead-dominated',
      '--recipients',
      '1001',
      '--seeds',
      '1',
      '--json',
      out,
    );
    const rows = (JSON.parse(await readFile(out, 'utf8')) as { rows: Row[] }).rows;
    expect(rows.find((r) => r.strategy === 'always-250')).toMatchObject({ profile: 'overhead-dominated', calls: { mean: 4 } });
  });

  it('names the option, not the environment variable, when a module cannot be used', async () => {
    const missing = await failure(bench('--strategy-module', './no-such-strategy.ts', '--case', 'step-down'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/--strategy-module: cannot load "\.\/no-such-strategy\.ts"/);
    const clash = await failure(bench('--strategy-module', './strategies/bracket.ts', '--case', 'step-down'));
    expect(clash.code).toBe(1);
    expect(clash.stderr).toMatch(
      /--strategy-module: "\.\/strategies\/bracket\.ts" defines strategy "bracket", already defined by a built-in/,
    );
  });
});
