/**
 * Wires a running storycast from its config: strategies, session memory,
 * transport and engine. The CLI demo uses it today; the gRPC server is built
 * on it next (issue 3), so both run the same parts.
 */
import { ScaledClock, systemClock, type Clock } from './clock.js';
import type { Config } from './config.js';
import { SendEngine } from './engine/engine.js';
import type { Logger } from './log.js';
import { createSessionMemory } from './memory/keyv-memory.js';
import type { SessionMemory } from './memory/types.js';
import { SimulatedSessions } from './sessions/simulated.js';
import type { SessionDirectory } from './sessions/types.js';
import { SimulatedNetwork } from './sim/network.js';
import { loadProfile } from './sim/profile.js';
import { loadStrategies, type StrategyRegistry } from './strategy-registry.js';
import type { Transport } from './transport.js';

/** A start-up problem worth a one-line message (not a stack trace). */
export class StartupError extends Error {
  override readonly name = 'StartupError';
}

export interface Runtime {
  readonly config: Config;
  readonly strategies: StrategyRegistry;
  readonly memory: SessionMemory;
  readonly transport: Transport;
  readonly sessions: SessionDirectory;
  readonly engine: SendEngine;
  /** The clock the engine and transport run on (scaled for the simulator). */
  readonly clock: Clock;
  close(): Promise<void>;
}

export async function createRuntime(config: Config, logger: Logger): Promise<Runtime> {
  const { server, smartSend } = config;
  const strategies = await loadStrategies(server.strategyModules, server.defaultStrategy);
  if (server.transport !== 'simulated') {
    throw new StartupError(`STORYCAST_TRANSPORT="${server.transport}": not available yet; use "simulated"`);
  }
  const profile = await loadProfile(server.simProfile).catch((error: Error) => {
    throw new StartupError(`STORYCAST_SIM_PROFILE="${server.simProfile}": ${error.message}`, { cause: error });
  });
  // The network and the engine share the simulation's clock; memory keeps real
  // time, so a TTL of 24 hours means 24 hours whatever the simulation's speed.
  const clock = new ScaledClock(server.simTimeScale);
  const transport = new SimulatedNetwork({ profile, clock, seed: server.simSeed });
  const memory = createSessionMemory({
    url: server.store,
    enabled: smartSend.enableSessionLearning,
    ttlMs: smartSend.sessionMemoryTTL,
    clock: systemClock,
    logger,
  });
  const engine = new SendEngine({ transport, clock, memory, config: smartSend, logger, maxRecipients: server.maxRecipients });
  logger.info(
    { transport: server.transport, profile: profile.name, timeScale: server.simTimeScale, store: server.store.replace(/\/\/[^@/]*@/, '//***@'), strategies: strategies.list().map((s) => s.name) },
    'storycast ready',
  );
  const sessions = new SimulatedSessions(transport);
  return {
    config,
    strategies,
    memory,
    transport,
    sessions,
    engine,
    clock,
    close: async () => {
      await sessions.close();
      await memory.close();
    },
  };
}
