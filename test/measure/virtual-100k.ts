/**
 * A measurement, not a test: CPU time of one 100,000-recipient send with
 * timeouts, in virtual time, on the `degrading` profile (capacity steps down
 * mid-send, so batches time out and are retried). Run: npm run measure:virtual
 */
import adaptive from '../../strategies/adaptive.js';
import { VirtualClock } from '../../src/clock.js';
import { defaultConfig } from '../../src/config.js';
import { SendEngine } from '../../src/engine/engine.js';
import type { SummaryEvent } from '../../src/engine/events.js';
import { silentLogger } from '../../src/log.js';
import { createSessionMemory } from '../../src/memory/keyv-memory.js';
import { demoNumbers } from '../../src/recipients.js';
import { SimulatedNetwork } from '../../src/transport/sim/network.js';
import { builtinProfiles } from '../../src/transport/sim/profile.js';

const profileName = process.argv[2] ?? 'degrading';
const recipients = demoNumbers(100_000);
const clock = new VirtualClock(0);
const config = defaultConfig.smartSend;
const memory = createSessionMemory({ url: 'memory://', enabled: true, ttlMs: config.sessionMemoryTTL, clock, logger: silentLogger });
const transport = new SimulatedNetwork({ profile: builtinProfiles()[profileName]!, clock });
const engine = new SendEngine({ transport, clock, memory, config });

const cpu = process.cpuUsage();
const wall = performance.now();
const summary = await clock.run(async () => {
  let last: SummaryEvent | undefined;
  for await (const e of engine.send({ sessionId: 's', story: { kind: 'text', text: 'x' }, recipients, strategy: adaptive })) {
    if (e.type === 'summary') last = e;
  }
  return last!;
});
const used = process.cpuUsage(cpu);
const timeouts = transport.oracle.calls.filter((c) => c.outcome === 'aborted').length;
console.log(
  JSON.stringify({
    profile: profileName,
    recipients: summary.total,
    delivered: summary.delivered,
    failed: summary.failed.length,
    batches: summary.batches,
    timeouts,
    virtualSeconds: Math.round(summary.totalDurationMs / 1000),
    cpuMs: Math.round((used.user + used.system) / 1000),
    wallMs: Math.round(performance.now() - wall),
  }),
);
await memory.close();
