/** The Baileys session manager against fake sockets: linking, the reconnect policy, restore, logout. */
import { EventEmitter } from 'node:events';
import { Boom } from '@hapi/boom';
import { DisconnectReason } from '@whiskeysockets/baileys';
import { describe, expect, it } from 'vitest';
import { listAuthSessions } from '../src/baileys/auth-state.js';
import { BaileysSessions, type ManagedSocket, type SocketFactory } from '../src/baileys/sessions.js';
import { silentLogger } from '../src/log.js';
import { createKeyv } from '../src/memory/store.js';
import type { ConnectEvent } from '../src/sessions/types.js';

class FakeManagedSocket {
  readonly events = new EventEmitter();
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly ev = { on: (e: string, l: (...args: any[]) => void) => this.events.on(e, l), off: (e: string, l: (...args: any[]) => void) => this.events.off(e, l) };
  readonly ws = { on: () => undefined, off: () => undefined };
  user: { id: string } | undefined;
  pairingRequests: string[] = [];
  loggedOut = false;
  ended = false;
  relayMessage = async () => 'id';
  waUploadToServer = (async () => ({ mediaUrl: '', directPath: '' })) as never;
  async logout() {
    this.loggedOut = true;
  }
  end() {
    this.ended = true;
  }
  async requestPairingCode(phone: string) {
    this.pairingRequests.push(phone);
    return 'ABCD-1234';
  }
  update(u: object) {
    this.events.emit('connection.update', u);
  }
  close(code: number) {
    this.update({ connection: 'close', lastDisconnect: { error: new Boom('closed', { statusCode: code }), date: new Date() } });
  }
}

function rig() {
  const keyv = createKeyv('memory://', { namespace: 'storycast:auth', logger: silentLogger });
  const sockets: FakeManagedSocket[] = [];
  const makeSocket: SocketFactory = ({ auth }) => {
    const socket = new FakeManagedSocket();
    sockets.push(socket);
    // What Baileys does once linked: it updates the creds and asks for them to be saved.
    socket.events.on('connection.update', (u: { connection?: string }) => {
      if (u.connection === 'open') {
        auth.creds.registered = true;
        socket.events.emit('creds.update', {});
      }
    });
    return socket as unknown as ManagedSocket;
  };
  const sessions = new BaileysSessions({ keyv, makeSocket, logger: silentLogger, rng: () => 0 });
  return { keyv, sockets, sessions, last: () => sockets.at(-1)! };
}

/** Reads a connect stream in the background, driving the fake between reads. */
async function connectAndDrive(r: ReturnType<typeof rig>, id: string, drive: () => void, phoneNumber?: string): Promise<ConnectEvent[]> {
  const events: ConnectEvent[] = [];
  const reading = (async () => {
    for await (const e of r.sessions.connect(id, { signal: new AbortController().signal, ...(phoneNumber ? { phoneNumber } : {}) })) events.push(e);
  })();
  await until(() => r.sockets.length > 0);
  drive();
  await reading;
  return events;
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(condition()).toBe(true);
}

const states = (events: ConnectEvent[]) => events.filter((e) => e.type === 'state').map((e) => (e.type === 'state' ? e.session.state : ''));

describe('BaileysSessions', () => {
  it('streams the QR code, ends when open, stores the credentials and gives the transport the socket', async () => {
    const r = rig();
    const events = await connectAndDrive(r, 'alice', () => {
      r.last().update({ qr: 'QR-1' });
      r.last().update({ qr: 'QR-2' });
      r.last().user = { id: '447700900123:4@s.whatsapp.net' };
      r.last().update({ connection: 'open' });
    });
    expect(events.filter((e) => e.type === 'qr').map((e) => (e.type === 'qr' ? e.code : ''))).toEqual(['QR-1', 'QR-2']);
    expect(states(events)).toEqual(['connecting', 'pairing', 'open']);
    expect(r.sessions.get('alice')).toMatchObject({ state: 'open', account: '+44********23' });
    expect(r.sessions.sockets.get('alice')?.socket).toBe(r.last());
    // creds.update is saved in the background.
    for (let i = 0; i < 20 && (await listAuthSessions(r.keyv)).length === 0; i++) await new Promise((x) => setTimeout(x, 5));
    expect(await listAuthSessions(r.keyv)).toEqual(['alice']);
  });

  it('asks for a pairing code instead of showing QR codes when a phone number is given', async () => {
    const r = rig();
    const events = await connectAndDrive(
      r,
      'bob',
      () => {
        r.last().update({ qr: 'QR-1' });
        r.last().update({ qr: 'QR-2' });
        setTimeout(() => r.last().update({ connection: 'open' }), 10);
      },
      '15551234567',
    );
    expect(events.some((e) => e.type === 'qr')).toBe(false);
    expect(events.find((e) => e.type === 'pairing-code')).toEqual({ type: 'pairing-code', code: 'ABCD-1234' });
    expect(r.last().pairingRequests).toEqual(['15551234567']);
  });

  it('opens a new socket at once on restartRequired (515), as after pairing', async () => {
    const r = rig();
    await connectAndDrive(r, 'carol', () => {
      r.last().update({ connection: 'open' });
    });
    r.last().close(DisconnectReason.restartRequired);
    await until(() => r.sockets.length === 2);
    expect(r.sessions.get('carol')?.state).toBe('connecting');
  });

  it('logged out (401): stops, deletes the credentials, and says so to the caller', async () => {
    const r = rig();
    await connectAndDrive(r, 'dave', () => r.last().update({ connection: 'open' }));
    expect(await listAuthSessions(r.keyv)).toContain('dave');
    r.last().close(DisconnectReason.loggedOut);
    expect(r.sessions.get('dave')?.state).toBe('logged-out');
    expect(r.sessions.sockets.get('dave')?.state).toBe('logged-out');
    await until(() => r.sockets.length === 1);
    for (let i = 0; i < 20 && (await listAuthSessions(r.keyv)).includes('dave'); i++) await new Promise((x) => setTimeout(x, 5));
    expect(await listAuthSessions(r.keyv)).not.toContain('dave');
  });

  it('connection replaced (440): stops without fighting over the session', async () => {
    const r = rig();
    await connectAndDrive(r, 'erin', () => r.last().update({ connection: 'open' }));
    r.last().close(DisconnectReason.connectionReplaced);
    await new Promise((x) => setTimeout(x, 20));
    expect(r.sockets).toHaveLength(1);
    expect(r.sessions.get('erin')).toMatchObject({ state: 'replaced', reason: expect.stringContaining('another client') });
  });

  it('a transient close (428) backs off and reconnects by itself; the transport sees it as reconnecting', async () => {
    const r = rig();
    await connectAndDrive(r, 'frank', () => r.last().update({ connection: 'open' }));
    r.last().close(DisconnectReason.connectionClosed);
    expect(r.sessions.get('frank')?.state).toBe('closed');
    expect(r.sessions.sockets.get('frank')?.state).toBe('connecting');
    await until(() => r.sockets.length === 2);
  });

  it('a session stopped for good is closed to the transport, which then fails sends at once', async () => {
    const r = rig();
    await connectAndDrive(r, 'ivy', () => r.last().update({ connection: 'open' }));
    r.last().close(DisconnectReason.forbidden);
    expect(r.sessions.sockets.get('ivy')?.state).toBe('closed');
  });

  it('comes back by itself after a restart, from the stored credentials', async () => {
    const r = rig();
    await connectAndDrive(r, 'gina', () => r.last().update({ connection: 'open' }));
    const sockets: unknown[] = [];
    const again = new BaileysSessions({ keyv: r.keyv, makeSocket: () => (sockets.push(1), new FakeManagedSocket() as unknown as ManagedSocket), logger: silentLogger });
    expect(await again.restore()).toEqual(['gina']);
    expect(sockets).toHaveLength(1);
    expect(again.get('gina')?.state).toBe('connecting');
  });

  it('logout logs the account out and deletes its credentials', async () => {
    const r = rig();
    await connectAndDrive(r, 'hank', () => r.last().update({ connection: 'open' }));
    const socket = r.last();
    expect(await r.sessions.logout('hank')).toBe(true);
    expect(socket.loggedOut).toBe(true);
    expect(socket.ended).toBe(true);
    expect(r.sessions.get('hank')?.state).toBe('logged-out');
    expect(await listAuthSessions(r.keyv)).not.toContain('hank');
    expect(await r.sessions.logout('nobody')).toBe(false);
  });
});

describe('device-list caches', () => {
  it('one per session, the same one for every socket of that session', async () => {
    const { deviceCaches } = await import('../src/baileys/socket-factory.js');
    const devicesOf = deviceCaches();
    devicesOf('a').set('15551234567', ['15551234567:0@s.whatsapp.net']);
    expect(devicesOf('a').get('15551234567')).toEqual(['15551234567:0@s.whatsapp.net']);
    expect(devicesOf('b').get('15551234567')).toBeUndefined();
    expect(devicesOf('a')).toBe(devicesOf('a'));
  });
});
