/**
 * One experiment run end to end on the simulated network, in virtual time,
 * through the pipeline the server runs: chooseStrategy (arm from the
 * experiment in a MemoryExperimentStore, sticky) -> the engine sends with that
 * strategy and `choice` (memory keyed by choice.memoryKey) -> outcomeOf on the
 * send's events -> store.record -> experimentResults over store.outcomes.
 * All noise comes from the simulator (jitter, random failures, latency tail),
 * seeded per experiment so experiments are independent of each other.
 */
import { VirtualClock } from '../../src/clock.js';
import { defaultConfig } from '../../src/config.js';
import { SendEngine } from '../../src/engine/engine.js';
import type { SendEvent } from '../../src/engine/events.js';
import { SendError } from '../../src/engine/send-error.js';
import { chooseStrategy, type ChoiceDeps } from '../../src/experiments/choose.js';
import { outcomeOf } from '../../src/experiments/outcome.js';
import { experimentResults, type ExperimentResults } from '../../src/experiments/results.js';
import { MemoryExperimentStore } from '../../src/experiments/store.js';
import type { Experiment, ExperimentUnit, SendOutcome } from '../../src/experiments/types.js';
import { silentLogger } from '../../src/log.js';
import { createSessionMemory } from '../../src/memory/keyv-memory.js';
import { demoNumbers } from '../../src/recipients.js';
import { StrategyRegistry } from '../../src/strategy-registry.js';
import { SimulatedNetwork } from '../../src/transport/sim/network.js';
import type { SimProfile } from '../../src/transport/sim/profile.js';
import { builtinStrategies } from '../../strategies/index.js';

export interface SimExperimentSpec {
  readonly key: string;
  readonly unit: ExperimentUnit;
  /** [control strategy, treatment strategy]; the arms are named 'control' and 'treatment' whatever they run. */
  readonly strategies: readonly [string, string];
  /**
   * How many units enter. `perArm`: exactly that many in each arm, enrolment
   * closing for an arm once it has them (see runSimExperiment). `total`: that
   * many units, split however the hash splits them (what the SRM check sees).
   */
  readonly enrol: { readonly perArm: number } | { readonly total: number };
  /** Sends each session makes, one after the other (its later sends may use what session memory learnt). */
  readonly sendsPerSession: number;
  readonly recipients: number;
  readonly profile: SimProfile;
  /** The network's seed: every session's luck derives from it and the session id. */
  readonly seed: number;
}

export interface SimExperimentRun {
  readonly experiment: Experiment;
  readonly outcomes: readonly SendOutcome[];
  readonly results: ExperimentResults;
}

const config = defaultConfig.smartSend;
const registry = new StrategyRegistry(builtinStrategies, 'adaptive');
const story = { kind: 'text', text: 'experiment' } as const;

/**
 * Runs the experiment until its units are enrolled. Sessions (and, for unit
 * SEND, their sends) arrive one after another in a fixed order and go through
 * chooseStrategy; with `perArm`, a unit that lands in an arm already full is
 * not sent, as if enrolment for that arm had closed. That rule looks only at
 * assignments, never at outcomes, so it cannot bias the comparison; it makes
 * arm sizes exact, so every experiment reaches the results' minimum of units
 * per arm. Sends run one at a time, each in its own VirtualClock.run: one
 * clock and network per experiment keeps experiments apart, and concurrency
 * would only cost CPU here (measured: ~2x per send).
 */
export async function runSimExperiment(spec: SimExperimentSpec): Promise<SimExperimentRun> {
  const experiment: Experiment = {
    key: spec.key,
    description: `${spec.strategies[1]} vs ${spec.strategies[0]} on ${spec.profile.name}`,
    arms: [
      { name: 'control', strategy: spec.strategies[0], weight: 1, control: true },
      { name: 'treatment', strategy: spec.strategies[1], weight: 1, control: false },
    ],
    unit: spec.unit,
    coverage: 1,
    state: 'RUNNING',
    createdAt: 0,
  };
  const store = new MemoryExperimentStore();
  await store.create(experiment);
  const deps: ChoiceDeps = { strategyNamed: (name) => registry.get(name), experiments: store, defaultExperiment: '' };

  const clock = new VirtualClock(1_700_000_000_000);
  const network = new SimulatedNetwork({ profile: spec.profile, clock, seed: spec.seed });
  const memory = createSessionMemory({ url: 'memory://', enabled: true, ttlMs: config.sessionMemoryTTL, clock, logger: silentLogger });
  let sendCount = 0;
  const engine = new SendEngine({ transport: network, clock, memory, config, newSendId: () => `${spec.key}/send-${sendCount++}` });
  const recipients = demoNumbers(spec.recipients);

  const perArm = 'perArm' in spec.enrol ? spec.enrol.perArm : Number.POSITIVE_INFINITY;
  const total = 'total' in spec.enrol ? spec.enrol.total : Number.POSITIVE_INFINITY;
  const filled = new Map<string, Set<string>>(experiment.arms.map((a) => [a.name, new Set<string>()]));
  const enrolled = () => [...filled.values()].reduce((sum, units) => sum + units.size, 0);
  const done = () => enrolled() >= total || [...filled.values()].every((units) => units.size >= perArm);
  // Arms are 50/50, so about 2·perArm units fill both; the bound only guards against a hash that never fills one.
  for (let s = 0; !done() && s < 20 * Math.min(perArm, total); s++) {
    const sessionId = `${spec.key}/session-${s}`;
    for (let k = 0; k < spec.sendsPerSession; k++) {
      const { strategy, choice } = await chooseStrategy(deps, {
        sessionId,
        strategy: '',
        experiment: spec.key,
        requestId: `${sessionId}/request-${k}`,
      });
      const units = filled.get(choice.arm ?? '');
      if (!strategy || !choice.unit || !units) throw new Error(`send not counted in the experiment: ${choice.reason}`);
      if (!units.has(choice.unit)) {
        if (units.size >= perArm || enrolled() >= total) continue;
        units.add(choice.unit);
      }
      const events = await clock.run(async () => {
        const out: SendEvent[] = [];
        try {
          for await (const event of engine.send({ sessionId, story, recipients, strategy, choice })) out.push(event);
        } catch (error) {
          // The anchor failed on every attempt: the send ends without a summary and counts as not finished, as on the server.
          if (!(error instanceof SendError) || out[0]?.type !== 'planned') throw error;
        }
        return out;
      });
      const planned = events[0];
      const outcome = outcomeOf({ sendId: planned?.type === 'planned' ? planned.sendId : '', sessionId, events, at: clock.now() });
      if (!outcome) throw new Error(`send ${k} of ${sessionId} has no outcome`);
      await store.record(outcome);
    }
  }
  network.close();
  const outcomes = await store.outcomes(spec.key);
  return { experiment, outcomes, results: experimentResults(experiment, outcomes) };
}
