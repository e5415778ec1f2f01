/**
 * `npm run demo`: one send through the same parts the server runs (config,
 * strategies, session memory, the simulated network, the engine), in process,
 * printing each event as it streams; no server needed. Run it twice: the
 * second send starts at the size the first one proved.
 *
 *   STORYCAST_DEMO_RECIPIENTS  list size (default 5000)
 *   STORYCAST_DEMO_SESSION     session id (default "demo")
 *   STORYCAST_DEMO_STRATEGY    strategy name (default: STORYCAST_DEFAULT_STRATEGY)
 */
import { ConfigError, loadConfig } from '../config.js';
import type { SendEvent } from '../engine/events.js';
import { createLogger } from '../log.js';
import { demoNumbers } from '../recipients.js';
import { createRuntime } from '../runtime.js';
import { exitOnStartupError } from '../util/startup-error.js';

function describe(event: SendEvent): string {
  switch (event.type) {
    case 'planned':
      return `planned  ${event.total} recipients (${event.invalid.length} invalid, ${event.duplicates} duplicates), strategy ${event.strategy}, ${
        event.usedHistory ? `proven size ${event.provenSize}` : 'no history'
      }; first batch ${event.firstBatchSize}: ${event.reason}`;
    case 'anchor':
      return `anchor   message ${event.messageId} to ${event.recipients} in ${Math.round(event.durationMs)} ms`;
    case 'batch':
      return `batch ${String(event.index).padStart(3)} ${String(event.size).padStart(6)} ${event.ok ? 'ok  ' : `FAIL ${event.error?.code}`} ${String(Math.round(event.durationMs)).padStart(6)} ms ${event.speed.padEnd(6)} delivered ${event.delivered}, remaining ${event.remaining} -> next ${event.nextSize}: ${event.reason}`;
    case 'summary':
      return `summary  ${event.delivered}/${event.total} delivered, ${event.failed.length} failed, ${event.batches} batches [${event.batchSequence.join(', ')}] in ${Math.round(event.totalDurationMs)} ms; proven size ${event.learning.maxProvenBatchSize}${
        event.learning.willSkipRampingNextTime ? ', next send skips the ramp' : ''
      }${event.stoppedBy ? `; stopped by ${event.stoppedBy}` : ''}`;
  }
}

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(process.env.STORYCAST_LOG_LEVEL ?? 'warn');
  const runtime = await createRuntime(config, logger);
  const count = Number(process.env.STORYCAST_DEMO_RECIPIENTS ?? 5000);
  if (!Number.isSafeInteger(count) || count < 1)
    throw new ConfigError([
      `STORYCAST_DEMO_RECIPIENTS=${JSON.stringify(process.env.STORYCAST_DEMO_RECIPIENTS)}: expected a positive integer`,
    ]);
  const strategyName = process.env.STORYCAST_DEMO_STRATEGY ?? '';
  const strategy = runtime.strategies.get(strategyName);
  if (!strategy) throw new ConfigError([`STORYCAST_DEMO_STRATEGY=${JSON.stringify(strategyName)}: no such strategy`]);
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  const recipients = demoNumbers(count);
  console.log(
    `storycast demo: ${config.server.transport} network, profile ${config.server.simProfile}, time x${config.server.simTimeScale}, store ${config.server.store}`,
  );
  try {
    for await (const event of runtime.engine.send({
      sessionId: process.env.STORYCAST_DEMO_SESSION ?? 'demo',
      story: { kind: 'text', text: 'Hello from storycast' },
      recipients,
      strategy,
      signal: controller.signal,
    })) {
      console.log(describe(event));
    }
  } finally {
    await runtime.close();
  }
}

main().catch(exitOnStartupError('storycast'));
