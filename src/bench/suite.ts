/**
 * The benchmark's cases: every network profile in src/bench/profiles (a cold start
 * each), the seed's three scenarios, session-memory cases on the built-in
 * `realistic` profile (cold, memory fresh and correct, 3x too high, 3x too low),
 * and fresh, correct memory on the weak account (`expensive-failures`).
 */
import { readdir } from 'node:fs/promises';
import { VirtualClock } from '../clock.js';
import type { SmartSendConfig } from '../config.js';
import { capacityAt } from '../transport/sim/model.js';
import { SimulatedNetwork } from '../transport/sim/network.js';
import { builtinProfiles, loadProfile, type SimProfile } from '../transport/sim/profile.js';
import { bestSize } from './baselines.js';
import type { BenchCase } from './run.js';

const SUITE_DIR = new URL('./profiles/', import.meta.url);
/**
 * The profile the memory cases start from: the built-in `realistic` account
 * (static, so "correct memory" has one right answer, and 3x its capacity is
 * still a batch that could once have succeeded within the timeout).
 */
const MEMORY_BASE = 'realistic';

/**
 * A weak account (capacity 450, failures hang) with fresh, correct memory: the
 * send after one that found the limit should not pay for its hung calls again.
 */
export const WEAK_MEMORY_BASE = 'expensive-failures';

async function suiteProfiles(): Promise<SimProfile[]> {
  const files = (await readdir(SUITE_DIR)).filter((f) => f.endsWith('.json')).sort();
  return Promise.all(files.map((f) => loadProfile(new URL(f, SUITE_DIR).pathname)));
}

function coldCase(profile: SimProfile): BenchCase {
  return { name: profile.name, description: profile.description ?? '', profile };
}

/** What a session would have proven on this profile: the oracle's size at the start. */
function correctProvenSize(profile: SimProfile, config: SmartSendConfig): number {
  const network = new SimulatedNetwork({ profile, clock: new VirtualClock(0) });
  return bestSize(network.oracle, config, 0).size;
}

/**
 * `base` with fresh, correct memory, as a send that found the limit leaves it:
 * what the oracle would send at the start proven, and one more than the
 * capacity failed (when the capacity is finite).
 */
function freshMemoryCase(base: SimProfile, config: SmartSendConfig): BenchCase {
  const right = correctProvenSize(base, config);
  const capacity = capacityAt(base, 0);
  const limit = Number.isFinite(capacity) && capacity >= right ? { failedSize: capacity + 1 } : {};
  const failed = 'failedSize' in limit ? `, failed at ${limit.failedSize}` : '';
  return {
    name: `${base.name}+memory`,
    description: `${base.name} with fresh, correct memory (proven ${right}${failed})`,
    profile: base,
    provenSize: right,
    ...limit,
    coldCase: base.name,
  };
}

export function memoryCases(base: SimProfile, config: SmartSendConfig): BenchCase[] {
  const right = correctProvenSize(base, config);
  const cold = base.name;
  return [
    freshMemoryCase(base, config),
    {
      name: `${cold}+memory-3x-high`,
      description: `${cold} with stale memory 3x too high (proven ${right * 3})`,
      profile: base,
      provenSize: right * 3,
      coldCase: cold,
    },
    {
      name: `${cold}+memory-3x-low`,
      description: `${cold} with stale memory 3x too low (proven ${Math.max(1, Math.round(right / 3))})`,
      profile: base,
      provenSize: Math.max(1, Math.round(right / 3)),
      coldCase: cold,
    },
  ];
}

export function seedCases(): BenchCase[] {
  const p = builtinProfiles();
  return [
    { name: 'seed-first-send', description: "the seed's scenario 1: first send, no history", profile: p['seed-first-send']! },
    {
      name: 'seed-second-send',
      description: "the seed's scenario 2: history says 4000",
      profile: p['seed-second-send']!,
      provenSize: 4000,
    },
    {
      name: 'seed-network-issues',
      description: "the seed's scenario 3: history says 5000, the network now takes 4500",
      profile: p['seed-network-issues']!,
      provenSize: 5000,
    },
  ];
}

/**
 * The default suite, with `extra` profiles added (or replacing a suite
 * profile of the same name). Memory cases follow MEMORY_BASE if present.
 */
export async function defaultSuite(config: SmartSendConfig, extra: readonly SimProfile[] = []): Promise<BenchCase[]> {
  const byName = new Map((await suiteProfiles()).map((p) => [p.name, p]));
  byName.set(MEMORY_BASE, builtinProfiles()[MEMORY_BASE]!);
  for (const p of extra) byName.set(p.name, p);
  const cases = [...byName.values()].map(coldCase);
  const base = byName.get(MEMORY_BASE);
  const weak = byName.get(WEAK_MEMORY_BASE);
  return [...cases, ...seedCases(), ...(base ? memoryCases(base, config) : []), ...(weak ? [freshMemoryCase(weak, config)] : [])];
}
