/**
 * One benchmark run: one strategy, one case, one list size, one seed, through
 * the real SendEngine on the simulated network in virtual time. The code under
 * measure is the code the server runs; only the clock and transport differ.
 */
import type { AnyStrategy } from '../../strategies/sdk.js';
import { VirtualClock } from '../clock.js';
import type { SmartSendConfig } from '../config.js';
import { SendEngine } from '../engine/engine.js';
import type { SummaryEvent } from '../engine/events.js';
import { silentLogger } from '../log.js';
import { createSessionMemory } from '../memory/keyv-memory.js';
import { demoNumbers } from '../recipients.js';
import { SimulatedNetwork } from '../transport/sim/network.js';
import type { SimProfile } from '../transport/sim/profile.js';
import { FIXED, INFORMED, informed, ORACLE, oracle } from './baselines.js';
import type { FamilyKind } from './random-family.js';
import type { SizeTrace } from './chart.js';

export interface BenchCase {
  /** Unique in a suite; what rows and charts call it. */
  readonly name: string;
  readonly description: string;
  readonly profile: SimProfile;
  /** The session's proven batch size before the send (memory), if any. */
  readonly provenSize?: number;
  /** The smallest size above it that failed on an earlier send (memory of the limit), if any. */
  readonly failedSize?: number;
  /** For memory cases: the case without memory to compare with. */
  readonly coldCase?: string;
  /** Drawn from the random family or its plain twin (--random), each reported apart from the suite. */
  readonly family?: FamilyKind;
}

export interface RunResult {
  readonly strategy: string;
  readonly case: string;
  readonly recipients: number;
  readonly seed: number;
  /** Time to deliver the whole list; when the send gave up on some recipients, scaled up by total/delivered. */
  readonly completionMs: number;
  /** Transport calls after the anchor. */
  readonly calls: number;
  readonly failedCalls: number;
  /** Recipients carried by calls that failed. */
  readonly wastedSends: number;
  /** Valid recipients that ended failed (the send gave up on them). */
  readonly undelivered: number;
  /** Valid recipients neither delivered nor failed: must be 0. */
  readonly lost: number;
  readonly trace: SizeTrace;
}

const SESSION = 'bench';
const lists = new Map<number, string[]>();

function recipientsOf(n: number): string[] {
  let list = lists.get(n);
  if (!list) {
    list = demoNumbers(n);
    lists.set(n, list);
  }
  return list;
}

/** A strategy to measure, or the oracle or `informed` (built per run: they read that run's network). */
export type Contender = AnyStrategy | typeof ORACLE | typeof INFORMED;

const contenderName = (c: Contender): string => (typeof c === 'string' ? c : c.name);

export async function runOnce(
  contender: Contender,
  benchCase: BenchCase,
  recipients: number,
  seed: number,
  config: SmartSendConfig,
): Promise<RunResult> {
  if (contender !== ORACLE) return runContender(contender, benchCase, recipients, seed, config);
  // The oracle's planner searches a family of plans, and `informed`'s run is one more plan that knowing
  // the network allows: the lower bound is the faster of the two that delivers everyone.
  const [planned, reference] = await Promise.all([
    runContender(ORACLE, benchCase, recipients, seed, config),
    runContender(INFORMED, benchCase, recipients, seed, config),
  ]);
  if (reference.undelivered > 0 || reference.completionMs >= planned.completionMs) return planned;
  const points = reference.trace.points.map((p) => ({ ...p, ...(p.reason ? { reason: `${INFORMED}'s plan: ${p.reason}` } : {}) }));
  return { ...reference, strategy: ORACLE, trace: { ...reference.trace, strategy: ORACLE, points } };
}

async function runContender(
  contender: Contender,
  benchCase: BenchCase,
  recipients: number,
  seed: number,
  config: SmartSendConfig,
): Promise<RunResult> {
  const clock = new VirtualClock(0);
  const network = new SimulatedNetwork({ profile: benchCase.profile, clock, seed });
  // Baselines never learn: the oracle and `informed` know, and `fixed` is defined as memoryless.
  const name = contenderName(contender);
  const learns = name !== ORACLE && name !== INFORMED && name !== FIXED;
  const memory = createSessionMemory({
    url: 'memory://',
    enabled: learns,
    ttlMs: config.sessionMemoryTTL,
    clock,
    logger: silentLogger,
    sweepIntervalMs: 0,
  });
  try {
    if (learns && benchCase.provenSize) {
      const recorder = memory.begin(SESSION, null);
      recorder.record({
        size: benchCase.provenSize,
        durationMs: network.oracle.baseLatencyMs(benchCase.provenSize),
        ok: true,
        sizeRelated: true,
      });
      if (benchCase.failedSize)
        recorder.record({ size: benchCase.failedSize, durationMs: config.batchTimeoutMs, ok: false, sizeRelated: true });
      await recorder.flush();
    }
    const chosen =
      contender === ORACLE
        ? oracle(network.oracle, clock, config)
        : contender === INFORMED
          ? informed(network.oracle, clock, config)
          : contender;
    const engine = new SendEngine({ transport: network, clock, memory, config, maxRecipients: Math.max(recipients, 1) });
    const points: SizeTrace['points'] = [];
    let anchorMs: number | undefined;
    const summary = await clock.run(async () => {
      let last: SummaryEvent | undefined;
      for await (const event of engine.send({
        sessionId: SESSION,
        story: { kind: 'text', text: 'bench' },
        recipients: recipientsOf(recipients),
        strategy: chosen,
      })) {
        if (event.type === 'anchor') anchorMs = event.durationMs;
        if (event.type === 'batch') {
          points.push({
            tMs: clock.now() - event.durationMs,
            size: event.size,
            ok: event.ok,
            durationMs: event.durationMs,
            ...(event.error ? { error: event.error.code } : {}),
            next: event.nextSize,
            reason: event.reason,
          });
        }
        if (event.type === 'summary') last = event;
      }
      return last!;
    });
    const failed = points.filter((p) => !p.ok);
    return {
      strategy: name,
      case: benchCase.name,
      recipients,
      seed,
      // Giving up on recipients must not look fast: a run that delivered only part
      // of the list is charged the time the whole list would take at its rate.
      completionMs:
        summary.delivered === summary.total
          ? summary.totalDurationMs
          : (summary.totalDurationMs * summary.total) / Math.max(1, summary.delivered),
      calls: points.length,
      failedCalls: failed.length,
      wastedSends: failed.reduce((sum, p) => sum + p.size, 0),
      undelivered: summary.failed.length,
      lost: summary.total - summary.delivered - summary.failed.length,
      trace: { strategy: name, points, finishedMs: summary.totalDurationMs, ...(anchorMs !== undefined ? { anchorMs } : {}) },
    };
  } finally {
    await memory.close();
  }
}
