/** The random family of networks (--random): drawn as documented, deterministic, and reported on its own. */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ORACLE } from '../src/bench/baselines.js';
import { evaluateFamilyTargets, familyFigures, formatFamilyTable } from '../src/bench/family.js';
import type { BenchRow } from '../src/bench/matrix.js';
import { benchRow } from './support/bench-rows.js';
import { drawProfile, FAMILY, familyCases } from '../src/bench/random-family.js';
import { percentile } from '../src/bench/stats.js';
import type { SimProfile } from '../src/transport/sim/profile.js';

const within = (x: number, [lo, hi]: readonly [number, number]) => x >= lo && x <= hi;
const median = (xs: number[]) => percentile(xs, 50);

describe('the random family', () => {
  const drawn: SimProfile[] = Array.from({ length: 400 }, (_, i) => drawProfile(3, i));

  it('draws the same profiles from the same seed, each from its own stream', () => {
    expect(familyCases(10, 1).map((c) => c.profile)).toEqual(
      familyCases(30, 1)
        .slice(0, 10)
        .map((c) => c.profile),
    );
    expect(drawProfile(1, 4)).toEqual(drawProfile(1, 4));
    expect(drawProfile(2, 0)).not.toEqual(drawProfile(1, 0));
    expect(familyCases(3, 7).map((c) => c.name)).toEqual(['random-7-001', 'random-7-002', 'random-7-003']);
    expect(familyCases(1, 7)[0]).toMatchObject({ family: 'random', description: drawProfile(7, 0).description });
  });

  it('draws the plain twin from the same networks, with everything but the search taken out', () => {
    for (let i = 0; i < 40; i++) {
      const full = drawProfile(3, i);
      const plain = drawProfile(3, i, 'plain');
      expect(plain.name).toBe(full.name.replace(/^random-/, 'plain-'));
      expect(plain).toMatchObject({
        baseMs: full.baseMs,
        perRecipientMs: full.perRecipientMs,
        capacity: full.capacity,
        failure: full.failure,
        jitterPct: 0,
        failureRate: 0,
        rateLimitPerSecond: 0,
        capacitySchedule: [],
        latencyTail: null,
      });
      expect(plain.description).toMatch(/no rate limit; no stalls$/);
    }
    expect(familyCases(2, 7, 'plain').map((c) => [c.name, c.family])).toEqual([
      ['plain-7-001', 'plain'],
      ['plain-7-002', 'plain'],
    ]);
  });

  it('keeps every knob in its documented range', () => {
    for (const p of drawn) {
      expect(within(p.baseMs, FAMILY.baseMs)).toBe(true);
      expect(within(p.perRecipientMs, FAMILY.perRecipientMs)).toBe(true);
      expect(within(p.jitterPct, FAMILY.jitterPct)).toBe(true);
      expect(within(p.capacity!, FAMILY.capacity)).toBe(true);
      expect(within(p.failureRate, FAMILY.failureRate)).toBe(true);
      expect(p.rateLimitPerSecond === 0 || within(p.rateLimitPerSecond, FAMILY.rateLimitPerSecond)).toBe(true);
      expect(p.capacitySchedule.length).toBeLessThanOrEqual(2);
      for (const step of p.capacitySchedule) {
        expect(within(step.atMs, FAMILY.scheduleAtMs)).toBe(true);
        expect(within(step.capacity!, FAMILY.capacity)).toBe(true);
      }
      expect([...p.capacitySchedule].sort((a, b) => a.atMs - b.atMs)).toEqual(p.capacitySchedule);
      if (p.latencyTail) {
        expect(within(p.latencyTail.probability, FAMILY.tailProbability)).toBe(true);
        expect(within(p.latencyTail.minFactor, FAMILY.tailMinFactor)).toBe(true);
        expect(within(p.latencyTail.maxFactor, FAMILY.tailMaxFactor)).toBe(true);
      }
      expect(p.knee).toBeNull();
      expect(p.failureBursts).toEqual([]);
    }
  });

  it('covers every kind it documents: both failure modes, limits or none, zero to two capacity changes, tails or none', () => {
    const share = (pred: (p: SimProfile) => boolean) => drawn.filter(pred).length / drawn.length;
    expect(share((p) => p.failure === 'timeout')).toBeGreaterThan(0.4);
    expect(share((p) => p.failure === 'fast')).toBeGreaterThan(0.4);
    expect(share((p) => p.rateLimitPerSecond > 0)).toBeGreaterThan(0.4);
    expect(share((p) => p.rateLimitPerSecond > 0 && !Number.isInteger(p.rateLimitPerSecond))).toBeGreaterThan(0.3);
    for (const steps of [0, 1, 2]) expect(share((p) => p.capacitySchedule.length === steps)).toBeGreaterThan(0.25);
    expect(share((p) => p.latencyTail !== null)).toBeGreaterThan(0.4);
  });

  it('draws base latency and capacity log-uniformly: their medians sit at the geometric middle', () => {
    // Uniform draws would put the medians near 1,550 ms and 5,150 recipients.
    const geometricMiddle = ([lo, hi]: readonly [number, number]) => Math.sqrt(lo * hi);
    expect(median(drawn.map((p) => p.baseMs)) / geometricMiddle(FAMILY.baseMs)).toBeGreaterThan(0.75);
    expect(median(drawn.map((p) => p.baseMs)) / geometricMiddle(FAMILY.baseMs)).toBeLessThan(1.33);
    expect(median(drawn.map((p) => p.capacity!)) / geometricMiddle(FAMILY.capacity)).toBeGreaterThan(0.75);
    expect(median(drawn.map((p) => p.capacity!)) / geometricMiddle(FAMILY.capacity)).toBeLessThan(1.33);
  });
});

describe('family figures and targets', () => {
  // The family's figures read bySeed, p95 and failed calls, not a row's geomean.
  const row = (strategy: string, profile: string, bySeed: number[], over: Partial<BenchRow> = {}): BenchRow =>
    benchRow(strategy, profile, 10_000, bySeed, { failedCalls: { mean: 1 }, ...over });
  // 20 runs of `a`: 18 at 1.1, one at 1.5, one at 3.0; 30 recipients given up in one run of 200,000 recipients.
  const rows = [
    ...Array.from({ length: 10 }, (_, i) => row(ORACLE, `random-1-${i}`, [1, 1])),
    ...Array.from({ length: 9 }, (_, i) => row('a', `random-1-${i}`, [1.1, 1.1])),
    row('a', 'random-1-9', [1.5, 3.0], { undelivered: { mean: 15 } }),
    ...Array.from({ length: 10 }, (_, i) => row('b', `random-1-${i}`, [2, 2])),
  ];

  it('takes the geomean and p95 over every run, and the share given up over every recipient', () => {
    const f = familyFigures(rows, 'a', 10_000);
    expect(f.geomean).toBeCloseTo(Math.exp((18 * Math.log(1.1) + Math.log(1.5) + Math.log(3)) / 20), 10);
    expect(f.p95).toBe(1.5);
    expect(f.worst[0]).toEqual({ name: 'random-1-9 seed 2', ratio: 3 });
    expect(f.givenUp / f.recipients).toBeCloseTo(30 / 200_000, 12);
  });

  it("judges the random family on what a strategy controls, and keeps issue 19's lines as figures", () => {
    const { best, lines, previous } = evaluateFamilyTargets(rows, ['a', 'b']);
    expect(best).toBe('a');
    expect(lines.map((l) => l.text)).toEqual([
      'PASS  a: recipients given up @ 10,000 0.015% (30 of 200,000) <= 0.100%',
      'PASS  lost recipients, every strategy on every drawn profile: 0 (must be 0)',
    ]);
    const was = previous.map((l) => l.text);
    expect(was[0]).toMatch(/^PASS {2}a: geomean completion\/oracle over the family @ 10,000 1\.175 <= 1\.20$/);
    expect(was[1]).toMatch(
      /^PASS {2}a: p95 completion\/oracle over the family's runs @ 10,000 1\.50 <= 1\.6 \(slowest: random-1-9 seed 2 3\.00/,
    );
    const onlyB = evaluateFamilyTargets(rows, ['b']).previous.map((l) => l.text);
    expect(onlyB[0]).toBe('FAIL  b: geomean completion/oracle over the family @ 10,000 2.000 <= 1.20');
    expect(onlyB[1]).toMatch(/^FAIL {2}b: p95 .* 2\.00 <= 1\.6 /);
    const table = formatFamilyTable(rows, 10, 1);
    expect(table).toContain('Random family (seed 1, 10 profiles), 10,000 recipients');
    expect(table).toMatch(/^b +2\.00 +2\.00 /m);
  });

  it("judges the plain family's search against the textbook one: 1.42 geomean, 2.2 p95", () => {
    const plain = evaluateFamilyTargets(rows, ['a', 'b'], 'plain');
    expect(plain.previous).toEqual([]);
    const texts = plain.lines.map((l) => l.text);
    expect(texts[0]).toMatch(/^PASS {2}a: geomean completion\/oracle over the family @ 10,000 1\.175 <= 1\.42 \(the textbook search/);
    expect(texts[1]).toMatch(/^PASS {2}a: p95 .* 1\.50 <= 2\.2 /);
    // b: geomean 2.0 fails the textbook line, p95 2.0 passes it.
    const onlyB = evaluateFamilyTargets(rows, ['b'], 'plain').lines.map((l) => l.text);
    expect(onlyB[0]).toMatch(/^FAIL {2}b: geomean .* 2\.000 <= 1\.42 /);
    expect(onlyB[1]).toMatch(/^PASS {2}b: p95 .* 2\.00 <= 2\.2 /);
    expect(formatFamilyTable(rows, 10, 1, 'plain')).toContain('Plain family (the same draws, only the search left) (seed 1, 10 profiles)');
  });
});

describe('npm run bench -- --random', () => {
  const root = new URL('..', import.meta.url).pathname;
  const bench = (...args: string[]) =>
    promisify(execFile)(join(root, 'node_modules/.bin/tsx'), ['src/cli/bench.ts', ...args], { cwd: root, timeout: 120_000 });

  it('runs the drawn profiles instead of the suite, with their own table and targets, and writes them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'storycast-family-'));
    try {
      const out = join(dir, 'family.json');
      const args = ['--random', '2', '--random-seed', '7', '--recipients', '300', '--seeds', '1', '--strategy', 'bracket'];
      const { stdout } = await bench(...args, '--json', out);
      expect(stdout).toContain('Random family (seed 7, 2 profiles), 300 recipients');
      expect(stdout).toContain('Plain family (the same draws, only the search left) (seed 7, 2 profiles), 300 recipients');
      expect(stdout).toMatch(/^Random family targets \(best built-in: bracket; 2 profiles from seed 7, 1 seeds each\)$/m);
      expect(stdout).toMatch(/^was {3}bracket: p95 completion\/oracle over the family's runs @ 300 /m);
      expect(stdout).toMatch(/^Plain family targets \(best built-in: bracket; 2 profiles from seed 7, 1 seeds each\)$/m);
      expect(stdout).toMatch(/^(PASS|FAIL) {2}bracket: p95 completion\/oracle over the family's runs @ 300 [\d.]+ <= 2\.2 /m);
      expect(stdout).not.toContain('step-down');
      expect(stdout).toMatch(/^12 runs \(4 cases x 1 sizes x 1 seeds x 3 contenders\)/m);
      const json = JSON.parse(await readFile(out, 'utf8')) as {
        rows: unknown[];
        family: {
          seed: number;
          rows: { profile: string }[];
          targets: unknown[];
          previousTargets: unknown[];
          cases: { name: string; profile: unknown }[];
        };
        plain: { rows: { profile: string }[]; targets: unknown[]; cases: { name: string; profile: unknown }[] };
      };
      expect(json.rows).toEqual([]);
      expect(json.family.seed).toBe(7);
      expect(json.family.cases.map((c) => c.profile)).toEqual([drawProfile(7, 0), drawProfile(7, 1)]);
      expect([...new Set(json.family.rows.map((r) => r.profile))].sort()).toEqual(['random-7-001', 'random-7-002']);
      expect(json.family.targets.length).toBeGreaterThan(0);
      expect(json.family.previousTargets.length).toBe(2);
      expect(json.plain.cases.map((c) => c.profile)).toEqual([drawProfile(7, 0, 'plain'), drawProfile(7, 1, 'plain')]);
      expect([...new Set(json.plain.rows.map((r) => r.profile))].sort()).toEqual(['plain-7-001', 'plain-7-002']);
      expect(json.plain.targets.length).toBe(4);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('--suite runs the suite beside the family, each reported on its own', async () => {
    const args = ['--random', '1', '--suite', '--case', 'step-down', '--case', 'random-1-001', '--recipients', '300', '--seeds', '1'];
    const { stdout } = await bench(...args, '--strategy', 'bracket');
    expect(stdout).toMatch(/^Targets \(best built-in: bracket\)$/m);
    expect(stdout).toMatch(/^Random family targets \(best built-in: bracket; 1 profiles from seed 1/m);
    expect(stdout).not.toContain('Plain family');
    const error = await bench('--random-seed', '3').catch((e: unknown) => e as { code: number; stderr: string });
    expect(error).toMatchObject({ code: 1, stderr: expect.stringMatching(/--random-seed and --suite go with --random N/) });
    const dropped = await bench('--random', '2', '--profile', 'realistic').catch((e: unknown) => e as { code: number; stderr: string });
    expect(dropped).toMatchObject({ code: 1, stderr: expect.stringMatching(/--profile adds to the suite, which --random replaces/) });
  });
});
