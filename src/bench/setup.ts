/**
 * From what a user asked for (strategy names and modules, extra profile files,
 * sizes, seeds, a random family) to what the matrix runs: shared by the CLI and
 * its worker threads, which each rebuild the same cases and load the same
 * strategy modules from these inputs (functions do not cross threads).
 */
import { builtinStrategies } from '../../strategies/index.js';
import type { AnyStrategy } from '../../strategies/sdk.js';
import { loadConfig, type SmartSendConfig } from '../config.js';
import { loadProfile } from '../transport/sim/profile.js';
import { loadStrategies, StrategyLoadError, type StrategyRegistry } from '../strategy-registry.js';
import { fixed, INFORMED, ORACLE } from './baselines.js';
import { familyCases, type FamilyInputs } from './random-family.js';
import type { BenchCase, Contender } from './run.js';
import { defaultSuite } from './suite.js';

export interface BenchInputs {
  /** Strategy names; empty for every registered one (and the `informed` reference, which may also be named). */
  readonly strategies: readonly string[];
  readonly profileFiles: readonly string[];
  readonly recipients: readonly number[];
  readonly seeds: readonly number[];
  /** Case names to run; empty or absent for every case (the suite, or the family). */
  readonly cases?: readonly string[];
  /** --strategy-module paths, loaded like STORYCAST_STRATEGY_MODULES (after them). */
  readonly strategyModules?: readonly string[];
  /** --random: run profiles drawn from the random family (and its plain twin) instead of the suite. */
  readonly random?: FamilyInputs;
  /** With --random, run the suite too (each is reported on its own). */
  readonly suite?: boolean;
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
  const registry = await loadRegistry(config.server.strategyModules, inputs.strategyModules ?? [], config.server.defaultStrategy);
  // `informed` is a reference, not a strategy: in every full run, and in a narrowed one that names it.
  const withInformed = inputs.strategies.length === 0 || inputs.strategies.includes(INFORMED);
  const names = inputs.strategies.length > 0 ? inputs.strategies.filter((n) => n !== INFORMED) : registry.list().map((s) => s.name);
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
  const family = inputs.random
    ? [...familyCases(inputs.random.count, inputs.random.seed), ...familyCases(inputs.random.count, inputs.random.seed, 'plain')]
    : [];
  const all = [...(!inputs.random || inputs.suite ? await defaultSuite(config.smartSend, extra) : []), ...family];
  const wanted = inputs.cases ?? [];
  for (const name of wanted) {
    if (!all.some((c) => c.name === name)) throw new Error(`--case "${name}": no such case (have: ${all.map((c) => c.name).join(', ')})`);
  }
  const cases = wanted.length > 0 ? all.filter((c) => wanted.includes(c.name)) : all;
  const reference: Contender[] = withInformed ? [INFORMED] : [];
  const builtinNames = builtinStrategies.map((s) => s.name).filter((n) => strategies.some((s) => s.name === n));
  return {
    config: config.smartSend,
    cases,
    strategies,
    contenders: [ORACLE, fixed, ...reference, ...strategies],
    builtinNames,
  };
}

/**
 * The server's loader, so a module behaves in the lab as it will in production:
 * same resolution (relative to the working directory, TypeScript through tsx),
 * same checks, same uniqueness of names. Its errors name the environment
 * variable; one from a --strategy-module path names the option instead.
 */
async function loadRegistry(fromEnv: readonly string[], fromCli: readonly string[], defaultName: string): Promise<StrategyRegistry> {
  try {
    return await loadStrategies([...fromEnv, ...fromCli], defaultName);
  } catch (error) {
    const entry = fromCli.find((e) => error instanceof StrategyLoadError && error.message.includes(`"${e}"`));
    if (!entry || !(error instanceof StrategyLoadError)) throw error;
    throw new StrategyLoadError(error.message.replace(/^STORYCAST_STRATEGY_MODULES:/, '--strategy-module:'), { cause: error.cause });
  }
}
