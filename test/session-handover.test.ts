/**
 * Sessions moving between replicas on one redis: released by one replica
 * without a logout or a write, adopted by another from the shared store, and
 * let go by a replica whose writes are fenced because another owns it now.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { Boom } from '@hapi/boom';
import { DisconnectReason, type AuthenticationState } from '@whiskeysockets/baileys';
import type { Keyv } from 'keyv';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../src/log.js';
import { createKeyv } from '../src/memory/store.js';
import { FencedError, SessionLeases } from '../src/replicas/leases.js';
import { SessionOwnership } from '../src/replicas/ownership.js';
import { RedisConnection } from '../src/store/redis-connection.js';
import { createKeyvAuthState, listStoredSessions, saveLifecycle, type KeyCommit } from '../src/transport/baileys/auth-state.js';
import { BaileysSessions, type ManagedSocket } from '../src/transport/baileys/sessions.js';
import type { SimControls } from '../src/transport/sim/controls.js';
import { SimulatedSessions } from '../src/transport/sim/sessions.js';
import type { ConnectEvent } from '../src/transport/sessions.js';
import { startRedis, type RedisServer } from './support/redis.js';

/** Just what the session manager drives: connection updates in, creds updates out, logout and end. */
class FakeManagedSocket {
  readonly events = new EventEmitter();
  readonly ev = {
    on: (e: string, l: (...args: never[]) => void) => this.events.on(e, l as (...args: unknown[]) => void),
    off: (e: string, l: (...args: never[]) => void) => this.events.off(e, l as (...args: unknown[]) => void),
  };
  readonly ws = { on: () => undefined, off: () => undefined };
  user = { id: '15550001111:3@s.whatsapp.net' };
  loggedOut = false;
  ended = false;
  relayMessage = async () => 'id';
  waUploadToServer = (async () => ({ mediaUrl: '', directPath: '' })) as never;

  constructor(readonly auth: AuthenticationState) {}

  async logout() {
    this.loggedOut = true;
  }
  end() {
    this.ended = true;
  }
  async requestPairingCode() {
    return 'ABCD-1234';
  }
  open() {
    this.events.emit('connection.update', { connection: 'open' });
  }
  /** What Baileys does when a QR code is scanned: the creds now hold the account, and are saved. */
  link() {
    this.auth.creds.account = { details: new Uint8Array([1, 2, 3]) } as never;
    this.auth.creds.me = { id: this.user.id };
    this.events.emit('creds.update', {});
    this.open();
  }
}

let redis: RedisServer;
const closers: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  redis = await startRedis();
});
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});
afterAll(async () => {
  await redis?.stop();
});

/** One replica, as its own process would be: its Keyv, its lease connection, its ownership and its sessions. */
function replica(replicaId: string, prefix: string, logger = silentLogger) {
  const keyv = createKeyv(redis.url, { namespace: `handover:${prefix.replaceAll(':', '-')}`, logger: silentLogger });
  const connection = new RedisConnection({ url: redis.url, logger: silentLogger, label: `leases ${replicaId}` });
  const leases = new SessionLeases(connection, { replicaId, ttlMs: 60_000, prefix });
  const ownership = new SessionOwnership({ leases, renewEveryMs: 60_000, logger: silentLogger });
  const sockets: FakeManagedSocket[] = [];
  const sessions = new BaileysSessions({
    keyv,
    logger,
    rng: () => 0,
    fence: (id) => ownership.fence(id),
    makeSocket: ({ auth }) => {
      const socket = new FakeManagedSocket(auth);
      sockets.push(socket);
      return socket as unknown as ManagedSocket;
    },
  });
  closers.push(async () => {
    await sessions.close();
    await ownership.stop();
    await connection.close();
    await keyv.disconnect();
  });
  return { keyv, leases, ownership, sessions, sockets, last: () => sockets.at(-1)! };
}

type Replica = ReturnType<typeof replica>;

async function until(condition: () => boolean | Promise<boolean>): Promise<void> {
  await vi.waitFor(async () => expect(await condition()).toBe(true), { timeout: 2_000, interval: 5 });
}

const stored = async (keyv: Keyv, id: string) => (await listStoredSessions(keyv)).find((s) => s.id === id);

/** Claims the session on the replica and links it there through a QR scan; resolves once the link is in the store. */
async function linkOn(r: Replica, id: string): Promise<FakeManagedSocket> {
  expect(await r.ownership.claim(id)).toBeDefined();
  const before = r.sockets.length;
  const reading = (async () => {
    for await (const _ of r.sessions.connect(id, { signal: new AbortController().signal }));
  })();
  await until(() => r.sockets.length > before);
  const socket = r.last();
  socket.link();
  await reading;
  await until(async () => (await stored(r.keyv, id))?.linked === true && (await stored(r.keyv, id))?.lifecycle?.state === 'open');
  return socket;
}

/** A logger whose warnings the test can read. */
function capturingLogger() {
  const lines: { level: number; msg: string; sessionId?: string }[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { logger: pino({ level: 'warn' }, stream), warnings: () => lines.filter((l) => l.level === 40) };
}

describe('Baileys sessions handed over between replicas on one redis', () => {
  it('released on one replica (no logout, nothing written), adopted on another from the same creds, reaching open', async () => {
    const prefix = `test:${randomUUID()}:`;
    const one = replica('replica-1', prefix);
    const two = replica('replica-2', prefix);
    const first = await linkOn(one, 'alice');
    const linkedAt = await stored(one.keyv, 'alice');

    await one.sessions.release('alice');
    await one.ownership.release('alice');
    expect(first).toMatchObject({ ended: true, loggedOut: false });
    expect(one.sessions.get('alice')).toBeUndefined();
    expect(one.sessions.list()).toEqual([]);
    expect(one.sessions.sockets.get('alice')).toBeUndefined();
    // The store is as replica 1 left it: creds linked, lifecycle not rewritten by the release.
    expect(await stored(two.keyv, 'alice')).toEqual(linkedAt);

    expect(await two.ownership.claim('alice')).toMatchObject({ token: 2 });
    expect(await two.sessions.adopt('alice')).toBe(true);
    expect(two.sockets).toHaveLength(1);
    const adopted = two.last();
    // The same device: the identity replica 1 linked, read from the store, not a fresh pairing.
    expect(Buffer.from(adopted.auth.creds.noiseKey.private)).toEqual(Buffer.from(first.auth.creds.noiseKey.private));
    expect(Buffer.from(adopted.auth.creds.account!.details!)).toEqual(Buffer.from([1, 2, 3]));
    expect(two.sessions.get('alice')).toMatchObject({ state: 'connecting', account: '+15*******11' });
    adopted.open();
    expect(two.sessions.get('alice')).toMatchObject({ state: 'open' });
    expect(two.sessions.sockets.get('alice')?.socket).toBe(adopted);
    // Adopting a running session again leaves it alone.
    expect(await two.sessions.adopt('alice')).toBe(true);
    expect(two.sockets).toHaveLength(1);

    // A late creds.update from replica 1's ended socket is not saved.
    first.auth.creds.nextPreKeyId = 999_999;
    first.events.emit('creds.update', {});
    adopted.auth.creds.nextPreKeyId = 1234;
    adopted.events.emit('creds.update', {});
    await until(async () => (await createKeyvAuthState(two.keyv, 'alice', { logger: silentLogger })).state.creds.nextPreKeyId === 1234);
    expect(one.sockets).toHaveLength(1);
  });

  it('adopting a session still running under an earlier lease of its own starts it afresh from the store', async () => {
    const prefix = `test:${randomUUID()}:`;
    const one = replica('replica-1', prefix);
    const two = replica('replica-2', prefix);
    const old = await linkOn(one, 'gus');
    // Replica 1 pauses past its lease; replica 2 runs the session a while, then hands it back.
    await one.leases.release((await one.leases.acquire('gus'))!);
    await one.ownership.renewAll();
    await two.ownership.claim('gus');
    expect(await two.sessions.adopt('gus')).toBe(true);
    two.last().auth.creds.nextPreKeyId = 77;
    two.last().events.emit('creds.update', {});
    await until(async () => (await createKeyvAuthState(two.keyv, 'gus', { logger: silentLogger })).state.creds.nextPreKeyId === 77);
    await two.sessions.release('gus');
    await two.ownership.release('gus');

    expect(await one.ownership.claim('gus')).toMatchObject({ token: 3 });
    expect(await one.sessions.adopt('gus')).toBe(true);
    expect(old).toMatchObject({ ended: true, loggedOut: false });
    expect(one.sockets).toHaveLength(2);
    expect(one.last().auth.creds.nextPreKeyId).toBe(77);
  });

  it('ends a connect() still waiting on a released session instead of leaving it hanging', async () => {
    const one = replica('replica-1', `test:${randomUUID()}:`);
    await one.ownership.claim('bob');
    const events: ConnectEvent[] = [];
    const reading = (async () => {
      for await (const e of one.sessions.connect('bob', { signal: new AbortController().signal })) events.push(e);
    })();
    await until(() => one.sockets.length === 1);
    await one.sessions.release('bob');
    await reading;
    expect(events.at(-1)).toMatchObject({ type: 'state', session: { id: 'bob', state: 'closed' } });
    expect(one.last()).toMatchObject({ ended: true, loggedOut: false });
  });

  it('adopts only what the store can start: nothing for an unknown id, the stored state for a stopped one', async () => {
    const prefix = `test:${randomUUID()}:`;
    const one = replica('replica-1', prefix);
    const two = replica('replica-2', prefix);
    await linkOn(one, 'linked');
    // Half-linked: creds saved, no QR scanned.
    await (await createKeyvAuthState(one.keyv, 'half', { logger: silentLogger })).saveCreds();
    await linkOn(one, 'banned');
    await one.sessions.release('banned');
    await saveLifecycle(one.keyv, 'banned', { state: 'banned', reason: 'banned (402)', updatedAt: 5 });

    expect(await two.sessions.stored()).toEqual(['linked']);
    expect(await two.sessions.adopt('nobody')).toBe(false);
    expect(two.sessions.get('nobody')).toBeUndefined();
    expect(await two.sessions.adopt('banned')).toBe(false);
    expect(await two.sessions.adopt('half')).toBe(false);
    expect(two.sockets).toHaveLength(0);
    expect(two.sessions.list()).toMatchObject([
      { id: 'banned', state: 'banned', reason: 'banned (402)' },
      { id: 'half', state: 'unpaired' },
    ]);
  });

  describe('a replica whose write is fenced lets the session go, once, and does not retry', () => {
    /** Replica 1 runs the session; its lease then passes to replica 2 without replica 1 noticing (a long pause). */
    async function deposed(id: string) {
      const prefix = `test:${randomUUID()}:`;
      const log = capturingLogger();
      const one = replica('replica-1', prefix, log.logger);
      const two = replica('replica-2', prefix);
      const socket = await linkOn(one, id);
      const lease = (await one.leases.acquire(id))!;
      await one.leases.release(lease); // behind ownership's back: it still hands out the old fence
      expect(await two.ownership.claim(id)).toMatchObject({ token: 2 });
      await saveLifecycle(two.keyv, id, { state: 'open', reason: 'replica 2', updatedAt: 7 }, () => two.ownership.fence(id));
      return { one, two, socket, log };
    }

    async function expectLetGo({ one, two, log }: Awaited<ReturnType<typeof deposed>>, id: string) {
      await until(() => one.sessions.get(id) === undefined);
      expect(one.sockets.map((s) => s.loggedOut)).not.toContain(true);
      expect(log.warnings().filter((w) => w.sessionId === id)).toHaveLength(1);
      expect((await stored(two.keyv, id))?.lifecycle).toEqual({ state: 'open', reason: 'replica 2', updatedAt: 7 });
    }

    it('a creds save', async () => {
      const d = await deposed('carol');
      d.socket.auth.creds.nextPreKeyId = 5;
      d.socket.events.emit('creds.update', {});
      d.socket.events.emit('creds.update', {});
      await expectLetGo(d, 'carol');
      expect(d.one.sockets).toHaveLength(1);
      expect(d.socket.ended).toBe(true);
      expect((await createKeyvAuthState(d.two.keyv, 'carol', { logger: silentLogger })).state.creds.nextPreKeyId).not.toBe(5);
    });

    it('a key commit, which the transport sees failed', async () => {
      const d = await deposed('dan');
      const commits: KeyCommit[] = [];
      d.one.sessions.onKeyCommit('dan', (c) => commits.push(c));
      await expect(d.socket.auth.keys.set({ session: { 'd:1': new Uint8Array([1]) } })).rejects.toBeInstanceOf(FencedError);
      await expect(d.socket.auth.keys.set({ session: { 'd:2': new Uint8Array([2]) } })).rejects.toBeInstanceOf(FencedError);
      await expectLetGo(d, 'dan');
      expect(d.one.sockets).toHaveLength(1);
      expect(d.socket.ended).toBe(true);
      expect(commits.map((c) => c.ok)).toEqual([false, false]);
      const keys = await (await createKeyvAuthState(d.two.keyv, 'dan', { logger: silentLogger })).state.keys.get('session', ['d:1', 'd:2']);
      expect(keys).toEqual({});
    });

    it('a write made after this replica noticed the loss: it still carries the lease the socket started under', async () => {
      const d = await deposed('fay');
      await d.one.ownership.renewAll(); // the renewal fails: ownership forgets the lease and has no fence to give
      expect(d.one.ownership.fence('fay')).toBeUndefined();
      d.socket.auth.creds.nextPreKeyId = 5;
      d.socket.events.emit('creds.update', {});
      await expectLetGo(d, 'fay');
      expect((await createKeyvAuthState(d.two.keyv, 'fay', { logger: silentLogger })).state.creds.nextPreKeyId).not.toBe(5);
    });

    it('a lifecycle write, after which nothing reconnects', async () => {
      const d = await deposed('erin');
      // A transient close: replica 1 would record 'closed' and reconnect, but the record is refused.
      d.socket.events.emit('connection.update', {
        connection: 'close',
        lastDisconnect: { error: new Boom('closed', { statusCode: DisconnectReason.connectionClosed }) },
      });
      await expectLetGo(d, 'erin');
      // The closed socket ended by itself; a reconnect begun before the refusal came back is ended too.
      expect(d.one.sockets.slice(1).map((s) => s.ended)).not.toContain(false);
      const sockets = d.one.sockets.length;
      await new Promise((resolve) => setTimeout(resolve, 20)); // the rig's backoff is 0 ms: a retry would have started by now
      expect(d.one.sockets).toHaveLength(sockets);
      expect(d.one.sessions.list()).toEqual([]);
    });
  });
});

describe('SimulatedSessions handed over', () => {
  const network = { logout() {}, relink() {} } as unknown as SimControls;

  it('adopt opens the session at once; release drops it, and get() does not make it up again until adopted', async () => {
    const sessions = new SimulatedSessions(network);
    expect(await sessions.adopt('s1')).toBe(true);
    expect(sessions.list()).toMatchObject([{ id: 's1', state: 'open' }]);
    await sessions.release('s1');
    expect(sessions.list()).toEqual([]);
    expect(sessions.get('s1')).toBeUndefined();
    expect(await sessions.adopt('s1')).toBe(true);
    expect(sessions.get('s1')).toMatchObject({ state: 'open' });
  });
});
