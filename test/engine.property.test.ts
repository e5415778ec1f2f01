import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { builtinStrategies } from '../strategies/index.js';
import type { PlannedEvent } from '../src/engine/events.js';
import { SendError } from '../src/engine/send-error.js';
import type { TransportErrorCode } from '../src/transport/port.js';
import { batchesOf, rig, runSend, summaryOf } from './support/harness.js';
import { numbers, ScriptedTransport, type ScriptedOutcome } from './support/scripted-transport.js';

type Kind = 'ok' | 'fail' | 'hang' | 'rate' | 'fatal' | 'late' | 'disconnect' | 'refuse';
const kind = fc.oneof(
  { weight: 12, arbitrary: fc.constant<Kind>('ok') },
  { weight: 3, arbitrary: fc.constant<Kind>('fail') },
  { weight: 2, arbitrary: fc.constant<Kind>('hang') },
  { weight: 1, arbitrary: fc.constant<Kind>('late') },
  { weight: 1, arbitrary: fc.constant<Kind>('disconnect') },
  { weight: 1, arbitrary: fc.constant<Kind>('refuse') },
  { weight: 1, arbitrary: fc.constant<Kind>('rate') },
  { weight: 1, arbitrary: fc.constant<Kind>('fatal') },
);

const scenario = fc.record({
  valid: fc.integer({ min: 1, max: 2500 }),
  duplicates: fc.integer({ min: 0, max: 50 }),
  invalid: fc.integer({ min: 0, max: 20 }),
  maxBatchSize: fc.integer({ min: 1, max: 6000 }),
  maxAttempts: fc.integer({ min: 1, max: 4 }),
  minRecipientsForSmartSend: fc.integer({ min: 1, max: 300 }),
  maxBatchesPerSecond: fc.constantFrom(0.5, 1, 2, 5),
  batchTimeoutMs: fc.integer({ min: 500, max: 20_000 }),
  strategy: fc.constantFrom(...builtinStrategies),
  pattern: fc.array(kind, { minLength: 1, maxLength: 40 }),
  perRecipientMs: fc.double({ min: 0, max: 5, noNaN: true }),
});

const CODES: Record<'fail' | 'rate' | 'fatal' | 'disconnect', TransportErrorCode> = {
  fail: 'SEND_FAILED',
  rate: 'RATE_LIMITED',
  fatal: 'LOGGED_OUT',
  disconnect: 'DISCONNECTED',
};

describe('engine invariants (property)', () => {
  it('never loses or double-sends a recipient (late acks and refusals included), never exceeds maxBatchSize, keeps the pace', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (sc) => {
        let transport!: ScriptedTransport;
        const r = rig({
          transport: (clock) =>
            (transport = new ScriptedTransport(clock, (call): ScriptedOutcome => {
              const k = sc.pattern[call.index % sc.pattern.length]!;
              const latencyMs = 50 + call.recipients.length * sc.perRecipientMs;
              if (k === 'ok') return { latencyMs };
              if (k === 'hang') return { latencyMs: 0, fail: 'HANG' };
              // An anchor that is acked late is re-sent with the same message id (Baileys waits for it): no late news.
              if (k === 'late') return { latencyMs: 0, fail: call.messageId ? 'LATE' : 'HANG' };
              if (k === 'refuse') return { latencyMs, refuse: call.recipients.slice(0, 1 + (call.index % 3)) };
              return { latencyMs, fail: CODES[k], ...(k === 'rate' ? { retryAfterMs: 700 } : {}) };
            })),
          config: {
            maxBatchSize: sc.maxBatchSize,
            maxAttempts: sc.maxAttempts,
            minRecipientsForSmartSend: sc.minRecipientsForSmartSend,
            maxBatchesPerSecond: sc.maxBatchesPerSecond,
            batchTimeoutMs: sc.batchTimeoutMs,
          },
        });
        const valid = numbers(sc.valid);
        const inputs = [...valid, ...valid.slice(0, sc.duplicates), ...Array.from({ length: sc.invalid }, (_, i) => `bad-${i}`)];
        let events: Awaited<ReturnType<typeof runSend>>;
        try {
          events = await runSend(r, { recipients: inputs, strategy: sc.strategy });
        } catch (error) {
          // Only the anchor may fail a send outright, and then nothing else was sent.
          expect(error).toBeInstanceOf(SendError);
          expect(transport.calls.every((c) => c.messageId === undefined)).toBe(true);
          expect(transport.delivered.size).toBe(0);
          return;
        }
        const planned = events[0] as PlannedEvent;
        const summary = summaryOf(events);
        expect(planned.total).toBe(sc.valid);
        expect(planned.invalid).toHaveLength(sc.invalid);
        expect(summary.delivered + summary.failed.length).toBe(sc.valid);

        const failed = new Set(summary.failed.map((f) => f.recipient));
        expect(failed.size).toBe(summary.failed.length);
        for (const f of summary.failed) {
          expect(transport.delivered.get(f.recipient) ?? 0).toBe(0);
          expect(f.reason.length).toBeGreaterThan(0);
        }
        let deliveredOnce = 0;
        for (const [, n] of transport.delivered) {
          expect(n).toBe(1);
          deliveredOnce++;
        }
        expect(deliveredOnce).toBe(summary.delivered);

        const anchorCalls = transport.calls.filter((c) => c.messageId === undefined);
        for (const call of transport.calls) expect(call.recipients.length).toBeLessThanOrEqual(sc.maxBatchSize);
        const calls = batchesOf(events).filter((b) => !b.late);
        expect(calls).toHaveLength(transport.calls.length - anchorCalls.length);
        for (const b of batchesOf(events)) expect(b.delivered + b.failed + b.remaining).toBe(sc.valid);
        const interval = 1000 / sc.maxBatchesPerSecond;
        for (let i = 1; i < transport.calls.length; i++) {
          expect(transport.calls[i]!.startedAt - transport.calls[i - 1]!.startedAt).toBeGreaterThanOrEqual(interval - 1e-6);
        }
      }),
      { numRuns: 80, seed: 20261128 },
    );
  });
});
