/** The send registry in virtual time: background sends, replay then live, request_id dedupe, cancel semantics, retention. */
import { describe, expect, it } from 'vitest';
import adaptive from '../strategies/adaptive.js';
import conservative from '../strategies/conservative.js';
import type { SendEvent } from '../src/engine/events.js';
import {
  AfterEventOutOfRangeError,
  JournalUnavailableError,
  RequestIdReusedError,
  SendMovedError,
  SendNotFoundError,
} from '../src/sends/errors.js';
import { SendRegistry } from '../src/sends/registry.js';
import type { StartRequest } from '../src/sends/registry-types.js';
import { MemorySendStore, type SendStore } from '../src/sends/store.js';
import { SimulatedNetwork } from '../src/transport/sim/network.js';
import { rig } from './support/harness.js';
import { numbers, ScriptedTransport } from './support/scripted-transport.js';

const HOUR = 3_600_000;

function setup(opts: { latencyMs?: number; maxFinished?: number; store?: SendStore } = {}) {
  let transport!: ScriptedTransport;
  const r = rig({ transport: (clock) => (transport = new ScriptedTransport(clock, () => ({ latencyMs: opts.latencyMs ?? 100 }))) });
  const registry = new SendRegistry({
    engine: r.engine,
    store: opts.store ?? new MemorySendStore(opts.maxFinished),
    clock: r.clock,
    retentionMs: 24 * HOUR,
    sweepEveryMs: 0,
  });
  return { ...r, transport, registry };
}

/** A process on the simulated network, with the journal `store`: two of them on one store are a restart. */
function simulated(store: SendStore, seed: number) {
  let network!: SimulatedNetwork;
  const r = rig({
    transport: (clock) =>
      (network = new SimulatedNetwork({
        profile: { name: 'p', baseMs: 300, perRecipientMs: 1, capacity: 400, failure: 'fast' },
        clock,
        seed,
      })),
  });
  const registry = new SendRegistry({
    engine: r.engine,
    store,
    clock: r.clock,
    retentionMs: 24 * HOUR,
    sweepEveryMs: 0,
    strategyNamed: (name) => (name === adaptive.name ? adaptive : undefined),
  });
  return { ...r, network, registry };
}

function request(over: Partial<StartRequest['input']> & { requestId?: string; fingerprint?: string } = {}): StartRequest {
  const { requestId = '', fingerprint = 'f1', ...input } = over;
  return {
    input: { sessionId: 's1', story: { kind: 'text', text: 'hi' }, recipients: numbers(300), strategy: adaptive, ...input },
    requestId,
    fingerprint,
  };
}

async function drain(events: AsyncIterable<SendEvent>): Promise<SendEvent[]> {
  const all: SendEvent[] = [];
  for await (const e of events) all.push(e);
  return all;
}

describe('SendRegistry', () => {
  it('runs a send in the background; a watcher from 0 gets every event, ending with the summary', async () => {
    const { clock, registry } = setup();
    const events = await clock.run(async () => {
      const { sendId } = await registry.start(request(), 'continue');
      return drain(registry.watch(sendId, 0));
    });
    expect(events[0]!.type).toBe('planned');
    expect(events.at(-1)).toMatchObject({ type: 'summary', delivered: 300 });
    const record = await registry.get(events[0]!.type === 'planned' ? events[0]!.sendId : '');
    expect(record.state).toBe('SUCCEEDED');
    expect(record.events).toBe(events.length);
    expect(record.progress).toEqual({ total: 300, delivered: 300, failed: 0, remaining: 0 });
  });

  it('replays from the middle, follows live, and rejects an index past the end or an unknown id', async () => {
    const { clock, registry } = setup({ latencyMs: 1000 });
    await clock.run(async () => {
      const { sendId } = await registry.start(request(), 'continue');
      const whole = registry.watch(sendId, 0);
      const firstThree: SendEvent[] = [];
      for await (const e of whole) if (firstThree.push(e) === 3) break;
      const fromTwo = await drain(registry.watch(sendId, 2));
      const all = await drain(registry.watch(sendId, 0));
      expect((await registry.get(sendId)).events).toBe(all.length);
      expect(fromTwo).toEqual(all.slice(2));
      expect(firstThree).toEqual(all.slice(0, 3));
      await expect(drain(registry.watch(sendId, all.length))).resolves.toEqual([]);
      await expect(drain(registry.watch(sendId, all.length + 1))).rejects.toBeInstanceOf(AfterEventOutOfRangeError);
      await expect(drain(registry.watch('nope', 0))).rejects.toBeInstanceOf(SendNotFoundError);
    });
  });

  it('starts one send for concurrent starts with one request_id, sending to each recipient once', async () => {
    const { clock, registry, transport } = setup();
    await clock.run(async () => {
      const [a, b] = await Promise.all([
        registry.start(request({ requestId: 'r-1' }), 'continue'),
        registry.start(request({ requestId: 'r-1' }), 'continue'),
      ]);
      expect(a.sendId).toBe(b.sendId);
      const replay = await drain(registry.watch(a.sendId, 0));
      expect(replay.at(-1)).toMatchObject({ type: 'summary', delivered: 300 });
      // A retry after the end attaches too, and replays the same log.
      const c = await registry.start(request({ requestId: 'r-1' }), 'cancel');
      expect(c.sendId).toBe(a.sendId);
    });
    expect([...transport.delivered.values()].every((n) => n === 1)).toBe(true);
    expect(transport.delivered.size).toBe(300);
  });

  it('refuses the same request_id with a different request', async () => {
    const { clock, registry } = setup();
    await clock.run(async () => {
      const a = await registry.start(request({ requestId: 'r-2' }), 'continue');
      await expect(registry.start(request({ requestId: 'r-2', fingerprint: 'other', strategy: conservative }), 'continue')).rejects.toEqual(
        new RequestIdReusedError('r-2', a.sendId),
      );
      await drain(registry.watch(a.sendId, 0));
    });
  });

  it('an input error rejects the start and registers nothing', async () => {
    const { clock, registry } = setup();
    await clock.run(async () => {
      await expect(registry.start(request({ recipients: ['nope'], requestId: 'r-3' }), 'cancel')).rejects.toMatchObject({
        reason: 'NO_VALID_RECIPIENTS',
      });
      expect((await registry.list({ limit: 10 })).sends).toEqual([]);
    });
  });

  it('CANCEL: cancels once the last CANCEL caller leaves; CONTINUE keeps it going', async () => {
    const { clock, registry } = setup({ latencyMs: 1000 });
    await clock.run(async () => {
      const a = await registry.start(request({ requestId: 'c-1' }), 'cancel');
      const b = await registry.start(request({ requestId: 'c-1' }), 'cancel');
      a.release(true);
      expect(registry.running).toBe(1);
      b.release(true);
      const events = await drain(registry.watch(a.sendId, 0));
      expect(events.at(-1)).toMatchObject({ type: 'summary', stoppedBy: 'CANCELLED' });
      expect((await registry.get(a.sendId)).state).toBe('CANCELLED');

      const c = await registry.start(request({ requestId: 'c-2' }), 'cancel');
      await registry.start(request({ requestId: 'c-2' }), 'continue');
      c.release(true);
      const rest = await drain(registry.watch(c.sendId, 0));
      expect(rest.at(-1)).toMatchObject({ type: 'summary', delivered: 300 });
    });
  });

  it('cancel() ends watchers with the CANCELLED summary', async () => {
    const { clock, registry } = setup({ latencyMs: 1000 });
    await clock.run(async () => {
      const { sendId } = await registry.start(request(), 'continue');
      const watching = drain(registry.watch(sendId, 0));
      await registry.cancel(sendId);
      expect((await watching).at(-1)).toMatchObject({ type: 'summary', stoppedBy: 'CANCELLED' });
    });
  });

  it('forgets finished sends after the retention, and their request_id with them', async () => {
    const { clock, registry } = setup();
    const first = await clock.run(async () => {
      const { sendId } = await registry.start(request({ requestId: 'keep' }), 'continue');
      await drain(registry.watch(sendId, 0));
      return sendId;
    });
    await clock.advance(24 * HOUR - 1);
    expect((await registry.get(first)).state).toBe('SUCCEEDED');
    await clock.advance(1);
    await expect(registry.get(first)).rejects.toBeInstanceOf(SendNotFoundError);
    const again = await clock.run(() => registry.start(request({ requestId: 'keep', fingerprint: 'new' }), 'continue'));
    expect(again.sendId).not.toBe(first);
  });

  it('lists newest first, by session and state, in pages', async () => {
    const { clock, registry } = setup({ maxFinished: 3 });
    await clock.run(async () => {
      for (const sessionId of ['a', 'b', 'a', 'a', 'b']) {
        const { sendId } = await registry.start(request({ sessionId, recipients: numbers(3) }), 'continue');
        await drain(registry.watch(sendId, 0));
        await clock.sleep(10);
      }
    });
    // maxFinished 3: the two oldest are gone.
    const all = await registry.list({ limit: 10 });
    expect(all.sends.map((s) => s.sessionId)).toEqual(['b', 'a', 'a']);
    const page1 = await registry.list({ sessionId: 'a', limit: 1 });
    expect(page1.sends).toHaveLength(1);
    const page2 = await registry.list({ sessionId: 'a', limit: 1, after: page1.next! });
    expect(page2.sends).toHaveLength(1);
    expect(page2.next).toBeUndefined();
    expect(page2.sends[0]!.createdAt).toBeLessThan(page1.sends[0]!.createdAt);
    expect((await registry.list({ state: 'RUNNING', limit: 10 })).sends).toEqual([]);
  });

  it('suspendContinuing() leaves a CONTINUE send unfinished in the journal; a new registry resumes and finishes it', async () => {
    const store = new MemorySendStore();
    const first = simulated(store, 1);
    const sendId = await first.clock.run(async () => {
      const { sendId } = await first.registry.start(request({ recipients: numbers(3000), requestId: 'r-s' }), 'continue');
      const seen: SendEvent[] = [];
      for await (const e of first.registry.watch(sendId, 0)) if (seen.push(e) === 5) break;
      expect(first.registry.suspendContinuing()).toBe(1);
      // A watcher here is told the send goes on elsewhere, not left with a stream that just stops.
      await expect(drain(first.registry.watch(sendId, 5))).rejects.toBeInstanceOf(SendMovedError);
      return sendId;
    });
    expect(first.registry.running).toBe(0);
    const left = await store.get(sendId);
    expect(left?.state).toBe('RUNNING');
    expect(left!.progress.remaining).toBeGreaterThan(0);
    const journaled = await store.events(sendId, 0);
    expect(journaled.some((e) => e.type === 'summary')).toBe(false);

    // The next process: another engine and network on the same journal.
    const second = simulated(store, 2);
    const events = await second.clock.run(async () => {
      expect(await second.registry.resumeAll()).toBe(1);
      return drain(second.registry.watch(sendId, 0));
    });
    const summary = events.at(-1);
    expect(summary).toMatchObject({ type: 'summary', total: 3000 });
    if (summary?.type !== 'summary') throw new Error('no summary');
    expect(summary.delivered + summary.failed.length).toBe(3000);
    expect(events.slice(0, journaled.length)).toEqual(journaled);
    expect(events.filter((e) => e.type === 'planned')).toHaveLength(1);
    expect((await second.registry.get(sendId)).state).toBe('SUCCEEDED');
    // The story was prepared once, by the first process; the status is the same one.
    expect(second.network.oracle.prepareCount('s1')).toBe(0);
    expect(second.network.oracle.calls.every((c) => c.messageId === summary.messageId)).toBe(true);
    // The request id still attaches to it.
    expect(
      (await second.clock.run(() => second.registry.start(request({ recipients: numbers(3000), requestId: 'r-s' }), 'cancel'))).sendId,
    ).toBe(sendId);
    expect(await second.registry.resumeAll()).toBe(0);
  });

  it('suspendContinuing() leaves CANCEL sends alone', async () => {
    const { clock, registry } = setup({ latencyMs: 1000 });
    await clock.run(async () => {
      const a = await registry.start(request(), 'cancel');
      expect(registry.suspendContinuing()).toBe(0);
      await registry.cancel(a.sendId);
      expect((await drain(registry.watch(a.sendId, 0))).at(-1)).toMatchObject({ type: 'summary', stoppedBy: 'CANCELLED' });
    });
  });

  it('a journal that cannot be written refuses the send before anything is sent', async () => {
    const store = new MemorySendStore();
    store.create = async () => {
      throw new Error('store down');
    };
    const { clock, registry, transport } = setup({ store });
    await clock.run(async () => {
      await expect(registry.start(request(), 'cancel')).rejects.toBeInstanceOf(JournalUnavailableError);
    });
    expect(transport.delivered.size).toBe(0);
    expect(registry.running).toBe(0);
  });

  it('a journal write that fails mid-send holds the send until it lands, then goes on', async () => {
    const store = new MemorySendStore();
    const append = store.append.bind(store);
    let failures = 2;
    store.append = async (...args) => {
      if (args[1].event.type === 'batch' && failures > 0) {
        failures--;
        throw new Error('store blip');
      }
      return append(...args);
    };
    const { clock, registry } = setup({ store });
    const events = await clock.run(async () => {
      const { sendId } = await registry.start(request(), 'continue');
      return drain(registry.watch(sendId, 0));
    });
    expect(failures).toBe(0);
    expect(events.at(-1)).toMatchObject({ type: 'summary', delivered: 300 });
  });
});
