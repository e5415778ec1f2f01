/**
 * "The model's time" for a send of the load benchmark: the same send (same
 * session id, recipients, strategy, engine settings, profile and seed) run
 * alone through the engine on the simulated network in virtual time, where
 * CPU work takes no time at all. Its summary's totalDurationMs is then the
 * network's latencies plus the engine's own waits (the session pacer's 1/rate
 * spacing above all) and nothing else: what a server that costs nothing would
 * take. The server measures the same span on its clock, from the request to
 * the summary; the client's end-to-end time adds the wire and every wait for
 * the CPU, which is what the ratio shows.
 */
import { VirtualClock } from '../../src/clock.js';
import { loadConfig } from '../../src/config.js';
import { SendEngine } from '../../src/engine/engine.js';
import { silentLogger } from '../../src/log.js';
import { createSessionMemory } from '../../src/memory/keyv-memory.js';
import { loadStrategies } from '../../src/strategy-registry.js';
import { SimulatedNetwork } from '../../src/transport/sim/network.js';
import { loadProfile } from '../../src/transport/sim/profile.js';

/**
 * The model's time in real ms for each session's send, from the environment the
 * server is started with (STORYCAST_SIM_TIME_SCALE divides it, as it does the server's waits).
 */
export async function modelTimes(
  env: Record<string, string>,
  sessionIds: readonly string[],
  recipients: readonly string[],
): Promise<Map<string, number>> {
  const config = loadConfig(env);
  const { server, smartSend } = config;
  const strategy = (await loadStrategies(server.strategyModules, server.defaultStrategy)).get('')!;
  const profile = await loadProfile(server.simProfile);
  const times = new Map<string, number>();
  for (const sessionId of sessionIds) {
    // A fresh network and memory per send: alone, with no history, as each benchmark session is.
    const clock = new VirtualClock(0);
    const memory = createSessionMemory({
      url: 'memory://',
      enabled: smartSend.enableSessionLearning,
      ttlMs: smartSend.sessionMemoryTTL,
      clock,
      logger: silentLogger,
    });
    const transport = new SimulatedNetwork({ profile, clock, seed: server.simSeed });
    const engine = new SendEngine({ transport, clock, memory, config: smartSend, maxRecipients: server.maxRecipients });
    const ms = await clock.run(async () => {
      for await (const e of engine.send({ sessionId, story: { kind: 'text', text: 'load' }, recipients, strategy })) {
        if (e.type === 'summary') return e.totalDurationMs;
      }
      throw new Error(`the model's send for ${sessionId} ended without a summary`);
    });
    await memory.close();
    times.set(sessionId, ms / server.simTimeScale);
  }
  return times;
}
