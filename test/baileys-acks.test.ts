/**
 * Ack attribution on the Baileys transport: a batch counts as delivered only
 * on an ack that can only be its own. Each scenario is one a review reproduced
 * against the FIFO matcher this replaced (A, B, C and G in the issue); the
 * socket is the fake of test/support/fake-socket.ts, which can delay a write,
 * throw after writing, lose an ack and answer a retry request as Baileys does.
 */
import { describe, expect, it } from 'vitest';
import { BaileysTransport, type BaileysPayload } from '../src/transport/baileys/transport.js';
import { VirtualClock } from '../src/clock.js';
import { TransportError, type PreparedStory } from '../src/transport/port.js';
import type { SessionSockets } from '../src/transport/baileys/socket.js';
import { boom, FakeSessions, FakeSocket, type Outcome } from './support/fake-socket.js';
import { batchesOf, rig, runSend, summaryOf } from './support/harness.js';

const S = 'session-1';
const jids = (n: number, start = 0) => Array.from({ length: n }, (_, i) => `1555${String(start + i).padStart(7, '0')}@s.whatsapp.net`);

async function setup(fallback?: Outcome) {
  const clock = new VirtualClock(1_700_000_000_000);
  let transport!: BaileysTransport;
  const socket = new FakeSocket(clock, fallback, (key) => transport.getMessage(key));
  transport = new BaileysTransport({ sockets: new FakeSessions().set(S, 'open', socket), clock, ackQuietMs: 30_000 });
  const never = new AbortController().signal;
  const story: PreparedStory = await clock.run(transport.prepare(S, { kind: 'text', text: 'hello' }, never));
  const id = (story.payload as BaileysPayload).message.key.id!;
  await clock.run(transport.send({ sessionId: S, story, recipients: jids(1) }, never));
  /** A batch of this story, observed without driving the clock (clock.run would jump past quiet periods). */
  const batch = (recipients: string[], batchIndex: number, signal = never) => {
    const result: { value?: string } = {};
    const done = transport.send({ sessionId: S, story, recipients, messageId: id, batchIndex }, signal).then(
      () => (result.value = 'ok'),
      (e: TransportError) => (result.value = `${e.code}${e.whatsappCode ? `:${e.whatsappCode}` : ''}`),
    );
    return { result, done };
  };
  return { clock, socket, transport, id, batch, never };
}

describe('ack attribution', () => {
  it('A: a retry relay Baileys makes by itself does not confirm the batch waiting on the same id', async () => {
    const { clock, socket, transport, id, batch, never } = await setup();
    socket.next({ kind: 'silent' });
    const first = batch(jids(3, 1), 0);
    await clock.advance(5);
    // A recipient's phone asks for the status again: Baileys calls getMessage and relays it with the same id.
    const retried = socket.retryRequest(id, 10);
    await clock.advance(50);
    socket.ack(id, '479'); // the batch's own answer: rejected
    await clock.advance(50);
    expect(first.result.value).toBe('SEND_FAILED:479');
    expect(await retried).toBe(true);
    expect(socket.retryRelays).toBe(1);
    // The retry relay's ack settles the relay, not the next batch: that one waits, then gets its own.
    socket.next({ kind: 'ack', afterMs: 40 });
    const second = batch(jids(3, 1), 1);
    await clock.advance(1000);
    expect(second.result.value).toBe('ok');
    expect(await transport.settle(S, id, never)).toEqual([]);
  });

  it('B: a relay given up on that writes after the next stanza does not confirm it; its own late ack is reported', async () => {
    const { clock, socket, transport, id, batch, never } = await setup();
    socket.next({ kind: 'ack', writeAfterMs: 3000, afterMs: 100 }, { kind: 'error-ack', code: '479', afterMs: 10 });
    const engineTimeout = new AbortController();
    const first = batch(jids(2, 1), 0, engineTimeout.signal);
    await clock.advance(1000);
    engineTimeout.abort(new TransportError('TIMEOUT', 'no answer within 1000 ms'));
    await clock.advance(0);
    expect(first.result.value).toBe('TIMEOUT');
    const second = batch(jids(2, 3), 1);
    await clock.advance(5000);
    expect(second.result.value).toBe('SEND_FAILED:479');
    // The second stanza went out only after the first one's ack.
    expect(socket.calls.slice(1).map((c) => c.opts.statusJidList)).toEqual([jids(2, 1), jids(2, 3)]);
    expect(await transport.settle(S, id, never)).toEqual([{ batchIndex: 0, recipients: jids(2, 1), delivered: true, afterMs: 3100 }]);
  });

  it('C: a relay that threw 408 after its frame went out keeps its id in doubt; its late ack is its own', async () => {
    const { clock, socket, transport, id, batch, never } = await setup();
    socket.next(
      { kind: 'throw-after-write', error: boom('Timed Out', { statusCode: 408 }), afterMs: 2000 },
      { kind: 'error-ack', code: '479', afterMs: 5000 },
    );
    const first = batch(jids(2, 1), 0);
    await clock.advance(1);
    expect(first.result.value).toBe('TIMEOUT');
    const second = batch(jids(2, 3), 1);
    await clock.advance(10_000);
    expect(second.result.value).toBe('SEND_FAILED:479');
    expect(await transport.settle(S, id, never)).toEqual([{ batchIndex: 0, recipients: jids(2, 1), delivered: true, afterMs: 2000 }]);
  });

  it('G: one lost ack costs one quiet period, then every later batch is confirmed by its own ack', async () => {
    const { clock, socket, transport, id, batch, never } = await setup({ kind: 'ack', afterMs: 50 });
    socket.next({ kind: 'silent' });
    const engineTimeout = new AbortController();
    const lost = batch(jids(2, 1), 0, engineTimeout.signal);
    await clock.advance(15_000);
    engineTimeout.abort(new TransportError('TIMEOUT', 'no answer within 15000 ms'));
    await clock.advance(0);
    expect(lost.result.value).toBe('TIMEOUT');
    const settled = transport.settle(S, id, never);
    const results: string[] = [];
    void settled.then(async (late) => {
      expect(late).toEqual([]); // presumed lost: nothing to report, the engine already retries
      for (let i = 1; i <= 5; i++) {
        const b = batch(jids(2, 1 + 2 * i), i);
        await b.done;
        results.push(b.result.value!);
      }
    });
    await clock.advance(14_999);
    expect(socket.calls).toHaveLength(2); // still quiet: nothing written for 30 s after the lost one
    await clock.advance(2_000);
    expect(results).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
  });

  it('an ack with no stanza in doubt is ignored, and a duplicate of a settled ack confirms nothing', async () => {
    const { clock, socket, id, batch } = await setup();
    socket.ack(id); // nothing waiting
    socket.next({ kind: 'silent' });
    const b = batch(jids(1, 1), 0);
    await clock.advance(10);
    expect(b.result.value).toBeUndefined();
    socket.ack(id, '479');
    socket.ack(id); // the server repeats itself
    await clock.advance(10);
    expect(b.result.value).toBe('SEND_FAILED:479');
  });

  it('a closed connection fails the waiting call with DISCONNECTED and leaves nothing in doubt', async () => {
    const { clock, socket, transport, id, batch, never } = await setup();
    socket.next({ kind: 'silent' });
    const b = batch(jids(1, 1), 0);
    await clock.advance(10);
    socket.close();
    await clock.advance(0);
    expect(b.result.value).toBe('DISCONNECTED');
    let settled = false;
    void transport.settle(S, id, never).then(() => (settled = true));
    await clock.advance(0);
    expect(settled).toBe(true);
  });

  it('a first status rejected (479) on an account WhatsApp moved to LID addressing stops the send; after an accepted one it is retryable', async () => {
    const clock = new VirtualClock(0);
    const socket = new FakeSocket(clock);
    socket.user = { id: '15559990000:7@s.whatsapp.net', lid: '123456789012345:7@lid' } as never;
    const transport = new BaileysTransport({ sockets: new FakeSessions().set(S, 'open', socket), clock });
    const never = new AbortController().signal;
    const story = await clock.run(transport.prepare(S, { kind: 'text', text: 'x' }, never));
    const codeOf = (p: Promise<unknown>) =>
      clock.run(
        p.then(
          () => 'ok',
          (e: TransportError) => `${e.code}:${e.whatsappCode}`,
        ),
      );
    socket.next(
      { kind: 'error-ack', code: '479', afterMs: 5 },
      { kind: 'ack', afterMs: 5 },
      { kind: 'error-ack', code: '479', afterMs: 5 },
    );
    expect(await codeOf(transport.send({ sessionId: S, story, recipients: jids(1) }, never))).toBe('STATUS_REJECTED:479');
    expect(await codeOf(transport.send({ sessionId: S, story, recipients: jids(1) }, never))).toBe('ok');
    expect(await codeOf(transport.send({ sessionId: S, story, recipients: jids(1, 1), messageId: 'x' }, never))).toBe('SEND_FAILED:479');
  });
});

describe('through the engine', () => {
  const S2 = 'session-1';
  /** The real engine over the Baileys transport and a fake socket, in virtual time. */
  function engineRig(opts: {
    fallback?: Outcome;
    config?: Parameters<typeof rig>[0]['config'];
    sockets?: (socket: FakeSocket) => SessionSockets;
  }) {
    let socket!: FakeSocket;
    const r = rig({
      transport: (clock) => {
        socket = new FakeSocket(clock, opts.fallback ?? { kind: 'ack', afterMs: 50 });
        const sockets = opts.sockets?.(socket) ?? new FakeSessions().set(S2, 'open', socket);
        return new BaileysTransport({ sockets, clock, ackQuietMs: 30_000 });
      },
      config: { progressiveSequence: [10], maxBatchSize: 10, minRecipientsForSmartSend: 5, maxBatchesPerSecond: 1000, ...opts.config },
    });
    return { ...r, socket: () => socket };
  }
  const sentTo = (socket: FakeSocket) =>
    socket.calls.flatMap((c) => c.opts.statusJidList).filter((j) => j !== '15559990000@s.whatsapp.net');

  it('G: a lost ack fails one batch, not every batch after it', async () => {
    const r = engineRig({});
    const socket = r.socket();
    socket.next({ kind: 'ack', afterMs: 50 }, { kind: 'silent' });
    const events = await runSend(r, { recipients: jids(101) });
    const failed = batchesOf(events).filter((b) => !b.ok);
    expect(failed.map((b) => b.error?.code)).toEqual(['TIMEOUT']);
    expect(summaryOf(events)).toMatchObject({ delivered: 101, failed: [] });
  });

  it('a batch whose ack comes after the engine gave up is reported delivered late and not sent again', async () => {
    const r = engineRig({ config: { batchTimeoutMs: 15_000 } });
    const socket = r.socket();
    socket.next({ kind: 'ack', afterMs: 50 }, { kind: 'ack', afterMs: 20_000 });
    const events = await runSend(r, { recipients: jids(101) });
    const batches = batchesOf(events);
    expect(batches[0]).toMatchObject({ index: 0, ok: false, error: { code: 'TIMEOUT' } });
    expect(batches[1]).toMatchObject({ index: 0, late: true, ok: true, size: 10, durationMs: 20_000, delivered: 11 });
    expect(summaryOf(events)).toMatchObject({ delivered: 101, failed: [] });
    const to = sentTo(socket);
    expect(to).toHaveLength(101);
    expect(new Set(to).size).toBe(101);
  });

  it('a lost connection is no strike, teaches memory nothing and leaves the size alone', async () => {
    const r = engineRig({ config: { maxAttempts: 1 } });
    const socket = r.socket();
    socket.next({ kind: 'ack', afterMs: 50 }, { kind: 'ack', afterMs: 50 }, { kind: 'silent' });
    let closed = false;
    const events = await runSend(r, {
      recipients: jids(101),
      onEvent: (e) => {
        // Close while the second batch waits for its ack.
        if (e.type === 'batch' && e.index === 0 && !closed) {
          closed = true;
          void r.clock.sleep(10).then(() => socket.close());
        }
      },
    });
    const batches = batchesOf(events);
    expect(batches[1]).toMatchObject({ ok: false, error: { code: 'DISCONNECTED', retryable: true }, nextSize: batches[0]!.nextSize });
    expect(summaryOf(events)).toMatchObject({ delivered: 101, failed: [] });
    const history = await r.memory.inspect(S2);
    expect(history?.totalAttempts).toBe(batches.filter((b) => b.error?.code !== 'DISCONNECTED').length);
  });

  it('a batch that waits out a reconnect for its whole timeout is DISCONNECTED, not TIMEOUT', async () => {
    let clock!: VirtualClock;
    const r = engineRig({
      fallback: { kind: 'ack', afterMs: 200 },
      config: { batchTimeoutMs: 15_000 },
      sockets: (socket) => ({
        get: () => {
          const t = clock.now() - 1_700_000_000_000;
          return t >= 100 && t < 20_000 ? { state: 'connecting' } : { state: 'open', socket };
        },
      }),
    });
    clock = r.clock;
    const events = await runSend(r, { recipients: jids(21) });
    const batches = batchesOf(events);
    expect(batches[0]).toMatchObject({ ok: false, error: { code: 'DISCONNECTED' } });
    expect(summaryOf(events)).toMatchObject({ delivered: 21, failed: [] });
  });
});
