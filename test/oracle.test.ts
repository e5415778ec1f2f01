/** The oracle plans around the network's schedule, and no built-in strategy finishes before it. */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { builtinStrategies } from '../strategies/index.js';
import { fixed, ORACLE } from '../src/bench/baselines.js';
import { runOnce, type BenchCase, type RunResult } from '../src/bench/run.js';
import { defaultConfig } from '../src/config.js';
import { failureAt } from '../src/transport/sim/model.js';
import { builtinProfiles, loadProfile } from '../src/transport/sim/profile.js';

const config = defaultConfig.smartSend;
const suiteCase = async (name: string): Promise<BenchCase> => {
  const profile = await loadProfile(fileURLToPath(new URL(`../src/bench/profiles/${name}.json`, import.meta.url)));
  return { name, description: '', profile };
};
const sizes = (run: RunResult) => run.trace.points.map((p) => p.size);

describe('the oracle', () => {
  it('times its calls to a capacity that drops mid-send: everything above the new capacity starts before the drop', async () => {
    // 7000 until 5 s, then 900 (above it calls hang): sending 6666 first ends too close to the drop.
    const stepDown = await suiteCase('step-down');
    for (const seed of [1, 2, 3]) {
      const run = await runOnce(ORACLE, stepDown, 10_000, seed, config);
      expect(run.failedCalls).toBe(0);
      expect(run.trace.points.filter((p) => p.size > 900).every((p) => p.tMs < 5000)).toBe(true);
      // Two calls after the anchor: the second starts early enough to send all the rest at the old capacity.
      expect(sizes(run)).toHaveLength(2);
    }
  });

  it('starts its calls before an outage rather than wait it out', async () => {
    // 90% of calls fail from 4 s to 9 s: a call is judged by its start, so one started at 3.9 s goes through.
    const bursts = await suiteCase('failure-bursts');
    const outage = (t: number) => failureAt(bursts.profile, t).rate >= 0.5;
    const run = await runOnce(ORACLE, bursts, 10_000, 1, config);
    expect(run.trace.points.filter((p) => p.size > 1).every((p) => !outage(p.tMs))).toBe(true);
    expect(run.trace.finishedMs).toBeLessThan(9000);
    expect(run.undelivered).toBe(0);
  });

  it('splits the last two calls evenly, and without jitter picks the split whose whole-ms roundings finish first', async () => {
    // 600 ms + 1.2 ms each, capacity 450, no jitter, no failures: 999 after the anchor is 450 and two calls.
    const weak: BenchCase = {
      name: 'weak',
      description: '',
      profile: { ...builtinProfiles()['seed-first-send']!, baseMs: 600, perRecipientMs: 1.2, capacity: 450 },
    };
    const run = await runOnce(ORACLE, weak, 1000, 1, config);
    const [first, a, b] = sizes(run);
    expect(first).toBe(450);
    expect(a! + b!).toBe(549);
    expect(Math.abs(a! - b!)).toBeLessThanOrEqual(40);
    // 275 + 274 rounds to 330 + 329 ms of per-recipient time; a split whose fractions round down saves 1 ms.
    const rounded = (n: number) => Math.round(600 + 1.2 * n);
    expect(rounded(a!) + rounded(b!)).toBe(Math.round(2 * 600 + 1.2 * 549 - 0.8));
  });

  it('is a lower bound: no built-in strategy or fixed finishes before it on a changing network', async () => {
    const beaten: string[] = [];
    for (const name of ['step-down', 'failure-bursts', 'slow-drift']) {
      const benchCase = await suiteCase(name);
      for (const seed of [1, 2]) {
        const limit = (await runOnce(ORACLE, benchCase, 10_000, seed, config)).completionMs;
        for (const contender of [fixed, ...builtinStrategies]) {
          const ratio = (await runOnce(contender, benchCase, 10_000, seed, config)).completionMs / limit;
          if (ratio < 1) beaten.push(`${contender.name} on ${name}, seed ${seed}: ${ratio.toFixed(3)}x`);
        }
      }
    }
    expect(beaten).toEqual([]);
  }, 60_000);
});
