/** The Baileys transport across a reconnect: mid-send batches wait for it, new sends are refused. */
import { describe, expect, it } from 'vitest';
import { BaileysTransport } from '../src/transport/baileys/transport.js';
import { VirtualClock } from '../src/clock.js';
import { FakeSessions, FakeSocket } from './support/fake-socket.js';

describe('a reconnect in the middle of a send', () => {
  it('a batch waits for the session to come back instead of stopping the send', async () => {
    const clock = new VirtualClock(0);
    const socket = new FakeSocket(clock);
    const sessions = new FakeSessions().set('s', 'connecting');
    const transport = new BaileysTransport({ sockets: sessions, clock });
    const prepared = {
      story: { kind: 'text' as const, text: 'x' },
      payload: { message: { key: { id: 'M1' }, message: { extendedTextMessage: { text: 'x' } } } },
    };
    const sending = transport.send(
      { sessionId: 's', story: prepared as never, recipients: ['15551234567@s.whatsapp.net'], messageId: 'M1' },
      new AbortController().signal,
    );
    let settled = false;
    void sending.then(
      () => (settled = true),
      () => (settled = true),
    );
    await clock.advance(2000);
    expect(settled).toBe(false);
    expect(socket.calls).toHaveLength(0);
    sessions.set('s', 'open', socket);
    await expect(clock.run(sending)).resolves.toEqual({ messageId: 'M1' });
    expect(socket.calls).toHaveLength(1);
  });

  it('but a send cannot start on a session that is not connected', async () => {
    const clock = new VirtualClock(0);
    const transport = new BaileysTransport({ sockets: new FakeSessions().set('s', 'connecting'), clock });
    await expect(transport.prepare('s', { kind: 'text', text: 'x' }, new AbortController().signal)).rejects.toMatchObject({
      code: 'SESSION_NOT_CONNECTED',
    });
  });
});
