/**
 * The strategies a server offers: the built-ins plus third-party modules named
 * in STORYCAST_STRATEGY_MODULES. A module that is broken stops start-up; a
 * misconfigured strategy is better found at boot than by the first send.
 */
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { builtinStrategies, isDefinedStrategy, type AnyStrategy } from '../strategies/index.js';

export type { AnyStrategy };

export class StrategyLoadError extends Error {
  override readonly name = 'StrategyLoadError';
}

export class StrategyRegistry {
  private readonly byName = new Map<string, AnyStrategy>();

  constructor(
    strategies: readonly AnyStrategy[],
    readonly defaultName: string,
  ) {
    for (const s of strategies) {
      if (this.byName.has(s.name)) throw new StrategyLoadError(`two strategies are named "${s.name}"`);
      this.byName.set(s.name, s);
    }
    if (!this.byName.has(defaultName)) {
      throw new StrategyLoadError(
        `STORYCAST_DEFAULT_STRATEGY="${defaultName}": no such strategy (have: ${[...this.byName.keys()].join(', ')})`,
      );
    }
  }

  /** The named strategy; the default for an empty name; undefined when unknown. */
  get(name: string): AnyStrategy | undefined {
    return this.byName.get(name === '' ? this.defaultName : name);
  }

  list(): readonly AnyStrategy[] {
    return [...this.byName.values()];
  }
}

/** A relative path resolves against `cwd`; anything else (a package name) goes to import() as is. */
function specifierOf(entry: string, cwd: string): string {
  if (entry.startsWith('.') || isAbsolute(entry)) return pathToFileURL(resolve(cwd, entry)).href;
  return entry;
}

async function loadStrategyModule(entry: string, cwd = process.cwd()): Promise<AnyStrategy> {
  let module: { default?: unknown };
  try {
    module = (await import(specifierOf(entry, cwd))) as { default?: unknown };
  } catch (error) {
    throw new StrategyLoadError(`STORYCAST_STRATEGY_MODULES: cannot load "${entry}": ${(error as Error).message}`, { cause: error });
  }
  if (!isDefinedStrategy(module.default)) {
    throw new StrategyLoadError(
      `STORYCAST_STRATEGY_MODULES: "${entry}" must default-export a strategy made with defineStrategy() from the storycast strategy SDK`,
    );
  }
  return module.default;
}

/** Built-ins plus the given modules; names must be unique across all of them. */
export async function loadStrategies(modules: readonly string[], defaultName: string, cwd = process.cwd()): Promise<StrategyRegistry> {
  const all: AnyStrategy[] = [...builtinStrategies];
  const origin = new Map(all.map((s) => [s.name, 'built-in']));
  for (const entry of modules) {
    const strategy = await loadStrategyModule(entry, cwd);
    const previous = origin.get(strategy.name);
    if (previous) {
      throw new StrategyLoadError(
        `STORYCAST_STRATEGY_MODULES: "${entry}" defines strategy "${strategy.name}", already defined by ${previous === 'built-in' ? 'a built-in' : `"${previous}"`}`,
      );
    }
    origin.set(strategy.name, entry);
    all.push(strategy);
  }
  return new StrategyRegistry(all, defaultName);
}
