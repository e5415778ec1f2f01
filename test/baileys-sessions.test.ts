/** The Baileys session manager against fake sockets: linking, the reconnect policy, restore, logout. */
import { Boom } from '@hapi/boom';
import { DisconnectReason, type AuthenticationState } from '@whiskeysockets/baileys';
import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { createKeyvAuthState, listAuthSessions, type KeyCommit } from '../src/transport/baileys/auth-state.js';
import { QR_ATTEMPTS_ENDED } from '../src/transport/baileys/reconnect.js';
import { BaileysTransport } from '../src/transport/baileys/transport.js';
import { BaileysSessions, type ManagedSocket, type SocketFactory } from '../src/transport/baileys/sessions.js';
import { silentLogger } from '../src/log.js';
import { createKeyv } from '../src/memory/store.js';
import { isReconnecting, isTerminal, type ConnectEvent } from '../src/transport/sessions.js';
import { FakeManagedSocket } from './support/fake-managed-socket.js';

function rig(keyv = createKeyv('memory://', { namespace: 'storycast:auth', logger: silentLogger })) {
  const sockets: FakeManagedSocket[] = [];
  const auths: AuthenticationState[] = [];
  const makeSocket: SocketFactory = ({ auth }) => {
    const socket = new FakeManagedSocket();
    sockets.push(socket);
    auths.push(auth);
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
  return { keyv, sockets, auths, sessions, last: () => sockets.at(-1)! };
}

/** Reads a connect stream in the background, driving the fake between reads. */
async function connectAndDrive(r: ReturnType<typeof rig>, id: string, drive: () => void, phoneNumber?: string): Promise<ConnectEvent[]> {
  const events: ConnectEvent[] = [];
  const before = r.sockets.length;
  const reading = (async () => {
    for await (const e of r.sessions.connect(id, { signal: new AbortController().signal, ...(phoneNumber ? { phoneNumber } : {}) }))
      events.push(e);
  })();
  await until(() => r.sockets.length > before);
  drive();
  await reading;
  return events;
}

async function until(condition: () => boolean | Promise<boolean>): Promise<void> {
  await vi.waitFor(async () => expect(await condition()).toBe(true), { timeout: 2_000, interval: 5 });
}

/**
 * One turn of the timer queue. The rig's backoff draws rng() = 0, so a reconnect
 * the manager decided on is a 0 ms timer: after one turn it has started, which
 * is what the checks that nothing reconnected rely on.
 */
const turn = () => new Promise((resolve) => setTimeout(resolve, 0));

/**
 * Runs every timer the manager scheduled (a reconnect would be one), on fake
 * timers installed just for `act`: a check that something did not happen,
 * without waiting real time for it.
 */
async function afterAllTimers(act: () => void): Promise<void> {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  try {
    act();
    await vi.runAllTimersAsync();
  } finally {
    vi.useRealTimers();
  }
}

/** Starts a connect stream and returns its events so far, a way to cancel it, and its end. */
function connecting(r: ReturnType<typeof rig>, id: string) {
  const controller = new AbortController();
  const events: ConnectEvent[] = [];
  const done = (async () => {
    for await (const e of r.sessions.connect(id, { signal: controller.signal })) events.push(e);
  })();
  return { events, cancel: () => controller.abort(), done };
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
    await until(async () => (await listAuthSessions(r.keyv)).length > 0);
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
        setImmediate(() => r.last().update({ connection: 'open' }));
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
    await until(async () => !(await listAuthSessions(r.keyv)).includes('dave'));
  });

  it('connection replaced (440): stops without fighting over the session', async () => {
    const r = rig();
    await connectAndDrive(r, 'erin', () => r.last().update({ connection: 'open' }));
    await afterAllTimers(() => r.last().close(DisconnectReason.connectionReplaced));
    expect(r.sockets).toHaveLength(1);
    expect(r.sessions.get('erin')).toMatchObject({ state: 'replaced', reason: expect.stringContaining('another client') });
  });

  it('a transient close (428) backs off and reconnects by itself; the transport sees it as reconnecting', async () => {
    const r = rig();
    await connectAndDrive(r, 'frank', () => r.last().update({ connection: 'open' }));
    r.last().close(DisconnectReason.connectionClosed);
    expect(r.sessions.get('frank')?.state).toBe('closed');
    expect(isReconnecting(r.sessions.sockets.get('frank')!.state)).toBe(true);
    await until(() => r.sockets.length === 2);
  });

  it('a session stopped for good is stopped to the transport too, which then fails sends at once', async () => {
    const r = rig();
    await connectAndDrive(r, 'ivy', () => r.last().update({ connection: 'open' }));
    r.last().close(DisconnectReason.forbidden);
    const entry = r.sessions.sockets.get('ivy')!;
    expect(entry).toMatchObject({ state: 'forbidden', reason: expect.stringContaining('403') });
    expect(entry.socket).toBeUndefined();
    expect(isReconnecting(entry.state)).toBe(false);
  });

  it('a reconnect that cannot start is retried, so a closed session is still on its way back', async () => {
    const keyv = createKeyv('memory://', { namespace: 'storycast:auth', logger: silentLogger });
    const warnings: { msg: string; sessionId?: string }[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line)) });
    const sockets: FakeManagedSocket[] = [];
    let refuse = false;
    const makeSocket: SocketFactory = () => {
      if (refuse) {
        refuse = false;
        throw new Error('store down');
      }
      const socket = new FakeManagedSocket();
      sockets.push(socket);
      return socket as unknown as ManagedSocket;
    };
    const sessions = new BaileysSessions({ keyv, makeSocket, logger, rng: () => 0 });
    const linking = (async () => {
      for await (const _ of sessions.connect('kim', { signal: new AbortController().signal }));
    })();
    await until(() => sockets.length === 1);
    sockets[0]!.update({ connection: 'open' });
    await linking;
    refuse = true;
    sockets[0]!.close(DisconnectReason.restartRequired);
    await until(() => sockets.length === 2);
    expect(warnings).toContainEqual(expect.objectContaining({ msg: 'could not restart the session', sessionId: 'kim' }));
    expect(sessions.get('kim')?.state).toBe('connecting');
    await sessions.close();
  });

  it('comes back by itself after a restart, from the stored credentials', async () => {
    const r = rig();
    await connectAndDrive(r, 'gina', () => r.last().update({ connection: 'open' }));
    const sockets: unknown[] = [];
    const again = new BaileysSessions({
      keyv: r.keyv,
      makeSocket: () => {
        sockets.push(1);
        return new FakeManagedSocket() as unknown as ManagedSocket;
      },
      logger: silentLogger,
    });
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

describe('BaileysSessions: sessions that stay stopped', () => {
  /** Links `id` and then closes it as `stop` says; returns once the close is handled. */
  async function linkThen(r: ReturnType<typeof rig>, id: string, stop: (socket: FakeManagedSocket) => void) {
    await connectAndDrive(r, id, () => r.last().update({ connection: 'open' }));
    stop(r.last());
  }

  it('after a restart starts only sessions that were open or reconnecting; the others keep their state and reason', async () => {
    const r = rig();
    await linkThen(r, 'open', () => undefined);
    await linkThen(r, 'retrying', (s) => s.close(DisconnectReason.connectionClosed));
    await until(() => r.sessions.get('retrying')?.state === 'connecting'); // its new socket, before the next link's
    await linkThen(r, 'replaced', (s) => s.close(DisconnectReason.connectionReplaced));
    await linkThen(r, 'forbidden', (s) => s.close(DisconnectReason.forbidden));
    await linkThen(r, 'banned', (s) => s.fail({ reason: '402', code: '104', expire: '3600' }));
    await linkThen(r, 'outdated', (s) => s.fail({ reason: '405' }));
    await linkThen(r, 'hank', () => undefined);
    await r.sessions.logout('hank');
    // A link whose QR code was never scanned; its creds were saved along the way (routing info, say).
    const half = connecting(r, 'half');
    await until(() => r.sessions.get('half')?.state === 'connecting');
    r.last().update({ qr: 'QR-1' });
    r.last().events.emit('creds.update', {});
    await r.sessions.close();

    const again = rig(r.keyv);
    expect(await again.sessions.restore()).toEqual(['open', 'retrying']);
    expect(again.sockets).toHaveLength(2);
    expect(again.sessions.get('open')).toMatchObject({ state: 'connecting' });
    const stopped = Object.fromEntries(again.sessions.list().map((s) => [s.id, s]));
    expect(stopped.replaced).toMatchObject({ state: 'replaced', reason: expect.stringContaining('440') });
    expect(stopped.forbidden).toMatchObject({ state: 'forbidden', reason: expect.stringContaining('403') });
    expect(stopped.banned).toMatchObject({
      state: 'banned',
      reason: expect.stringContaining('the same message sent to too many people (104); lifts in about 60 min'),
    });
    expect(stopped.outdated).toMatchObject({ state: 'failed', reason: expect.stringContaining('405') });
    expect(stopped.hank).toMatchObject({ state: 'logged-out', reason: 'logged out by request' });
    expect(stopped.half).toMatchObject({ state: 'unpaired' });
    // Stopped for good, as far as a send is concerned.
    for (const id of ['replaced', 'forbidden', 'banned', 'outdated', 'half'])
      expect(isTerminal(again.sessions.sockets.get(id)!.state)).toBe(true);
    half.cancel();
    await half.done;
  });

  it('a store from before lifecycle records: starts linked sessions, leaves half-paired ones unpaired', async () => {
    const keyv = createKeyv('memory://', { namespace: 'storycast:auth', logger: silentLogger });
    const linked = await createKeyvAuthState(keyv, 'linked', { logger: silentLogger });
    linked.state.creds.registered = true;
    await linked.saveCreds();
    await (await createKeyvAuthState(keyv, 'half', { logger: silentLogger })).saveCreds();
    const r = rig(keyv);
    expect(await r.sessions.restore()).toEqual(['linked']);
    expect(r.sessions.get('half')).toMatchObject({ state: 'unpaired', reason: expect.stringContaining('never finished') });
  });

  it('a send from a banned session is FORBIDDEN and says why; from an unpaired one, not connected and why', async () => {
    const r = rig();
    await linkThen(r, 'ban', (s) => s.fail({ reason: '402', code: '104', expire: '3600' }));
    const transport = new BaileysTransport({ sockets: r.sessions.sockets });
    const refusal = await transport.prepare('ban', { kind: 'text', text: 'x' }, new AbortController().signal).catch((e: unknown) => e);
    expect(refusal).toMatchObject({ code: 'FORBIDDEN', fatal: true, message: expect.stringContaining('too many people (104)') });
    await connectAndDrive(r, 'quiet', () => {
      r.last().update({ qr: 'QR-1' });
      r.last().closeWith(new Boom(QR_ATTEMPTS_ENDED, { statusCode: DisconnectReason.timedOut }));
    });
    const unpaired = await transport.prepare('quiet', { kind: 'text', text: 'x' }, new AbortController().signal).catch((e: unknown) => e);
    expect(unpaired).toMatchObject({ code: 'SESSION_NOT_CONNECTED', message: expect.stringContaining('no QR code was scanned') });
  });

  it('a stopped session starts again when someone connects it', async () => {
    const r = rig();
    await linkThen(r, 'ban', (s) => s.fail({ reason: '402' }));
    expect(r.sessions.get('ban')?.state).toBe('banned');
    await connectAndDrive(r, 'ban', () => r.last().update({ connection: 'open' }));
    expect(r.sockets).toHaveLength(2);
    expect(r.sessions.get('ban')?.state).toBe('open');
  });

  it('ends a pairing whose QR codes ran out instead of making new ones forever', async () => {
    const r = rig();
    const events = await connectAndDrive(r, 'quiet', () => {
      r.last().update({ qr: 'QR-1' });
      r.last().closeWith(new Boom(QR_ATTEMPTS_ENDED, { statusCode: DisconnectReason.timedOut }));
    });
    expect(states(events)).toEqual(['connecting', 'pairing', 'unpaired']);
    expect(r.sessions.get('quiet')?.reason).toContain('no QR code was scanned');
    await turn();
    expect(r.sockets).toHaveLength(1);
  });

  it('cancelling connect while pairing ends the socket and does not reconnect', async () => {
    const r = rig();
    const c = connecting(r, 'shy');
    await until(() => r.sockets.length === 1);
    r.last().update({ qr: 'QR-1' });
    c.cancel();
    await c.done;
    expect(r.last().ended).toBe(true);
    expect(r.sessions.get('shy')).toMatchObject({ state: 'unpaired', reason: expect.stringContaining('cancelled') });
    r.last().close(DisconnectReason.connectionClosed); // the ended socket's own close event
    await turn();
    expect(r.sockets).toHaveLength(1);
  });

  it('cancelling connect while a linked session reconnects only stops waiting', async () => {
    const r = rig();
    await connectAndDrive(r, 'steady', () => r.last().update({ connection: 'open' }));
    r.last().close(DisconnectReason.connectionClosed);
    await until(() => r.sockets.length === 2);
    const c = connecting(r, 'steady');
    await turn();
    c.cancel();
    await c.done;
    expect(r.last().ended).toBe(false);
    expect(r.sessions.get('steady')?.state).toBe('connecting');
  });

  it('logout drops the creds from memory too: the next connect pairs afresh', async () => {
    const r = rig();
    await connectAndDrive(r, 'kim', () => r.last().update({ connection: 'open' }));
    const before = r.auths.at(-1)!.creds;
    expect(before.registered).toBe(true);
    await r.sessions.logout('kim');
    await connectAndDrive(r, 'kim', () => r.last().update({ connection: 'open' }));
    const after = r.auths.at(-1)!.creds;
    expect(after).not.toBe(before);
    expect(Buffer.from(after.noiseKey.public)).not.toEqual(Buffer.from(before.noiseKey.public));
  });

  it('a logged-out socket that saves its creds late cannot bring them back', async () => {
    const r = rig();
    await connectAndDrive(r, 'lou', () => r.last().update({ connection: 'open' }));
    const old = r.last();
    await r.sessions.logout('lou');
    old.events.emit('creds.update', {});
    await turn();
    expect(await listAuthSessions(r.keyv)).not.toContain('lou');
  });

  it("forwards every key commit of the session's auth state, across a logout and a new link", async () => {
    const r = rig();
    const commits: KeyCommit[] = [];
    r.sessions.onKeyCommit('kay', (c) => commits.push(c));
    await connectAndDrive(r, 'kay', () => r.last().update({ connection: 'open' }));
    await r.auths.at(-1)!.keys.set({ session: { a: new Uint8Array([1]) } });
    await r.sessions.logout('kay');
    await connectAndDrive(r, 'kay', () => r.last().update({ connection: 'open' }));
    await r.auths.at(-1)!.keys.set({ session: { b: new Uint8Array([2]), c: new Uint8Array([3]) } });
    expect(commits.map((c) => [c.ok, c.keys])).toEqual([
      [true, 1],
      [true, 2],
    ]);
    r.sessions.onKeyCommit('nobody', () => undefined);
    expect(r.sessions.get('nobody')).toBeUndefined();
  });
});

describe('device-list caches', () => {
  it('one per session, the same one for every socket of that session', async () => {
    const { deviceCaches } = await import('../src/transport/baileys/socket-factory.js');
    const devicesOf = deviceCaches();
    devicesOf('a').set('15551234567', ['15551234567:0@s.whatsapp.net']);
    expect(devicesOf('a').get('15551234567')).toEqual(['15551234567:0@s.whatsapp.net']);
    expect(devicesOf('b').get('15551234567')).toBeUndefined();
    expect(devicesOf('a')).toBe(devicesOf('a'));
  });

  it('keep a device list for a day, not the 5 minutes of Baileys: a daily status looks nobody up again', async () => {
    const { deviceCaches, DEVICE_LIST_TTL_S } = await import('../src/transport/baileys/socket-factory.js');
    expect(DEVICE_LIST_TTL_S).toBe(86_400);
    const cache = deviceCaches()('a');
    cache.set('15551234567', ['15551234567:0@s.whatsapp.net']);
    const expiresIn = (cache.getTtl('15551234567') as number) - Date.now();
    expect(expiresIn).toBeGreaterThan(23 * 3_600_000);
  });
});
