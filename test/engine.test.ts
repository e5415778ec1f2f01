import { Keyv } from 'keyv';
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../src/clock.js';
import { silentLogger } from '../src/log.js';
import { KeyvSessionMemory } from '../src/memory/keyv-memory.js';
import aggressive from '../strategies/aggressive.js';
import { defineStrategy } from '../strategies/sdk.js';
import { planSize } from '../src/engine/engine.js';
import type { AnchorEvent, PlannedEvent } from '../src/engine/events.js';
import { SendError } from '../src/engine/send-error.js';
import { batchesOf, rig, runSend, summaryOf } from './support/harness.js';
import { numbers, ScriptedTransport, type Script } from './support/scripted-transport.js';

const quick: Script = (call) => ({ latencyMs: 100 + call.recipients.length * 0.1 });

function scripted(script: Script = quick, config = {}) {
  let transport!: ScriptedTransport;
  const r = rig({
    transport: (clock) => (transport = new ScriptedTransport(clock, script)),
    config,
  });
  return { ...r, transport };
}

describe('planSize (the seed tail rule)', () => {
  it('sends the strategy size when plenty remains', () => {
    expect(planSize(1000, 1500, 10_000)).toBe(1000);
  });
  it('sends everything when under 1.5x the size remains', () => {
    expect(planSize(1000, 1499, 10_000)).toBe(1499);
  });
  it('never exceeds maxBatchSize, even for the tail', () => {
    expect(planSize(8000, 11_000, 10_000)).toBe(10_000);
    expect(planSize(20_000, 50_000, 10_000)).toBe(10_000);
  });
  it('rounds and floors nonsense to a whole size of at least 1', () => {
    expect(planSize(0.2, 100, 10)).toBe(1);
    expect(planSize(99.7, 1000, 10_000)).toBe(99);
  });
});

describe('recipients', () => {
  it('normalises, dedupes and reports invalid inputs in the planned event', async () => {
    const s = scripted();
    const events = await runSend(s, {
      recipients: ['+1 555-123 4567', '15551234567@s.whatsapp.net', '15551234567', 'not a number', '123', '447700900123@c.us'],
    });
    const planned = events[0] as PlannedEvent;
    expect(planned.type).toBe('planned');
    expect(planned.total).toBe(2);
    expect(planned.duplicates).toBe(2);
    expect(planned.invalid.map((i) => i.input)).toEqual(['not a number', '123']);
    expect(planned.invalid.every((i) => i.reason.length > 0)).toBe(true);
    expect(s.transport.calls[0]!.recipients).toEqual(['15551234567@s.whatsapp.net', '447700900123@s.whatsapp.net']);
    expect(summaryOf(events).invalid).toBe(2);
  });

  it('rejects a send with no valid recipient, naming the field', async () => {
    const s = scripted();
    const error = await runSend(s, { recipients: ['nope', ''] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SendError);
    expect((error as SendError).reason).toBe('NO_VALID_RECIPIENTS');
    expect((error as SendError).field).toBe('recipients');
    expect(s.transport.calls).toHaveLength(0);
  });

  it('rejects more recipients than the limit', async () => {
    const r = rig({ transport: (clock) => new ScriptedTransport(clock, quick), maxRecipients: 10 });
    const error = await runSend(r, { recipients: numbers(11) }).catch((e: unknown) => e);
    expect((error as SendError).reason).toBe('TOO_MANY_RECIPIENTS');
  });

  it('rejects an empty session id', async () => {
    const s = scripted();
    const error = await runSend(s, { sessionId: ' ', recipients: numbers(3) }).catch((e: unknown) => e);
    expect((error as SendError).reason).toBe('MISSING_SESSION_ID');
    expect((error as SendError).field).toBe('session_id');
  });
});

describe('the send', () => {
  it('sends a small list in one plain call', async () => {
    const s = scripted();
    const events = await runSend(s, { recipients: numbers(99) });
    expect(events.map((e) => e.type)).toEqual(['planned', 'anchor', 'summary']);
    expect((events[0] as PlannedEvent).mode).toBe('single');
    expect((events[1] as AnchorEvent).recipients).toBe(99);
    expect(s.transport.calls).toHaveLength(1);
    expect(summaryOf(events)).toMatchObject({ total: 99, delivered: 99, failed: [], batches: 0 });
  });

  it('prepares the story once, sends the anchor alone, then reuses its message id', async () => {
    const s = scripted();
    const events = await runSend(s, {
      recipients: numbers(3000),
      story: { kind: 'image', data: new Uint8Array([1, 2, 3]), mimeType: 'image/jpeg' },
    });
    expect(s.transport.prepared).toHaveLength(1);
    const [anchor, ...rest] = s.transport.calls;
    expect(anchor!.recipients).toHaveLength(1);
    expect(anchor!.messageId).toBeUndefined();
    const anchorEvent = events.find((e): e is AnchorEvent => e.type === 'anchor')!;
    expect(rest.length).toBeGreaterThan(1);
    expect(rest.every((c) => c.messageId === anchorEvent.messageId)).toBe(true);
    expect(summaryOf(events).messageId).toBe(anchorEvent.messageId);
    expect([...s.transport.delivered.values()].every((n) => n === 1)).toBe(true);
    expect(s.transport.delivered.size).toBe(3000);
  });

  it('emits planned, anchor, one batch per call, summary, with counts that add up', async () => {
    const s = scripted();
    const events = await runSend(s, { recipients: numbers(5000) });
    const types = events.map((e) => e.type);
    expect(types[0]).toBe('planned');
    expect(types[1]).toBe('anchor');
    expect(types.at(-1)).toBe('summary');
    const batches = batchesOf(events);
    expect(batches.length).toBe(s.transport.calls.length - 1);
    expect(batches.map((b) => b.index)).toEqual(batches.map((_, i) => i));
    const summary = summaryOf(events);
    expect(summary.delivered + summary.failed.length).toBe(5000);
    expect(summary.batchSequence).toEqual(batches.map((b) => b.size));
    expect(batches.at(-1)!.remaining).toBe(0);
    expect(batches.at(-1)!.nextSize).toBe(0);
    for (let i = 0; i + 1 < batches.length; i++) expect(batches[i + 1]!.size).toBe(batches[i]!.nextSize);
  });

  it('times out a call that hangs after batchTimeoutMs when the strategy asks no sooner, then retries its recipients', async () => {
    // 100, then 1000, halving after a failure; no timeoutMs of its own (the built-ins give unproven sizes a shorter one).
    const halving = defineStrategy<null>({
      name: 'halving',
      description: '100, then 1000, half the size after a failure',
      start: () => ({ state: null, size: 100, reason: 'start' }),
      next: (state, outcome) => ({ state, size: outcome.ok ? 1000 : Math.ceil(outcome.size / 2), reason: outcome.ok ? 'up' : 'half' }),
    });
    const s = scripted((call) => (call.index === 2 ? { latencyMs: 0, fail: 'HANG' } : quick(call)), { batchTimeoutMs: 15_000 });
    const events = await runSend(s, { recipients: numbers(2000), strategy: halving });
    const failed = batchesOf(events)[1]!;
    expect(failed.ok).toBe(false);
    expect(failed.error?.code).toBe('TIMEOUT');
    expect(failed.durationMs).toBe(15_000);
    expect(summaryOf(events)).toMatchObject({ delivered: 2000, failed: [] });
    // The timed-out recipients go back to the front of the queue.
    const retried = s.transport.calls[2]!.recipients;
    const next = s.transport.calls[3]!.recipients;
    expect(next.length).toBeLessThan(retried.length);
    expect(next).toEqual(retried.slice(0, next.length));
  });

  it('reports a recipient failed after maxAttempts, with the last error', async () => {
    const s = scripted((call) => (call.index === 0 ? quick(call) : { latencyMs: 50, fail: 'SEND_FAILED' }), { maxAttempts: 3 });
    const events = await runSend(s, { recipients: numbers(300) });
    const summary = summaryOf(events);
    expect(summary.delivered).toBe(1);
    expect(summary.failed).toHaveLength(299);
    expect(summary.failed[0]!.code).toBe('SEND_FAILED');
    expect(summary.failed[0]!.reason).toContain('after 3 attempts');
    const sends = new Map<string, number>();
    for (const c of s.transport.calls.slice(1)) for (const r of c.recipients) sends.set(r, (sends.get(r) ?? 0) + 1);
    expect([...sends.values()].every((n) => n === 3)).toBe(true);
  });

  it('retries recipients refused one by one in a call that worked, and gives one up after maxAttempts; counts add up', async () => {
    const jidOf = (n: string) => `${n.slice(1)}@s.whatsapp.net`;
    const list = numbers(300);
    const flaky = jidOf(list[10]!);
    const hopeless = jidOf(list[20]!);
    let flakyRefusals = 0;
    const s = scripted(
      (call) => {
        const refuse = [hopeless, ...(call.recipients.includes(flaky) && flakyRefusals++ === 0 ? [flaky] : [])];
        return { ...quick(call), refuse };
      },
      { maxAttempts: 3 },
    );
    const events = await runSend(s, { recipients: list });
    const summary = summaryOf(events);
    expect(summary.failed).toEqual([{ recipient: hopeless, code: 'SEND_FAILED', reason: 'scripted refusal (after 3 attempts)' }]);
    expect(summary.delivered).toBe(299);
    expect(s.transport.delivered.get(flaky)).toBe(1);
    const batches = batchesOf(events);
    expect(batches[0]).toMatchObject({ ok: true, refused: 2 });
    expect(batches.every((b) => b.delivered + b.failed + b.remaining === 300)).toBe(true);
  });

  it("gives strategies and memory a call's time without the transport's one-off setup, and reports both", async () => {
    // Every call spends 9 s setting up new recipients' keys and 0.5 s sending: slow as measured, fast as sending.
    const s = scripted(() => ({ latencyMs: 9_500, setupMs: 9_000 }), { batchTimeoutMs: 20_000 });
    const events = await runSend(s, { recipients: numbers(3_000) });
    const [first] = batchesOf(events);
    expect(first).toMatchObject({ durationMs: 9_500, setupMs: 9_000, speed: 'FAST' });
    // adaptive skips a level on a FAST batch: it saw 500 ms, not 9.5 s.
    expect(first!.reason).toMatch(/fast/i);
    const history = await s.memory.inspect('session-1');
    expect(history?.averageBatchTime).toBe(500);
  });

  it('asks the transport to warm the next batch while one is in flight, one warm-up at a time', async () => {
    const s = scripted();
    const warmed: { recipients: readonly string[]; during: number }[] = [];
    Object.assign(s.transport, {
      warm: async (_session: string, recipients: readonly string[]) => {
        warmed.push({ recipients, during: s.transport.calls.length });
        await s.clock.sleep(50);
      },
    });
    const events = await runSend(s, { recipients: numbers(400) });
    const calls = s.transport.calls.slice(1);
    expect(warmed.length).toBeGreaterThan(1);
    // The first batch is warmed while the story is prepared and anchored, before any call.
    expect(warmed[0]!.during).toBe(0);
    // Each warm-up names the recipients the following call then took.
    for (const w of warmed) {
      // Warmed while call `during` was starting: the recipients of the call after it.
      const next = calls.find((c) => c.index === w.during + 1);
      if (next) expect(next.recipients.slice(0, w.recipients.length)).toEqual(w.recipients.slice(0, next.recipients.length));
    }
    expect(summaryOf(events).delivered).toBe(400);
  });

  it('does not give up on recipients for failures of batches larger than the last that worked (size probes)', async () => {
    // Batches above 150 fail; the strategy keeps probing 300 between batches of 100.
    const prober = defineStrategy<number>({
      name: 'prober',
      description: 'alternates a probe at 300 with 100',
      start: () => ({ state: 0, size: 100, reason: 'start' }),
      next: (i) => ({ state: i + 1, size: i % 2 === 0 ? 300 : 100, reason: 'alternate' }),
    });
    const s = scripted((call) => (call.recipients.length > 150 ? { latencyMs: 50, fail: 'TIMEOUT' } : quick(call)), { maxAttempts: 2 });
    const events = await runSend(s, { recipients: numbers(1200), strategy: prober });
    expect(batchesOf(events).some((b) => !b.ok)).toBe(true);
    expect(summaryOf(events)).toMatchObject({ delivered: 1200, failed: [] });
  });

  it('counts a probe from the last size that worked, so a capacity that fell does not cost recipients', async () => {
    // 300 works for the first three calls, then only 150 and below; the strategy goes back to 300 after every 100.
    const prober = defineStrategy<number>({
      name: 'prober',
      description: '300 twice, then alternates 100 and 300',
      start: () => ({ state: 0, size: 300, reason: 'start' }),
      next: (i) => ({ state: i + 1, size: i < 1 || i % 2 === 0 ? 300 : 100, reason: 'alternate' }),
    });
    const s = scripted((call) => (call.index > 3 && call.recipients.length > 150 ? { latencyMs: 50, fail: 'TIMEOUT' } : quick(call)), {
      maxAttempts: 2,
    });
    const events = await runSend(s, { recipients: numbers(2000), strategy: prober });
    expect(batchesOf(events).filter((b) => !b.ok && b.size === 300).length).toBeGreaterThan(2);
    expect(summaryOf(events)).toMatchObject({ delivered: 2000, failed: [] });
  });

  it('gives up on a recipient only after four times maxAttempts failures of any kind, so a send always ends', async () => {
    // One batch of 100 works, then the strategy probes 300 forever: every probe fails, none is a strike.
    const stubborn = defineStrategy<null>({
      name: 'stubborn',
      description: '100, then 300 forever',
      start: () => ({ state: null, size: 100, reason: 'start' }),
      next: () => ({ state: null, size: 300, reason: 'probe' }),
    });
    const s = scripted((call) => (call.recipients.length > 150 ? { latencyMs: 50, fail: 'TIMEOUT' } : quick(call)), { maxAttempts: 2 });
    const summary = summaryOf(await runSend(s, { recipients: numbers(1000), strategy: stubborn }));
    expect(summary.delivered + summary.failed.length).toBe(1000);
    expect(summary.failed.length).toBeGreaterThan(0);
    expect(summary.failed.every((f) => f.reason.endsWith('(after 8 attempts)'))).toBe(true);
  });

  it('stops on a fatal error and reports every unsent recipient with it', async () => {
    const s = scripted((call) => (call.index === 3 ? { latencyMs: 10, fail: 'LOGGED_OUT' } : quick(call)));
    const events = await runSend(s, { recipients: numbers(5000) });
    const summary = summaryOf(events);
    expect(s.transport.calls).toHaveLength(4);
    expect(summary.stoppedBy).toBe('LOGGED_OUT');
    expect(summary.delivered + summary.failed.length).toBe(5000);
    expect(summary.failed.every((f) => f.code === 'LOGGED_OUT')).toBe(true);
    expect(batchesOf(events).at(-1)!.error).toMatchObject({ code: 'LOGGED_OUT', retryable: false });
  });

  it('fails the send when the anchor cannot be sent', async () => {
    const s = scripted(() => ({ latencyMs: 10, fail: 'SEND_FAILED' }), { maxAttempts: 2 });
    const error = await runSend(s, { recipients: numbers(500) }).catch((e: unknown) => e);
    expect((error as SendError).reason).toBe('ANCHOR_FAILED');
    expect(s.transport.calls).toHaveLength(2);
  });

  it('names a fatal anchor error as the reason', async () => {
    const s = scripted(() => ({ latencyMs: 10, fail: 'SESSION_NOT_FOUND' }));
    const error = await runSend(s, { recipients: numbers(500) }).catch((e: unknown) => e);
    expect((error as SendError).reason).toBe('SESSION_NOT_FOUND');
    expect(s.transport.calls).toHaveLength(1);
  });

  it('on cancellation lets the call in flight finish and starts nothing after it', async () => {
    const controller = new AbortController();
    const s = scripted((call) => {
      if (call.index === 2) controller.abort();
      return quick(call);
    });
    const events = await runSend(s, { recipients: numbers(5000), signal: controller.signal });
    expect(s.transport.calls).toHaveLength(3);
    const summary = summaryOf(events);
    expect(batchesOf(events)).toHaveLength(2);
    expect(batchesOf(events)[1]!.ok).toBe(true);
    expect(summary.stoppedBy).toBe('CANCELLED');
    expect(summary.delivered).toBe(1 + s.transport.calls[1]!.recipients.length + s.transport.calls[2]!.recipients.length);
    expect(summary.delivered + summary.failed.length).toBe(5000);
    expect(summary.failed.every((f) => f.code === 'CANCELLED')).toBe(true);
  });

  it('sends nothing when cancelled before it starts, and still accounts for everyone', async () => {
    const controller = new AbortController();
    controller.abort();
    const s = scripted();
    const events = await runSend(s, { recipients: numbers(500), signal: controller.signal });
    expect(events.map((e) => e.type)).toEqual(['planned', 'summary']);
    expect(s.transport.calls).toHaveLength(0);
    expect(summaryOf(events)).toMatchObject({ delivered: 0, stoppedBy: 'CANCELLED', messageId: '' });
    expect(summaryOf(events).failed).toHaveLength(500);
  });

  it('waits for a rate limit hint before the next call', async () => {
    const s = scripted((call) => (call.index === 1 ? { latencyMs: 20, fail: 'RATE_LIMITED', retryAfterMs: 30_000 } : quick(call)));
    await runSend(s, { recipients: numbers(1000) });
    const [, limited, next] = s.transport.calls;
    expect(next!.startedAt - limited!.startedAt).toBeGreaterThanOrEqual(30_020);
  });

  it('survives a strategy that throws', async () => {
    const broken = defineStrategy<null>({
      name: 'broken',
      description: 'throws after the first batch',
      start: () => ({ state: null, size: 200, reason: 'start' }),
      next: () => {
        throw new Error('boom');
      },
    });
    const s = scripted();
    const events = await runSend(s, { recipients: numbers(1000), strategy: broken });
    expect(summaryOf(events).delivered).toBe(1000);
    expect(batchesOf(events)[0]!.reason).toContain('strategy error');
  });
});

describe('session memory during a send', () => {
  it('keeps sending when the store goes down mid-send, and learns again once it is back', async () => {
    const data = new Map<string, unknown>();
    let down = false;
    const guard = <T>(work: () => T): Promise<T> => (down ? Promise.reject(new Error('store is down')) : Promise.resolve(work()));
    const store = {
      get: (key: string) => guard(() => data.get(key)),
      set: (key: string, value: unknown) => guard(() => void data.set(key, value)),
      delete: (key: string) => guard(() => data.delete(key)),
      clear: () => guard(() => data.clear()),
    };
    const clock = new VirtualClock(0);
    const memory = new KeyvSessionMemory({
      keyv: new Keyv({ store, namespace: 'h', throwOnErrors: true }),
      ttlMs: 3_600_000,
      clock,
      logger: silentLogger,
      opTimeoutMs: 50,
      sweepIntervalMs: 0,
    });
    let calls = 0;
    const withMemory = rig({
      clock,
      memory,
      transport: (c) =>
        new ScriptedTransport(c, (call) => {
          if (++calls === 3) down = true; // the store fails from the second batch on
          return quick(call);
        }),
    });
    const events = await runSend(withMemory, { recipients: numbers(5000) });
    const summary = summaryOf(events);
    expect(summary).toMatchObject({ delivered: 5000, failed: [] });
    expect(summary.learning.maxProvenBatchSize).toBe(Math.max(...summary.batchSequence));

    down = false;
    const again = await runSend(withMemory, { recipients: numbers(5000) });
    expect(summaryOf(again).delivered).toBe(5000);
    // Only the first batch reached the store during the outage; the second send proved more.
    expect((await memory.load('session-1'))!.maxProvenBatchSize).toBe(Math.max(...summaryOf(again).batchSequence));
    await memory.close();
  });
});

describe('pacing (maxBatchesPerSecond per session)', () => {
  it('spaces calls on one session, shared by concurrent sends', async () => {
    const s = scripted((call) => ({ latencyMs: 5 + call.recipients.length * 0.001 }), { maxBatchesPerSecond: 2 });
    await s.clock.run(async () => {
      const drain = async (it: AsyncIterable<unknown>) => {
        for await (const _ of it);
      };
      const send = (sessionId: string, n: number, offset: number) =>
        drain(s.engine.send({ sessionId, story: { kind: 'text', text: 'x' }, recipients: numbers(n, offset), strategy: aggressive }));
      await Promise.all([send('a', 3000, 0), send('a', 3000, 10_000), send('b', 3000, 20_000)]);
    });
    const starts = (session: string) => s.transport.calls.filter((c) => c.sessionId === session).map((c) => c.startedAt);
    const a = starts('a');
    expect(new Set(s.transport.calls.filter((c) => c.sessionId === 'a').map((c) => c.messageId ?? 'anchor')).size).toBe(3);
    for (let i = 0; i + 2 < a.length; i++) expect(a[i + 2]! - a[i]!).toBeGreaterThanOrEqual(1000 - 1e-6);
    // Session b has its own budget: its first calls are not pushed behind a's.
    expect(starts('b')[0]).toBe(a[0]);
  });
});
