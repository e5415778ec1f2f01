/** Builds an engine in virtual time and runs sends to completion. */
import type { AnyStrategy } from '../../strategies/sdk.js';
import adaptive from '../../strategies/adaptive.js';
import { VirtualClock } from '../../src/clock.js';
import { defaultConfig, type SmartSendConfig } from '../../src/config.js';
import { SendEngine } from '../../src/engine/engine.js';
import type { BatchEvent, SendEvent, SummaryEvent } from '../../src/engine/events.js';
import { silentLogger } from '../../src/log.js';
import { createSessionMemory } from '../../src/memory/keyv-memory.js';
import type { SessionMemory } from '../../src/memory/types.js';
import type { Story, Transport } from '../../src/transport/port.js';

const textStory: Story = { kind: 'text', text: 'Hello from storycast' };

export function config(overrides: Partial<SmartSendConfig> = {}): SmartSendConfig {
  return { ...defaultConfig.smartSend, ...overrides };
}

export interface Rig {
  readonly clock: VirtualClock;
  readonly memory: SessionMemory;
  readonly engine: SendEngine;
  readonly config: SmartSendConfig;
}

export function rig(opts: {
  transport: (clock: VirtualClock) => Transport;
  config?: Partial<SmartSendConfig>;
  memory?: SessionMemory;
  clock?: VirtualClock;
  maxRecipients?: number;
}): Rig & { transport: Transport } {
  const clock = opts.clock ?? new VirtualClock(1_700_000_000_000);
  const cfg = config(opts.config);
  const memory =
    opts.memory ??
    createSessionMemory({ url: 'memory://', enabled: cfg.enableSessionLearning, ttlMs: cfg.sessionMemoryTTL, clock, logger: silentLogger });
  const transport = opts.transport(clock);
  const engine = new SendEngine({
    transport,
    clock,
    memory,
    config: cfg,
    ...(opts.maxRecipients ? { maxRecipients: opts.maxRecipients } : {}),
  });
  return { clock, memory, engine, config: cfg, transport };
}

/** Runs one send in virtual time and returns every event. */
export async function runSend(
  r: Rig,
  input: {
    sessionId?: string;
    recipients: readonly string[];
    strategy?: AnyStrategy;
    story?: Story;
    signal?: AbortSignal;
    onEvent?: (e: SendEvent) => void;
  },
): Promise<SendEvent[]> {
  return r.clock.run(async () => {
    const events: SendEvent[] = [];
    for await (const event of r.engine.send({
      sessionId: input.sessionId ?? 'session-1',
      story: input.story ?? textStory,
      recipients: input.recipients,
      strategy: input.strategy ?? adaptive,
      ...(input.signal ? { signal: input.signal } : {}),
    })) {
      events.push(event);
      input.onEvent?.(event);
    }
    return events;
  });
}

export function summaryOf(events: readonly SendEvent[]): SummaryEvent {
  const last = events.at(-1);
  if (last?.type !== 'summary') throw new Error(`last event is ${last?.type}, not summary`);
  return last;
}

export function batchesOf(events: readonly SendEvent[]): BatchEvent[] {
  return events.filter((e): e is BatchEvent => e.type === 'batch');
}
