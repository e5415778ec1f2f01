import { describe, expect, it } from 'vitest';
import { WAMessageStatus } from '@whiskeysockets/baileys';
import { BaileysTransport, type BaileysPayload } from '../src/transport/baileys/transport.js';
import adaptive from '../strategies/adaptive.js';
import { SystemClock, VirtualClock } from '../src/clock.js';
import { SendEngine } from '../src/engine/engine.js';
import type { SendEvent } from '../src/engine/events.js';
import { silentLogger } from '../src/log.js';
import { createSessionMemory } from '../src/memory/keyv-memory.js';
import { demoNumbers } from '../src/recipients.js';
import type { PreparedStory, Story } from '../src/transport/port.js';
import { boom, FakeSessions, FakeSocket } from './support/fake-socket.js';
import { batchesOf, config, summaryOf } from './support/harness.js';

const S = 'session-1';
const jids = (n: number, start = 0) => Array.from({ length: n }, (_, i) => `1555${String(start + i).padStart(7, '0')}@s.whatsapp.net`);
const image: Story = { kind: 'image', data: new Uint8Array(8192).map((_, i) => i % 251), caption: 'hi', mimeType: 'image/jpeg' };

function setup(opts: { ackTimeoutMs?: number; includeOwnJidInAnchor?: boolean } = {}) {
  const clock = new VirtualClock(1_700_000_000_000);
  const socket = new FakeSocket(clock);
  const sessions = new FakeSessions().set(S, 'open', socket);
  const transport = new BaileysTransport({ sockets: sessions, clock, ...opts });
  const signal = new AbortController().signal;
  return { clock, socket, sessions, transport, signal };
}

/** Settles `p` in virtual time and reports how it ended. */
async function outcome<T>(clock: VirtualClock, p: Promise<T>) {
  return clock.run(
    p.then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error }),
    ),
  );
}

describe('BaileysTransport.prepare', () => {
  it('builds a text status with Baileys: hex background becomes ARGB, a FontType font survives', async () => {
    const { clock, transport, signal } = setup();
    const prepared = await clock.run(transport.prepare(S, { kind: 'text', text: 'hello', backgroundColor: '#315575', font: 6 }, signal));
    const { message } = prepared.payload as BaileysPayload;
    expect(message.key.remoteJid).toBe('status@broadcast');
    expect(message.message?.extendedTextMessage).toMatchObject({ text: 'hello', backgroundArgb: 0xff315575, font: 6 });
  });

  it('drops a background that is not a hex colour instead of sending NaN', async () => {
    const { clock, transport, signal } = setup();
    const prepared = await clock.run(transport.prepare(S, { kind: 'text', text: 'x', backgroundColor: 'blue' }, signal));
    expect((prepared.payload as BaileysPayload).message.message?.extendedTextMessage?.backgroundArgb).toBeFalsy();
  });

  it('uploads image media once and keeps caption and mimetype', async () => {
    const { clock, socket, transport, signal } = setup();
    const prepared = await clock.run(transport.prepare(S, image, signal));
    const img = (prepared.payload as BaileysPayload).message.message?.imageMessage;
    expect(socket.uploads).toBe(1);
    expect(socket.uploadedBytes).toBeGreaterThanOrEqual(8192);
    expect(img).toMatchObject({ caption: 'hi', mimetype: 'image/jpeg', directPath: '/fake/1' });
  });
});

describe('BaileysTransport.send', () => {
  async function prepared(t: BaileysTransport, clock: VirtualClock, signal: AbortSignal): Promise<PreparedStory> {
    return clock.run(t.prepare(S, { kind: 'text', text: 'hello' }, signal));
  }

  it('the anchor adds the own JID and creates the id; batches reuse it without the own JID', async () => {
    const { clock, socket, transport, signal } = setup();
    const story = await prepared(transport, clock, signal);
    const anchor = await clock.run(transport.send({ sessionId: S, story, recipients: jids(1) }, signal));
    expect(anchor.messageId).toBe((story.payload as BaileysPayload).message.key.id);
    const batch = await clock.run(transport.send({ sessionId: S, story, recipients: jids(3, 1), messageId: anchor.messageId }, signal));
    expect(batch.messageId).toBe(anchor.messageId);
    expect(socket.calls.map((c) => c.jid)).toEqual(['status@broadcast', 'status@broadcast']);
    expect(socket.calls[0]!.opts).toEqual({ messageId: anchor.messageId, statusJidList: [...jids(1), '15559990000@s.whatsapp.net'] });
    expect(socket.calls[1]!.opts).toEqual({ messageId: anchor.messageId, statusJidList: jids(3, 1) });
  });

  it('can leave the own JID out of the anchor', async () => {
    const { clock, socket, transport, signal } = setup({ includeOwnJidInAnchor: false });
    const story = await prepared(transport, clock, signal);
    await clock.run(transport.send({ sessionId: S, story, recipients: jids(1) }, signal));
    expect(socket.calls[0]!.opts.statusJidList).toEqual(jids(1));
  });

  it('calls on one message id go one at a time: each waits until the previous one is acked', async () => {
    const { clock, socket, transport, signal } = setup();
    const story = await prepared(transport, clock, signal);
    const id = (await clock.run(transport.send({ sessionId: S, story, recipients: jids(1) }, signal))).messageId;
    socket.next({ kind: 'silent' }, { kind: 'silent' }, { kind: 'silent' });
    const settled: string[] = [];
    const sends = [jids(2, 1), jids(2, 3), jids(2, 5)].map((recipients, i) =>
      transport.send({ sessionId: S, story, recipients, messageId: id }, signal).then(
        () => settled.push(`${i}:ok`),
        (e: { code: string; whatsappCode?: number }) => settled.push(`${i}:${e.code}:${e.whatsappCode}`),
      ),
    );
    await clock.advance(1);
    expect(settled).toEqual([]);
    expect(socket.calls).toHaveLength(2); // the anchor, and the first of the three
    socket.ack(id);
    await clock.advance(1);
    expect(settled).toEqual(['0:ok']);
    expect(socket.calls).toHaveLength(3);
    socket.ack(id, '479');
    await clock.advance(1);
    expect(settled).toEqual(['0:ok', '1:SEND_FAILED:479']);
    socket.ack(id);
    await Promise.all(sends);
    expect(settled.at(-1)).toBe('2:ok');
    expect(socket.calls.slice(1).map((c) => c.opts.statusJidList)).toEqual([jids(2, 1), jids(2, 3), jids(2, 5)]);
  });

  it('ignores acks for other message ids and other chats', async () => {
    const { clock, socket, transport, signal } = setup();
    const story = await prepared(transport, clock, signal);
    socket.next({ kind: 'silent' });
    let done = false;
    const p = transport.send({ sessionId: S, story, recipients: jids(1) }, signal).then(() => (done = true));
    const id = (story.payload as BaileysPayload).message.key.id!;
    await clock.advance(1);
    socket.ack('OTHER-ID');
    socket.ws.emit('CB:ack,class:message', { tag: 'ack', attrs: { class: 'message', id, from: '15550000001@s.whatsapp.net' } });
    await clock.advance(1);
    expect(done).toBe(false);
    socket.ack(id);
    await p;
    expect(done).toBe(true);
  });

  it('an error ack arriving once fails exactly one call, although Baileys also emits messages.update ERROR', async () => {
    const { clock, socket, transport, signal } = setup();
    const updates: unknown[] = [];
    socket.ev.on('messages.update', (u: unknown) => updates.push(u));
    const story = await prepared(transport, clock, signal);
    socket.next({ kind: 'error-ack', code: '479' });
    const first = await outcome(clock, transport.send({ sessionId: S, story, recipients: jids(1) }, signal));
    const second = await outcome(clock, transport.send({ sessionId: S, story, recipients: jids(1) }, signal));
    expect(first.ok).toBe(false);
    expect(second.ok).toBe(true);
    expect(updates).toEqual([[expect.objectContaining({ update: { status: WAMessageStatus.ERROR, messageStubParameters: ['479'] } })]]);
  });

  it('abort rejects with the reason; the next call waits for the abandoned one, whose late ack is its own', async () => {
    const { clock, socket, transport } = setup();
    const story = await prepared(transport, clock, new AbortController().signal);
    const id = (story.payload as BaileysPayload).message.key.id!;
    socket.next({ kind: 'silent' }, { kind: 'silent' });
    const controller = new AbortController();
    const aborted = transport.send({ sessionId: S, story, recipients: jids(1), messageId: id, batchIndex: 4 }, controller.signal);
    const reason = new Error('engine timeout');
    await clock.advance(10);
    controller.abort(reason);
    expect(await outcome(clock, aborted)).toEqual({ ok: false, error: reason });
    // Not through clock.run, which would jump virtual time past the quiet period.
    const next = transport.send({ sessionId: S, story, recipients: jids(1, 1), messageId: id }, new AbortController().signal).then(
      () => ({ ok: true }),
      () => ({ ok: false }),
    );
    await clock.advance(10);
    expect(socket.calls).toHaveLength(1); // not written while the first is in doubt
    socket.ack(id); // the abandoned call's ack, late
    let settled = false;
    void next.then(() => (settled = true));
    await clock.advance(10);
    expect(settled).toBe(false);
    expect(socket.calls).toHaveLength(2);
    socket.ack(id);
    expect((await next).ok).toBe(true);
    expect(await transport.settle(S, id, new AbortController().signal)).toEqual([
      { batchIndex: 4, recipients: jids(1), delivered: true, afterMs: 20 },
    ]);
    expect(await transport.settle(S, id, new AbortController().signal)).toEqual([]);
  });

  it('its own ack timeout gives TIMEOUT', async () => {
    const { clock, socket, transport, signal } = setup({ ackTimeoutMs: 1000 });
    const story = await prepared(transport, clock, signal);
    socket.next({ kind: 'silent' });
    const r = await outcome(clock, transport.send({ sessionId: S, story, recipients: jids(1) }, signal));
    expect(!r.ok && r.error).toMatchObject({ code: 'TIMEOUT' });
  });

  it('classifies what relayMessage throws', async () => {
    const { clock, socket, transport, signal } = setup();
    const story = await prepared(transport, clock, signal);
    const cases: [Error, string][] = [
      [boom('Timed Out', { statusCode: 408 }), 'TIMEOUT'],
      [boom('rate-overlimit', { data: 429 }), 'RATE_LIMITED'],
      [boom('Connection Closed', { statusCode: 428 }), 'DISCONNECTED'],
      [boom('Intentional Logout', { statusCode: 401 }), 'LOGGED_OUT'],
      [boom('forbidden', { statusCode: 403 }), 'FORBIDDEN'],
    ];
    for (const [error, code] of cases) {
      socket.next({ kind: 'throw', error });
      const r = await outcome(clock, transport.send({ sessionId: S, story, recipients: jids(1) }, signal));
      expect(!r.ok && r.error).toMatchObject({ code });
    }
    // Nothing left waiting: a throw means no stanza, so no tombstone either.
    const ok = await outcome(clock, transport.send({ sessionId: S, story, recipients: jids(1) }, signal));
    expect(ok.ok).toBe(true);
  });

  it('a connection that closes fails the calls still waiting for an ack', async () => {
    const { clock, socket, transport, signal } = setup();
    const story = await prepared(transport, clock, signal);
    socket.next({ kind: 'silent' });
    const pending = outcome(clock, transport.send({ sessionId: S, story, recipients: jids(1) }, signal));
    await clock.advance(5);
    socket.close();
    const r = await pending;
    expect(!r.ok && r.error).toMatchObject({ code: 'DISCONNECTED', message: expect.stringMatching(/reconnect/) });
  });

  it('maps missing, stopped and logged-out sessions to fatal codes (a reconnecting one is waited for: baileys-reconnect-send.test.ts)', async () => {
    const { clock, socket, sessions, transport, signal } = setup();
    const story = await prepared(transport, clock, signal);
    sessions.set('replaced', 'replaced', socket).set('gone', 'logged-out').set('banned', 'banned');
    const codes = await Promise.all(
      ['nope', 'replaced', 'gone', 'banned'].map(async (sessionId) => {
        const r = await outcome(clock, transport.send({ sessionId, story, recipients: jids(1) }, signal));
        return r.ok ? undefined : (r.error as { code: string; fatal: boolean });
      }),
    );
    expect(codes.map((c) => c?.code)).toEqual(['SESSION_NOT_FOUND', 'SESSION_NOT_CONNECTED', 'LOGGED_OUT', 'FORBIDDEN']);
    expect(codes.every((c) => c?.fatal)).toBe(true);
    expect(socket.calls).toHaveLength(0);
  });

  it('getMessage serves sent statuses for retry requests', async () => {
    const { clock, transport, signal } = setup();
    const story = await prepared(transport, clock, signal);
    const { messageId } = await clock.run(transport.send({ sessionId: S, story, recipients: jids(1) }, signal));
    expect(await transport.getMessage({ remoteJid: 'status@broadcast', id: messageId })).toMatchObject({
      extendedTextMessage: { text: 'hello' },
    });
    expect(await transport.getMessage({ id: 'unknown' })).toBeUndefined();
  });
});

describe('the real engine through BaileysTransport', () => {
  // A sped-up SystemClock, not a VirtualClock: generateWAMessage does real I/O
  // (encryption streams, temp files) that virtual time cannot see, so the
  // engine's prepare timeout would fire the instant the loop looked idle.
  it('sends an image story in 20 batches with one upload and one message id', async () => {
    const clock = new SystemClock(20);
    const socket = new FakeSocket(clock, { kind: 'ack', afterMs: 40 });
    const transport = new BaileysTransport({ sockets: new FakeSessions().set(S, 'open', socket), clock });
    const cfg = config({
      progressiveSequence: [10],
      maxBatchSize: 10,
      minRecipientsForSmartSend: 5,
      maxBatchesPerSecond: 1000,
      batchTimeoutMs: 60_000,
    });
    const memory = createSessionMemory({ url: 'memory://', enabled: false, ttlMs: cfg.sessionMemoryTTL, clock, logger: silentLogger });
    const engine = new SendEngine({ transport, clock, memory, config: cfg });
    const events: SendEvent[] = [];
    for await (const e of engine.send({ sessionId: S, story: image, recipients: demoNumbers(201), strategy: adaptive })) events.push(e);

    const summary = summaryOf(events);
    expect(batchesOf(events)).toHaveLength(20);
    expect(summary.delivered).toBe(201);
    expect(summary.failed).toEqual([]);
    expect(socket.uploads).toBe(1);
    expect(socket.calls).toHaveLength(21);
    expect(new Set(socket.calls.map((c) => c.opts.messageId))).toEqual(new Set([summary.messageId]));
    const own = '15559990000@s.whatsapp.net';
    const sentTo = socket.calls.flatMap((c) => c.opts.statusJidList).filter((j) => j !== own);
    expect(sentTo).toHaveLength(201);
    expect(new Set(sentTo).size).toBe(201);
    expect(socket.calls[0]!.opts.statusJidList).toContain(own);
    expect(socket.calls.slice(1).every((c) => !c.opts.statusJidList.includes(own))).toBe(true);
    expect((socket.calls[0]!.message as { imageMessage?: unknown }).imageMessage).toBeDefined();
  });
});
