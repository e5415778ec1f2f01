/** The strategy lab's parts: baselines, folding runs into rows, targets, and the CLI (README figures: bench-readme.test.ts). */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { builtinStrategies } from '../strategies/index.js';
import { fixed, ORACLE } from '../src/bench/baselines.js';
import { foldRows, runMatrix } from '../src/bench/matrix.js';
import { evaluateTargets, formatGivenUp, formatTable } from '../src/bench/report.js';
import { runOnce, type BenchCase, type RunResult } from '../src/bench/run.js';
import { geomean, percentile } from '../src/bench/stats.js';
import { defaultSuite, memoryCases, seedCases } from '../src/bench/suite.js';
import { defaultConfig } from '../src/config.js';
import { builtinProfiles } from '../src/transport/sim/profile.js';

const config = defaultConfig.smartSend;
const profiles = builtinProfiles();
const cliff: BenchCase = { name: 'cliff', description: 'capacity 4500, hangs above', profile: profiles['seed-network-issues']! };

describe('baselines', () => {
  it('the oracle never fails on size and sends at the capacity', async () => {
    const run = await runOnce(ORACLE, cliff, 20_000, 1, config);
    expect(run.failedCalls).toBe(0);
    expect(run.lost).toBe(0);
    expect(Math.max(...run.trace.points.map((p) => p.size))).toBe(4500);
  });

  it('the oracle follows a capacity that steps down mid-send', async () => {
    const stepDown: BenchCase = {
      name: 'step',
      description: '',
      profile: { ...profiles['seed-first-send']!, capacitySchedule: [{ atMs: 5000, capacity: 900 }] },
    };
    const run = await runOnce(ORACLE, stepDown, 10_000, 1, config);
    expect(run.failedCalls).toBe(0);
    expect(run.trace.points.filter((p) => p.tMs >= 5000).every((p) => p.size <= 900)).toBe(true);
  });

  it('the oracle rides out an outage one recipient at a time rather than give up on the list', async () => {
    const outage: BenchCase = {
      name: 'outage',
      description: '',
      profile: {
        ...profiles['seed-first-send']!,
        capacity: 1000,
        failure: 'fast',
        failureBursts: [{ atMs: 3000, durationMs: 4000, rate: 1 }],
      },
    };
    const run = await runOnce(ORACLE, outage, 20_000, 1, config);
    const inside = run.trace.points.filter((p) => p.tMs >= 3000 && p.tMs < 7000);
    expect(inside.length).toBeGreaterThan(3);
    expect(inside.every((p) => p.size === 1 && !p.ok)).toBe(true);
    expect(run.trace.points.filter((p) => p.tMs >= 7000).every((p) => p.ok)).toBe(true);
    expect(run.undelivered).toBeLessThanOrEqual(2);
  });

  it('the oracle gives up on a call that hangs at once, knowing how long a healthy one takes', async () => {
    // No jitter, 30% of calls hang until given up on: 800 ms + 0.85 ms each, capacity 4500.
    const hangs: BenchCase = {
      name: 'hangs',
      description: '',
      profile: { ...profiles['seed-network-issues']!, jitterPct: 0, failureRate: 0.3 },
    };
    const run = await runOnce(ORACLE, hangs, 20_000, 1, config);
    const failed = run.trace.points.filter((p) => !p.ok);
    expect(failed.length).toBeGreaterThan(0);
    const healthy = (n: number) => 800 + 0.85 * n;
    for (const p of failed) expect(p.durationMs!).toBeLessThanOrEqual(Math.ceil(healthy(p.size)) + 1);
    expect(run.undelivered).toBe(0);
  });

  it('fixed climbs the sequence one level at a time, then stays at the top, and ignores memory', async () => {
    const remembering: BenchCase = { ...cliff, profile: profiles['seed-first-send']!, provenSize: 4000 };
    const run = await runOnce(fixed, remembering, 30_000, 1, config);
    expect(run.trace.points.map((p) => p.size).slice(0, 8)).toEqual([100, 500, 1000, 2000, 4000, 5000, 5000, 5000]);
  });

  it('charges a run that gave up on recipients for the whole list', async () => {
    const weak: BenchCase = { name: 'weak', description: '', profile: { ...profiles['seed-first-send']!, capacity: 450 } };
    const run = await runOnce(fixed, weak, 3000, 1, config);
    expect(run.undelivered).toBeGreaterThan(0);
    expect(run.lost).toBe(0);
    const delivered = 3000 - run.undelivered;
    // completionMs = elapsed x total / delivered, so it is larger than the time the run took.
    expect(run.completionMs * delivered).toBeCloseTo(run.trace.finishedMs * 3000, 0);
  });
});

describe('rows and targets', () => {
  const run = (strategy: string, seed: number, completionMs: number, failedCalls = 0): RunResult => ({
    strategy,
    case: 'p',
    recipients: 1000,
    seed,
    completionMs,
    calls: 3,
    failedCalls,
    wastedSends: failedCalls * 100,
    undelivered: 0,
    lost: 0,
    trace: { strategy, points: [], finishedMs: completionMs },
  });

  it('divides each run by the oracle on the same seed, then takes the geomean and p95', () => {
    const runs = [run(ORACLE, 1, 100), run(ORACLE, 2, 200), run('s', 2, 300), run('s', 1, 110)];
    const row = foldRows(runs).find((r) => r.strategy === 's')!;
    expect(row.ratioToOracle.bySeed).toEqual([1.1, 1.5]);
    expect(row.ratioToOracle.geomean).toBeCloseTo(Math.sqrt(1.1 * 1.5), 10);
    expect(row.ratioToOracle.p95).toBe(1.5);
    expect(row).toMatchObject({ profile: 'p', recipients: 1000, seeds: 2, lost: 0, failedCalls: { mean: 0 } });
  });

  it('prints pass and fail lines for the best built-in', () => {
    const runs = [run(ORACLE, 1, 100), run('fixed', 1, 200, 4), run('a', 1, 110, 1), run('b', 1, 150, 0)];
    const { best, lines } = evaluateTargets(foldRows(runs), runs, [], ['a', 'b']);
    expect(best).toBe('a');
    expect(lines.map((l) => l.text)).toEqual(
      expect.arrayContaining([
        'PASS  a: geomean completion/oracle over the suite 1.100 <= 1.15',
        'PASS  a: completion time vs fixed 0.55x overall <= 0.85x',
        'PASS  a: failed calls vs fixed 0.25x <= 0.5x (1 vs 4)',
        'PASS  lost recipients, every strategy everywhere: 0 (must be 0)',
      ]),
    );
    expect(formatTable(foldRows(runs))).toContain('1.10 p95 1.10 f1.0');
  });

  it('names every cell that misses a target, worst first, and keeps the lines it replaced', () => {
    const on = (c: string, r: RunResult): RunResult => ({ ...r, case: c, recipients: 10_000 });
    const runs = [
      ...['p', 'q', 'r'].flatMap((c) => [on(c, run(ORACLE, 1, 100)), on(c, run('fixed', 1, 100))]),
      on('p', run('a', 1, 140)),
      on('q', run('a', 1, 160)),
      on('r', run('a', 1, 101)),
    ];
    const { lines, previous } = evaluateTargets(foldRows(runs), runs, [], ['a']);
    const texts = lines.map((l) => l.text);
    expect(texts).toContainEqual(
      expect.stringMatching(/^FAIL {2}a: p95 .*\(missed on q @ 10000 1\.60 > 1\.35, p @ 10000 1\.40 > 1\.35\)$/),
    );
    expect(texts).toContain(
      'FAIL  a: never more than 1.05x fixed on any profile, per-profile geomeans (over on q @ 10000 1.60x, p @ 10000 1.40x)',
    );
    const old = previous.map((l) => l.text);
    expect(old).toContain('FAIL  a: p95 completion/oracle <= 1.35 on every profile (over on q @ 10000 1.60, p @ 10000 1.40)');
    expect(old).toContain('FAIL  a: never more than 1.05x fixed on any profile (over on q @ 10000 1.60x, p @ 10000 1.40x)');
  });

  it('sums the recipients each contender gave up on', () => {
    const runs = [
      run(ORACLE, 1, 100),
      { ...run('a', 1, 110), undelivered: 1200 },
      { ...run('a', 2, 110), undelivered: 34 },
      run('b', 1, 150),
    ];
    // Each of a's runs gave up more than 1% of its 1,000 recipients: both are unfinished.
    expect(formatGivenUp(runs)).toBe('Recipients given up after their attempts, all runs: oracle 0, a 1,234 (2 runs unfinished), b 0');
    expect(formatGivenUp([{ ...run('a', 1, 110), undelivered: 10 }])).toBe('Recipients given up after their attempts, all runs: a 10');
  });

  it('geomean and nearest-rank p95', () => {
    expect(geomean([1, 4])).toBe(2);
    expect(percentile([5, 1, 3, 2, 4], 95)).toBe(5);
    expect(percentile([1, 2], 50)).toBe(1);
  });
});

describe('the suite', () => {
  it('has the shipped profiles, the seed scenarios and the memory cases', async () => {
    const names = (await defaultSuite(config)).map((c) => c.name);
    expect(names).toEqual(
      expect.arrayContaining(['step-down', 'step-up', 'heavy-tail', 'soft-knee', 'server-rate-limit', 'realistic+memory-3x-high']),
    );
    expect(seedCases().map((c) => c.provenSize)).toEqual([undefined, 4000, 5000]);
    const [fresh, high, low] = memoryCases(profiles['realistic']!, config);
    // Fresh, correct memory is what a send that found the limit leaves: the capacity proven, one more failed.
    expect(fresh).toMatchObject({ provenSize: 3000, failedSize: 3001 });
    expect(high!.provenSize).toBe(fresh!.provenSize! * 3);
    expect(low!.provenSize).toBe(Math.round(fresh!.provenSize! / 3));
    expect(high!.failedSize).toBeUndefined();
    expect(low!.failedSize).toBeUndefined();
  });

  it('a weak account with fresh memory of its limit starts at it instead of hanging where its last send did', async () => {
    const weak = (await defaultSuite(config)).find((c) => c.name === 'expensive-failures+memory')!;
    expect(weak).toMatchObject({ provenSize: 450, failedSize: 451, coldCase: 'expensive-failures' });
    const bracket = builtinStrategies.find((s) => s.name === 'bracket')!;
    const cold = await runOnce(bracket, { ...weak, provenSize: undefined, failedSize: undefined }, 10_000, 1, config);
    const warm = await runOnce(bracket, weak, 10_000, 1, config);
    expect(cold.trace.points[0]!.size).toBe(1000);
    expect(cold.trace.points[0]!.ok).toBe(false);
    expect(warm.trace.points[0]).toMatchObject({ size: 450, ok: true });
    expect(warm.completionMs).toBeLessThan(cold.completionMs);
  });

  it('loses nobody, for any built-in, on any case', async () => {
    const cases = await defaultSuite(config);
    const { rows } = await runMatrix({ cases, contenders: [ORACLE, fixed, ...builtinStrategies], recipients: [700], seeds: [1], config });
    expect(rows.length).toBe(cases.length * (builtinStrategies.length + 2));
    expect(rows.every((r) => r.lost === 0)).toBe(true);
  });
});

describe('npm run bench', () => {
  it('writes rows with the documented fields, the targets, and a chart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'storycast-bench-'));
    try {
      const root = new URL('..', import.meta.url).pathname;
      const { stdout } = await promisify(execFile)(
        join(root, 'node_modules/.bin/tsx'),
        [
          'src/cli/bench.ts',
          '--recipients',
          '300',
          '--seeds',
          '2',
          '--strategy',
          'adaptive',
          '--json',
          join(dir, 'out.json'),
          '--chart',
          join(dir, 'out.svg'),
        ],
        { cwd: root, timeout: 120_000 },
      );
      expect(stdout).toContain('300 recipients — completion time / oracle');
      expect(stdout).toMatch(/^(PASS|FAIL) {2}lost recipients/m);
      const json = JSON.parse(await readFile(join(dir, 'out.json'), 'utf8')) as { rows: Record<string, unknown>[] };
      const row = json.rows.find((r) => r.strategy === 'adaptive' && r.profile === 'step-down')!;
      expect(row).toMatchObject({ recipients: 300, seeds: 2, lost: 0 });
      for (const key of ['ratioToOracle', 'failedCalls', 'wastedSends', 'calls']) expect(row).toHaveProperty(key);
      expect((row.ratioToOracle as { geomean: number }).geomean).toBeGreaterThan(0);
      expect(await readFile(join(dir, 'out.svg'), 'utf8')).toMatch(/^<svg|<\?xml/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("--trace prints each contender's run on one case, call by call, with the reasons", async () => {
    const root = new URL('..', import.meta.url).pathname;
    const { stdout } = await promisify(execFile)(
      join(root, 'node_modules/.bin/tsx'),
      ['src/cli/bench.ts', '--trace', 'step-down', '--recipients', '10000', '--seeds', '1', '--strategy', 'bracket'],
      { cwd: root, timeout: 60_000 },
    );
    const runs = stdout.trim().split(/\n(?=\S+ on step-down)/);
    expect(runs.map((r) => r.trim().split(' ')[0])).toEqual(['oracle', 'fixed', 'bracket']);
    const bracketRun = runs[2]!;
    expect(bracketRun).toMatch(/^bracket on step-down, 10,000 recipients, seed 1: [\d.]+ s \([\d.]+x the oracle\), \d+ calls, \d+ failed/);
    // The cliff at 5 s: a call that times out, and the strategy saying what it does about it.
    expect(bracketRun).toMatch(/TIMEOUT .*checking at 1\/3/);
    expect(bracketRun).toMatch(/^ +0\.0 +1 +anchor/m);
  });

  it('--case narrows the suite to the named cases, and names the cases it has when given one it does not', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'storycast-bench-'));
    try {
      const root = new URL('..', import.meta.url).pathname;
      const tsx = join(root, 'node_modules/.bin/tsx');
      const args = [
        'src/cli/bench.ts',
        '--case',
        'step-down',
        '--case',
        'realistic+memory',
        '--recipients',
        '300',
        '--seeds',
        '1',
        '--strategy',
        'bracket',
        '--json',
        join(dir, 'out.json'),
      ];
      const { stdout } = await promisify(execFile)(tsx, args, { cwd: root, timeout: 60_000 });
      expect(stdout).toMatch(/^6 runs \(2 cases x 1 sizes x 1 seeds x 3 contenders\)/m);
      const json = JSON.parse(await readFile(join(dir, 'out.json'), 'utf8')) as { rows: { profile: string }[] };
      expect([...new Set(json.rows.map((r) => r.profile))].sort()).toEqual(['realistic+memory', 'step-down']);
      const error = await promisify(execFile)(tsx, ['src/cli/bench.ts', '--case', 'nope'], { cwd: root, timeout: 60_000 }).catch(
        (e: unknown) => e,
      );
      expect((error as { code: number }).code).toBe(1);
      expect((error as { stderr: string }).stderr).toMatch(/--case "nope": no such case \(have: .*step-down/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('--trace names the cases it has when given one it does not', async () => {
    const root = new URL('..', import.meta.url).pathname;
    const error = await promisify(execFile)(join(root, 'node_modules/.bin/tsx'), ['src/cli/bench.ts', '--trace', 'nope'], {
      cwd: root,
      timeout: 60_000,
    }).catch((e: unknown) => e);
    expect((error as { code: number }).code).toBe(1);
    expect((error as { stderr: string }).stderr).toMatch(/--trace "nope": no such case \(have: .*step-down/);
  });
});
