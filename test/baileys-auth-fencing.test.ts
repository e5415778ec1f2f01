/**
 * Baileys auth writes fenced by the session's lease, over a real redis-server:
 * what a replica that lost its session writes must be refused, and what an
 * owner writes must be stored exactly as keyv.set stores it.
 */
import { randomUUID } from 'node:crypto';
import KeyvRedis from '@keyv/redis';
import { Keyv } from 'keyv';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../src/log.js';
import { createKeyv } from '../src/memory/store.js';
import { FencedError, SessionLeases, type Lease } from '../src/replicas/leases.js';
import type { Fence } from '../src/sends/store.js';
import { RedisConnection } from '../src/store/redis-connection.js';
import {
  createKeyvAuthState,
  listStoredSessions,
  saveLifecycle,
  type KeyCommit,
  type KeyvAuthState,
} from '../src/transport/baileys/auth-state.js';
import { startRedis, type RedisServer } from './support/redis.js';

const NS = 'storycast:baileys-auth';
const opts = { logger: silentLogger };

let redis: RedisServer;
let raw: RedisConnection;
const closers: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  redis = await startRedis();
  raw = new RedisConnection({ url: redis.url, logger: silentLogger, label: 'raw' });
});
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});
afterAll(async () => {
  await raw?.close();
  await redis?.stop();
});

/** Counts the adapter's own writes: a fenced write must not go through them. */
function adapterWrites(keyv: Keyv): { count: number } {
  const counter = { count: 0 };
  const store = keyv.store as Record<string, unknown>;
  for (const name of ['set', 'setMany', 'delete', 'deleteMany']) {
    const original = store[name] as (...a: unknown[]) => unknown;
    store[name] = (...a: unknown[]) => {
      counter.count++;
      return original.apply(store, a);
    };
  }
  return counter;
}

/** One replica as its own process would have it: its own Keyv and its own lease connection. */
function replica(replicaId: string, prefix: string) {
  const keyv = freshKeyv();
  const connection = new RedisConnection({ url: redis.url, logger: silentLogger, label: `leases ${replicaId}` });
  closers.push(() => connection.close());
  const leases = new SessionLeases(connection, { replicaId, ttlMs: 60_000, prefix });
  const errors: unknown[] = [];
  keyv.on('error', (error: unknown) => errors.push(error));
  return { keyv, leases, errors };
}

function freshKeyv(): Keyv {
  const keyv = createKeyv(redis.url, { namespace: NS, logger: silentLogger });
  closers.push(() => keyv.disconnect());
  return keyv;
}

const get = (key: string) => raw.run('get', (c) => c.get(key));
const session = (n: number) => new Uint8Array(64).fill(n);

/** A commit as a relay makes one: sessions written, a used pre-key deleted. */
async function relay(auth: KeyvAuthState, device: string, fill: number, usedPreKey?: string): Promise<void> {
  await auth.state.keys.set({
    session: { [device]: session(fill) },
    ...(usedPreKey ? { 'pre-key': { [usedPreKey]: null } } : {}),
  });
}

describe('fenced Baileys auth writes over a real redis-server', () => {
  it('store what keyv.set stores, at the same key, and read back unchanged by an auth state on another connection', async () => {
    const sid = `alice-${randomUUID()}`;
    const one = replica('replica-1', `test:${randomUUID()}:`);
    const lease = (await one.leases.acquire(sid))!;
    const fence = () => one.leases.fence(lease);

    const fenced = await createKeyvAuthState(one.keyv, sid, { ...opts, fence });
    const bypassed = adapterWrites(one.keyv);
    fenced.state.creds.registered = true;
    await fenced.saveCreds();
    await fenced.state.keys.set({
      session: { '1555000001.0:1': session(1) },
      'pre-key': { '7': { public: session(2), private: session(3) }, '8': { public: session(4), private: session(5) } },
    });
    await relay(fenced, '1555000001.0:2', 6, '8'); // sets and a delete in one fenced commit
    await saveLifecycle(one.keyv, sid, { state: 'open', account: '+15*****01', updatedAt: 1 }, fence);
    expect(bypassed.count).toBe(0); // all four went through the fenced script

    // The same creds written by keyv.set, unfenced, under another session id: the stored strings must match.
    const twin = `twin-${randomUUID()}`;
    await one.keyv.set(`${encodeURIComponent(twin)}:creds`, await storedString(sid, 'creds'));
    expect(await get(`${NS}::${encodeURIComponent(sid)}:creds`)).toBe(await get(`${NS}::${encodeURIComponent(twin)}:creds`));

    const again = await createKeyvAuthState(freshKeyv(), sid, opts);
    expect(again.state.creds).toEqual(fenced.state.creds);
    expect(Buffer.from(again.state.creds.noiseKey.private)).toEqual(Buffer.from(fenced.state.creds.noiseKey.private));
    expect(Buffer.isBuffer(again.state.creds.signedIdentityKey.public)).toBe(true);
    const sessions = await again.state.keys.get('session', ['1555000001.0:1', '1555000001.0:2']);
    expect(Buffer.from(sessions['1555000001.0:1']!)).toEqual(Buffer.from(session(1)));
    expect(Buffer.from(sessions['1555000001.0:2']!)).toEqual(Buffer.from(session(6)));
    const preKeys = await again.state.keys.get('pre-key', ['7', '8']);
    expect(Object.keys(preKeys)).toEqual(['7']);
    expect(Buffer.from(preKeys['7']!.private)).toEqual(Buffer.from(session(3)));
    expect((await listStoredSessions(freshKeyv())).find((s) => s.id === sid)).toEqual({
      id: sid,
      hasCreds: true,
      linked: true,
      lifecycle: { state: 'open', account: '+15*****01', updatedAt: 1 },
    });
    expect(one.errors).toEqual([]);
  });

  it("refuse every write of a replica whose lease passed to another, leaving the new owner's values", async () => {
    const sid = `bob-${randomUUID()}`;
    const prefix = `test:${randomUUID()}:`;
    const one = replica('replica-1', prefix);
    const two = replica('replica-2', prefix);
    const first = (await one.leases.acquire(sid))!;
    const oldAuth = await createKeyvAuthState(one.keyv, sid, { ...opts, fence: () => one.leases.fence(first) });
    const commits: KeyCommit[] = [];
    oldAuth.onCommit((c) => commits.push(c));
    await oldAuth.saveCreds();
    await relay(oldAuth, 'd:1', 1);
    await oldAuth.state.keys.set({ 'pre-key': { '9': { public: session(9), private: session(9) } } });

    // Replica 1 hands over (or its lease runs out); replica 2 takes the session with a newer token.
    await one.leases.release(first);
    const second = (await two.leases.acquire(sid)) as Lease;
    expect(second.token).toBeGreaterThan(first.token);
    const newAuth = await createKeyvAuthState(two.keyv, sid, { ...opts, fence: () => two.leases.fence(second) });
    newAuth.state.creds.nextPreKeyId = 4242;
    await newAuth.saveCreds();
    await relay(newAuth, 'd:1', 2);
    await saveLifecycle(two.keyv, sid, { state: 'open', updatedAt: 2 }, () => two.leases.fence(second));
    const before = await snapshot(sid);

    // Replica 1 wakes up still believing it owns the session.
    oldAuth.state.creds.nextPreKeyId = 1;
    await expect(oldAuth.saveCreds()).rejects.toBeInstanceOf(FencedError);
    await expect(relay(oldAuth, 'd:1', 3, '9')).rejects.toBeInstanceOf(FencedError);
    await expect(saveLifecycle(one.keyv, sid, { state: 'closed', updatedAt: 3 }, () => one.leases.fence(first))).rejects.toBeInstanceOf(
      FencedError,
    );
    expect(commits.at(-1)).toMatchObject({ ok: false, keys: 2 });
    expect(commits.at(-1)?.error).toBeInstanceOf(FencedError);
    expect(await snapshot(sid)).toEqual(before);

    const read = await createKeyvAuthState(freshKeyv(), sid, opts);
    expect(read.state.creds.nextPreKeyId).toBe(4242);
    expect(Buffer.from((await read.state.keys.get('session', ['d:1']))['d:1']!)).toEqual(Buffer.from(session(2)));
    expect(Object.keys(await read.state.keys.get('pre-key', ['9']))).toEqual(['9']);
    // A refusal is the fence working, not a store failure: nothing for the store's error log.
    expect(one.errors).toEqual([]);

    // Writes without a fence (one process), or whose fence is unknown at the time, are not checked.
    const unfenced = await createKeyvAuthState(one.keyv, sid, { ...opts, fence: () => undefined });
    unfenced.state.creds.nextPreKeyId = 7;
    await unfenced.saveCreds();
    await saveLifecycle(one.keyv, sid, { state: 'closed', updatedAt: 4 });
    const latest = await createKeyvAuthState(freshKeyv(), sid, opts);
    expect(latest.state.creds.nextPreKeyId).toBe(7);
    expect((await listStoredSessions(one.keyv)).find((s) => s.id === sid)?.lifecycle).toEqual({ state: 'closed', updatedAt: 4 });
  });

  it('land where keyv.set puts them whatever the Keyv prefixes, with its TTL', async () => {
    // Keyv's own "<namespace>:" prefix on top of the adapter's "<namespace>::", and a TTL.
    const keyv = new Keyv({ store: new KeyvRedis(redis.url), namespace: `ttl-${randomUUID()}`, ttl: 600_000, throwOnErrors: true });
    closers.push(() => keyv.disconnect());
    const leases = replica('replica-1', `test:${randomUUID()}:`).leases;
    const lease = (await leases.acquire('carol'))!;
    const fenced = await createKeyvAuthState(keyv, 'carol', { ...opts, fence: () => leases.fence(lease) });
    const bypassed = adapterWrites(keyv);
    await fenced.saveCreds();
    expect(bypassed.count).toBe(0);
    await keyv.set('plain', 'x');

    const key = `${keyv.namespace}::${keyv.namespace}:carol:creds`;
    expect(await get(`${keyv.namespace}::${keyv.namespace}:plain`)).not.toBeNull();
    const stored = JSON.parse((await get(key))!) as { value: string; expires: number };
    expect(stored.expires).toBeGreaterThan(Date.now());
    expect(await raw.run('pttl', (c) => c.pTTL(key))).toBeGreaterThan(0);
    expect((await createKeyvAuthState(keyv, 'carol', opts)).state.creds).toEqual(fenced.state.creds);
  });

  it('are ignored by stores of one process (the memory Map here), which need no fence', async () => {
    const keyv = createKeyv('memory://', { namespace: NS, logger: silentLogger });
    const fence: Fence = { key: 'nowhere', token: 1 };
    const auth = await createKeyvAuthState(keyv, 'dave', { ...opts, fence: () => fence });
    auth.state.creds.registered = true;
    await auth.saveCreds();
    await relay(auth, 'd:1', 1);
    await saveLifecycle(keyv, 'dave', { state: 'open', updatedAt: 1 }, () => fence);
    expect(await listStoredSessions(keyv)).toEqual([
      { id: 'dave', hasCreds: true, linked: true, lifecycle: { state: 'open', updatedAt: 1 } },
    ]);
  });
});

/** The string a session's key holds in Keyv's envelope (what keyv.set was given). */
async function storedString(sid: string, name: string): Promise<string> {
  const envelope = JSON.parse((await get(`${NS}::${encodeURIComponent(sid)}:${name}`))!) as { value: string };
  return envelope.value;
}

/** Every raw value under the session's keys, as redis holds them. */
async function snapshot(sid: string): Promise<Record<string, string | null>> {
  const keys = (await raw.run('keys', (c) => c.keys(`${NS}::${encodeURIComponent(sid)}:*`))).sort();
  const values = await Promise.all(keys.map((k) => get(k)));
  return Object.fromEntries(keys.map((k, i) => [k, values[i] ?? null]));
}
