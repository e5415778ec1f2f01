/**
 * From what a user asked for (strategy names, extra profile files, sizes,
 * seeds) to what the matrix runs: shared by the CLI and its worker threads.
 */
import { builtinStrategies } from '../../strategies/index.js';
import type { AnyStrategy } from '../../strategies/sdk.js';
import { loadConfig, type SmartSendConfig } from '../config.js';
import { loadProfile } from '../transport/sim/profile.js';
import { loadStrategies } from '../strategy-registry.js';
import { fixed, ORACLE } from './baselines.js';
import type { BenchCase, Contender } from './run.js';
import { defaultSuite } from './suite.js';

export interface BenchInputs {
  /** Strategy names; empty for every registered one. */
  readonly strategies: readonly string[];
  readonly profileFiles: readonly string[];
  readonly recipients: readonly number[];
  readonly seeds: readonly number[];
  /** Case names to run; empty or absent for the whole suite. */
  readonly cases?: readonly string[];
}

export interface ResolvedBench {
  readonly config: SmartSendConfig;
  readonly cases: BenchCase[];
  readonly strategies: AnyStrategy[];
  readonly contenders: Contender[];
  readonly builtinNames: string[];
}

export async function resolveBench(inputs: BenchInputs): Promise<ResolvedBench> {
  const config = loadConfig();
  const registry = await loadStrategies(config.server.strategyModules, config.server.defaultStrategy);
  const names = inputs.strategies.length > 0 ? inputs.strategies : registry.list().map((s) => s.name);
  const strategies = names.map((name) => {
    const s = registry.get(name);
    if (!s)
      throw new Error(
        `--strategy "${name}": no such strategy (have: ${registry
          .list()
          .map((x) => x.name)
          .join(', ')})`,
      );
    return s;
  });
  const extra = await Promise.all(inputs.profileFiles.map((file) => loadProfile(file)));
  const suite = await defaultSuite(config.smartSend, extra);
  const wanted = inputs.cases ?? [];
  for (const name of wanted) {
    if (!suite.some((c) => c.name === name))
      throw new Error(`--case "${name}": no such case (have: ${suite.map((c) => c.name).join(', ')})`);
  }
  const cases = wanted.length > 0 ? suite.filter((c) => wanted.includes(c.name)) : suite;
  const builtinNames = builtinStrategies.map((s) => s.name).filter((n) => strategies.some((s) => s.name === n));
  return { config: config.smartSend, cases, strategies, contenders: [ORACLE, fixed, ...strategies], builtinNames };
}
