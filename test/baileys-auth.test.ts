import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keyv } from 'keyv';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createKeyvAuthState, listAuthSessions } from '../src/baileys/auth-state.js';
import { silentLogger } from '../src/log.js';
import { createKeyv } from '../src/memory/store.js';

const { proto } = createRequire(import.meta.url)('@whiskeysockets/baileys') as typeof import('@whiskeysockets/baileys');

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
    class FailingWrites extends Map<string, unknown> {
      override set(key: string, value: unknown): this {
        if (key.includes('session-')) throw new Error('disk full');
        return super.set(key, value);
      }
    }
    const keyv = new Keyv({ store: new FailingWrites(), namespace: NS, throwOnErrors: true });
    keyv.on('error', () => undefined);
    const { state } = await createKeyvAuthState(keyv, 's', opts);
    await expect(state.keys.set({ session: { x: bytes(1) }, 'pre-key': { '1': { public: bytes(1), private: bytes(2) } } })).rejects.toThrow('disk full');
    // The other writes of the batch still completed.
    expect(await keyv.get('s:pre-key-1')).toBeTypeOf('string');
  });

  it('refuses a Keyv that would swallow write errors', async () => {
    const keyv = new Keyv({ store: new Map(), namespace: NS });
    await expect(createKeyvAuthState(keyv, 's', opts)).rejects.toThrow(/throwOnErrors/);
  });
});
