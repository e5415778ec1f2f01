import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keyv } from 'keyv';
import type { KeyvBetterSqlite as KeyvSqlite } from '../src/store/keyv-sqlite.js';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createKeyvAuthState,
  isLinked,
  listAuthSessions,
  listStoredSessions,
  saveLifecycle,
  type KeyCommit,
} from '../src/transport/baileys/auth-state.js';
import { silentLogger } from '../src/log.js';
import { createKeyv } from '../src/memory/store.js';
import { startRedis, type RedisServer } from './support/redis.js';

const { proto, addTransactionCapability } = createRequire(import.meta.url)(
  '@whiskeysockets/baileys',
) as typeof import('@whiskeysockets/baileys');

// A namespace with ':' exercises the Keyv iterator's prefix handling.
const NS = 'storycast:baileys-auth';
const opts = { logger: silentLogger };

let dir: string;
const open: Keyv[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'storycast-auth-'));
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((k) => k.disconnect()));
  await rm(dir, { recursive: true, force: true });
});

function keyvAt(url: string): Keyv {
  const keyv = createKeyv(url, { namespace: NS, logger: silentLogger });
  open.push(keyv);
  return keyv;
}
const sqliteUrl = () => `sqlite://${join(dir, 'auth.db')}`;

const bytes = (...b: number[]) => new Uint8Array(b);

/** A store whose session-key writes fail, as a full disk would. */
class FailingWrites extends Map<string, unknown> {
  override set(key: string, value: unknown): this {
    if (key.includes('session-')) throw new Error('disk full');
    return super.set(key, value);
  }
}

describe('createKeyvAuthState', () => {
  it('starts a new session from initAuthCreds', async () => {
    const { state } = await createKeyvAuthState(keyvAt('memory://'), 'fresh', opts);
    expect(state.creds.registered).toBe(false);
    expect(state.creds.nextPreKeyId).toBe(1);
    expect(state.creds.noiseKey.private).toBeInstanceOf(Uint8Array);
    expect(state.creds.advSecretKey).toMatch(/^[A-Za-z0-9+/]+=*$/);
  });

  it('round-trips creds and every key type through a sqlite file across a restart', async () => {
    const first = keyvAt(sqliteUrl());
    const a = await createKeyvAuthState(first, 'acct-1', opts);
    a.state.creds.registered = true;
    a.state.creds.me = { id: '15550001111:3@s.whatsapp.net', name: 'Shop' };
    a.state.creds.routingInfo = Buffer.from([9, 8, 7]);
    await a.saveCreds();
    await a.state.keys.set({
      'pre-key': { '1': { public: bytes(1, 2, 3), private: bytes(4, 5, 6) } },
      session: { '15550002222.0:1': bytes(10, 11, 12) },
      'sender-key': { 'status@broadcast--15550001111:3': Buffer.from('sender') },
      'sender-key-memory': { 'status@broadcast': { '15550002222:1@s.whatsapp.net': true } },
      'app-state-sync-key': {
        AAAAAFmK: { keyData: bytes(7, 7, 7), fingerprint: { rawId: 5, currentIndex: 1, deviceIndexes: [0, 1] }, timestamp: 1700000000 },
      },
      'app-state-sync-version': { regular: { version: 3, hash: Buffer.alloc(4, 1), indexValueMap: { x: { valueMac: bytes(2) } } } },
    });
    const expectedCreds = JSON.parse(JSON.stringify(a.state.creds));
    await first.disconnect();
    open.splice(open.indexOf(first), 1);

    const b = await createKeyvAuthState(keyvAt(sqliteUrl()), 'acct-1', opts);
    expect(JSON.parse(JSON.stringify(b.state.creds))).toEqual(expectedCreds);
    expect(b.state.creds.registered).toBe(true);
    expect(Buffer.isBuffer(b.state.creds.noiseKey.private)).toBe(true);
    expect(b.state.creds.noiseKey.private).toEqual(Buffer.from(a.state.creds.noiseKey.private));
    expect(b.state.creds.routingInfo).toEqual(Buffer.from([9, 8, 7]));

    const preKeys = await b.state.keys.get('pre-key', ['1', '2']);
    expect(Object.keys(preKeys)).toEqual(['1']);
    expect(Buffer.from(preKeys['1']!.public)).toEqual(Buffer.from([1, 2, 3]));
    expect(preKeys['1']!.private).toBeInstanceOf(Uint8Array);
    const sessions = await b.state.keys.get('session', ['15550002222.0:1']);
    expect(Buffer.from(sessions['15550002222.0:1']!)).toEqual(Buffer.from([10, 11, 12]));
    const senderKeys = await b.state.keys.get('sender-key', ['status@broadcast--15550001111:3']);
    expect(Buffer.from(senderKeys['status@broadcast--15550001111:3']!).toString()).toBe('sender');
    const memory = await b.state.keys.get('sender-key-memory', ['status@broadcast']);
    expect(memory['status@broadcast']).toEqual({ '15550002222:1@s.whatsapp.net': true });
    const version = await b.state.keys.get('app-state-sync-version', ['regular']);
    expect(version.regular!.version).toBe(3);
    expect(Buffer.isBuffer(version.regular!.hash)).toBe(true);

    const appKeys = await b.state.keys.get('app-state-sync-key', ['AAAAAFmK']);
    const appKey = appKeys.AAAAAFmK!;
    expect(appKey).toBeInstanceOf(proto.Message.AppStateSyncKeyData);
    expect(Buffer.from(appKey.keyData!)).toEqual(Buffer.from([7, 7, 7]));
    expect(appKey.fingerprint?.rawId).toBe(5);
    expect(appKey.fingerprint?.deviceIndexes).toEqual([0, 1]);
  });

  it('deletes a key set to null, in the store and in the cache', async () => {
    const keyv = keyvAt(sqliteUrl());
    const { state } = await createKeyvAuthState(keyv, 's', opts);
    await state.keys.set({ session: { a: bytes(1), b: bytes(2) } });
    expect(Object.keys(await state.keys.get('session', ['a', 'b']))).toEqual(['a', 'b']);
    await state.keys.set({ session: { a: null } });
    // Baileys' cache remembers the deletion as null (callers test truthiness).
    const afterDelete = await state.keys.get('session', ['a', 'b']);
    expect(afterDelete.a ?? undefined).toBeUndefined();
    expect(afterDelete.b).toBeDefined();
    expect(await keyv.get('s:session-a')).toBeUndefined();
    const reloaded = await createKeyvAuthState(keyv, 's', opts);
    expect(Object.keys(await reloaded.state.keys.get('session', ['a', 'b']))).toEqual(['b']);
  });

  for (const url of ['memory://', 'sqlite']) {
    it(`clear() removes only that session's creds and keys (${url})`, async () => {
      const keyv = keyvAt(url === 'sqlite' ? sqliteUrl() : url);
      // 'a' must not match 'a:b' (ids are URI-encoded in keys) nor 'ab'.
      const ids = ['a', 'a:b', 'ab'];
      const states = await Promise.all(ids.map((id) => createKeyvAuthState(keyv, id, opts)));
      for (const s of states) {
        await s.saveCreds();
        // More than one sqlite iterator page (10 rows), so paging is exercised too.
        const many = Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`${i}`, bytes(i)]));
        await s.state.keys.set({ session: many, 'pre-key': { '1': { public: bytes(1), private: bytes(2) } } });
      }
      expect(await listAuthSessions(keyv)).toEqual(['a', 'a:b', 'ab']);

      await states[0]!.clear();
      expect(await listAuthSessions(keyv)).toEqual(['a:b', 'ab']);
      expect(await states[0]!.state.keys.get('session', ['0', '14'])).toEqual({});
      const again = await createKeyvAuthState(keyv, 'a', opts);
      expect(again.state.creds.registered).toBe(false);
      expect(await again.state.keys.get('pre-key', ['1'])).toEqual({});
      for (const other of ['a:b', 'ab']) {
        const kept = await createKeyvAuthState(keyv, other, opts);
        expect(Object.keys(await kept.state.keys.get('session', ['0', '14']))).toEqual(['0', '14']);
        expect(Object.keys(await kept.state.keys.get('pre-key', ['1']))).toEqual(['1']);
      }
    });
  }

  it('makes keys.set reject when the store fails a write, instead of losing the key', async () => {
    const keyv = new Keyv({ store: new FailingWrites(), namespace: NS, throwOnErrors: true });
    keyv.on('error', () => undefined);
    const { state } = await createKeyvAuthState(keyv, 's', opts);
    await expect(state.keys.set({ session: { x: bytes(1) }, 'pre-key': { '1': { public: bytes(1), private: bytes(2) } } })).rejects.toThrow(
      'disk full',
    );
    // The other writes of the batch still completed.
    expect(await keyv.get('s:pre-key-1')).toBeTypeOf('string');
  });

  it('refuses a Keyv that would swallow write errors', async () => {
    const keyv = new Keyv({ store: new Map(), namespace: NS });
    await expect(createKeyvAuthState(keyv, 's', opts)).rejects.toThrow(/throwOnErrors/);
  });
});

/** A relay's worth of keys: a session per device, the status sender key and its memory. */
function relayKeys(devices: number) {
  const session = Object.fromEntries(Array.from({ length: devices }, (_, i) => [`1555000${i}.0:${i % 3}`, Buffer.alloc(1200, i % 251)]));
  return {
    session,
    'sender-key': { 'status@broadcast--15550001111:3': Buffer.alloc(300, 7) },
    'sender-key-memory': { 'status@broadcast': Object.fromEntries(Object.keys(session).map((id) => [`${id}@s.whatsapp.net`, true])) },
  };
}

describe('key commits', () => {
  it('reach sqlite as one statement, readable by keyv.get and by a later auth state', async () => {
    const keyv = keyvAt(sqliteUrl());
    const { state } = await createKeyvAuthState(keyv, 's', opts);
    const store = keyv.store as KeyvSqlite;
    const statements: string[] = [];
    const query = store.query;
    store.query = (sql: string, ...params: unknown[]) => {
      statements.push(sql);
      return query(sql, ...params);
    };
    await state.keys.set(relayKeys(50));
    store.query = query;
    expect(statements).toHaveLength(1);
    expect(statements[0]).toMatch(/^INSERT INTO keyv/);
    expect(await keyv.get('s:sender-key-status@broadcast--15550001111:3')).toBeTypeOf('string');
    const again = await createKeyvAuthState(keyv, 's', opts);
    const sessions = await again.state.keys.get('session', ['15550000.0:0', '155500049.0:1']);
    expect(Buffer.from(sessions['155500049.0:1']!)).toEqual(Buffer.alloc(1200, 49));
    const memory = await again.state.keys.get('sender-key-memory', ['status@broadcast']);
    expect(Object.keys(memory['status@broadcast']!)).toHaveLength(50);
  });

  it('on sqlite, saves all of a commit or none of it, and reports the failure to the observer', async () => {
    const keyv = keyvAt(sqliteUrl());
    keyv.on('error', () => undefined);
    const auth = await createKeyvAuthState(keyv, 's', opts);
    await (keyv.store as KeyvSqlite).query(
      `CREATE TRIGGER refuse BEFORE INSERT ON keyv WHEN NEW.key LIKE '%session-poison' BEGIN SELECT RAISE(ABORT, 'disk says no'); END`,
    );
    const commits: KeyCommit[] = [];
    auth.onCommit((c) => commits.push(c));
    await expect(auth.state.keys.set({ session: { ok1: bytes(1), poison: bytes(2), ok2: bytes(3) } })).rejects.toThrow('disk says no');
    expect(await keyv.get('s:session-ok1')).toBeUndefined();
    expect(await keyv.get('s:session-ok2')).toBeUndefined();
    expect(commits).toEqual([
      { ms: expect.any(Number), ok: false, error: expect.objectContaining({ message: expect.stringContaining('disk says no') }), keys: 3 },
    ]);
  });

  it('reports every commit, writes and deletes, to each listener until it unsubscribes', async () => {
    const auth = await createKeyvAuthState(keyvAt('memory://'), 's', opts);
    const seen: KeyCommit[] = [];
    const stop = auth.onCommit((c) => seen.push(c));
    auth.onCommit(() => {
      throw new Error('a careless listener');
    });
    await auth.state.keys.set({ session: { a: bytes(1), b: bytes(2) }, 'pre-key': { '1': null } });
    stop();
    await auth.state.keys.set({ session: { c: bytes(3) } });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ ok: true, keys: 3 });
    expect(seen[0]!.ms).toBeGreaterThanOrEqual(0);
    expect(seen[0]).not.toHaveProperty('error');
  });

  it("makes a failed commit visible even though Baileys' transaction layer swallows it", async () => {
    const keyv = new Keyv({ store: new FailingWrites(), namespace: NS, throwOnErrors: true });
    keyv.on('error', () => undefined);
    const auth = await createKeyvAuthState(keyv, 's', opts);
    const commits: KeyCommit[] = [];
    auth.onCommit((c) => commits.push(c));
    // What makeWASocket wraps around auth.keys; a relay runs inside transaction().
    const keys = addTransactionCapability(auth.state.keys, silentLogger as never, { maxCommitRetries: 3, delayBetweenTriesMs: 0 });
    await expect(keys.transaction(async () => keys.set({ session: { x: bytes(1) } }))).resolves.toBeUndefined();
    expect(commits.map((c) => c.ok)).toEqual([false, false, false]);
    expect(String(commits[0]!.error)).toContain('disk full');
  });
});

describe('key commits over a real redis-server', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('go as one setMany (a MULTI), never a set per key, and read back from another connection', async () => {
    const keyv = keyvAt(redis.url);
    const auth = await createKeyvAuthState(keyv, 'r', opts);
    const store = keyv.store as { set: (...a: unknown[]) => Promise<unknown>; setMany: (...a: unknown[]) => Promise<unknown> };
    const calls = { set: 0, setMany: 0 };
    const [set, setMany] = [store.set.bind(store), store.setMany.bind(store)];
    store.set = (...a) => {
      calls.set++;
      return set(...a);
    };
    store.setMany = (...a) => {
      calls.setMany++;
      return setMany(...a);
    };
    const commits: KeyCommit[] = [];
    auth.onCommit((c) => commits.push(c));
    await auth.state.keys.set(relayKeys(200));
    expect(calls).toEqual({ set: 0, setMany: 1 });
    expect(commits).toMatchObject([{ ok: true, keys: 202 }]);

    const other = await createKeyvAuthState(keyvAt(redis.url), 'r', opts);
    const sessions = await other.state.keys.get('session', ['1555000199.0:1']);
    expect(Buffer.from(sessions['1555000199.0:1']!)).toEqual(Buffer.alloc(1200, 199));
  });
});

describe('session lifecycle records', () => {
  it('list every stored session with whether it finished linking and its last state; clear() keeps the record', async () => {
    const keyv = keyvAt(sqliteUrl());
    const linked = await createKeyvAuthState(keyv, 'linked', opts);
    linked.state.creds.registered = true;
    await linked.saveCreds();
    await saveLifecycle(keyv, 'linked', { state: 'open', account: '+15*****11', updatedAt: 1 });
    const half = await createKeyvAuthState(keyv, 'half:way', opts);
    await half.saveCreds();
    const gone = await createKeyvAuthState(keyv, 'gone', opts);
    await gone.saveCreds();
    await saveLifecycle(keyv, 'gone', { state: 'banned', reason: 'temporarily banned (402)', updatedAt: 2 });
    await gone.clear();

    expect(await listStoredSessions(keyv)).toEqual([
      { id: 'gone', hasCreds: false, linked: false, lifecycle: { state: 'banned', reason: 'temporarily banned (402)', updatedAt: 2 } },
      { id: 'half:way', hasCreds: true, linked: false },
      { id: 'linked', hasCreds: true, linked: true, lifecycle: { state: 'open', account: '+15*****11', updatedAt: 1 } },
    ]);
    expect(await listAuthSessions(keyv)).toEqual(['half:way', 'linked']);
  });

  it('counts creds as linked once pairing succeeded (account set), not when a pairing code was merely requested', () => {
    expect(isLinked({ registered: false })).toBe(false);
    // requestPairingCode sets `me` before anyone typed the code.
    expect(isLinked({ registered: false, me: { id: '15550001111@s.whatsapp.net', name: '~' }, pairingCode: 'ABCD1234' })).toBe(false);
    // A QR scan never sets `registered`; pair-success sets `account`.
    expect(isLinked({ registered: false, account: { details: bytes(1) } as never, me: { id: '15550001111:3@s.whatsapp.net' } })).toBe(true);
    expect(isLinked({ registered: true })).toBe(true);
  });
});
