/**
 * Baileys auth state kept in the same Keyv store as session memory (sqlite,
 * redis or memory, see ../memory/store.ts), instead of useMultiFileAuthState,
 * which Baileys itself does not endorse for production.
 *
 * Layout, under the Keyv's own namespace: `<sid>:creds` and `<sid>:<type>-<id>`,
 * where <sid> is encodeURIComponent(sessionId) so a session id holding ':'
 * can never read as the prefix of another session's keys.
 *
 * Values are stored as the JSON string BufferJSON.replacer produces, not as
 * objects: Keyv's serializer would turn a Uint8Array into {"0":..,"1":..}, and
 * the memory:// Map keeps live references that Baileys would then mutate behind
 * the store's back. A string round-trips the same way on every adapter.
 *
 * Writes must never be dropped: a lost session or pre-key means recipients
 * cannot decrypt what we send. Keyv without throwOnErrors turns a failed write
 * into `false` plus an 'error' event, which Baileys never looks at, so this
 * refuses such a Keyv. With it, keys.set rejects and Baileys' transaction layer
 * (addTransactionCapability, wrapped around auth.keys by the socket) retries the
 * commit and logs each failure rather than carrying on as if it were saved.
 */
import { createRequire } from 'node:module';
import {
  BufferJSON,
  initAuthCreds,
  makeCacheableSignalKeyStore,
  type AuthenticationCreds,
  type AuthenticationState,
  type SignalDataSet,
  type SignalDataTypeMap,
  type SignalKeyStore,
} from '@whiskeysockets/baileys';
import type { Keyv } from 'keyv';
import type { Logger } from '../log.js';

// `proto` is re-exported through __exportStar, which Node's CJS named-export
// detection cannot see; require it instead of relying on the default export.
const { proto } = createRequire(import.meta.url)('@whiskeysockets/baileys') as typeof import('@whiskeysockets/baileys');

export interface KeyvAuthState {
  /** Pass as `auth` to makeWASocket. `keys` already has a cache in front. */
  state: AuthenticationState;
  /** Persist `state.creds`; call on every 'creds.update'. */
  saveCreds(): Promise<void>;
  /** Delete the session's creds and every signal key (after a logout). */
  clear(): Promise<void>;
}

export interface KeyvAuthStateOptions {
  logger: Logger;
}

export async function createKeyvAuthState(
  keyv: Keyv,
  sessionId: string,
  opts: KeyvAuthStateOptions,
): Promise<KeyvAuthState> {
  if (!keyv.throwOnErrors) {
    throw new Error('auth state needs a Keyv with throwOnErrors: a silently failed key write breaks decryption');
  }
  if (sessionId === '') throw new Error('auth state needs a non-empty session id');
  const prefix = `${encodeURIComponent(sessionId)}:`;
  const credsKey = `${prefix}creds`;
  const keyName = (type: string, id: string) => `${prefix}${type}-${id}`;

  const write = async (key: string, value: unknown) => {
    await keyv.set(key, JSON.stringify(value, BufferJSON.replacer));
  };
  const read = (raw: unknown): unknown => (typeof raw === 'string' ? JSON.parse(raw, BufferJSON.reviver) : undefined);

  const stored = read(await keyv.get<string>(credsKey));
  const creds: AuthenticationCreds = (stored as AuthenticationCreds | undefined) ?? initAuthCreds();

  const store: SignalKeyStore = {
    async get<T extends keyof SignalDataTypeMap>(type: T, ids: string[]) {
      const raws = await getMany(keyv, ids.map((id) => keyName(type, id)));
      const data: { [id: string]: SignalDataTypeMap[T] } = {};
      ids.forEach((id, i) => {
        let value = read(raws[i]);
        if (value === undefined || value === null) return;
        if (type === 'app-state-sync-key') value = proto.Message.AppStateSyncKeyData.fromObject(value as object);
        data[id] = value as SignalDataTypeMap[T];
      });
      return data;
    },
    async set(data: SignalDataSet) {
      const writes: Promise<unknown>[] = [];
      const deletes: string[] = [];
      for (const [type, byId] of Object.entries(data)) {
        for (const [id, value] of Object.entries(byId ?? {})) {
          const key = keyName(type, id);
          if (value === null || value === undefined) deletes.push(key);
          else writes.push(write(key, value));
        }
      }
      if (deletes.length > 0) writes.push(keyv.delete(deletes));
      // allSettled first so no write is left running unobserved, then surface the first failure.
      const results = await Promise.allSettled(writes);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    },
    async clear() {
      const keys = (await sessionKeys(keyv, prefix)).filter((k) => k !== credsKey);
      if (keys.length > 0) await keyv.delete(keys);
    },
  };
  const keys = makeCacheableSignalKeyStore(store, opts.logger);

  return {
    state: { creds, keys },
    saveCreds: () => write(credsKey, creds),
    async clear() {
      await keys.clear?.(); // also empties the cache, or a re-pair would read stale keys
      await keyv.delete(credsKey);
    },
  };
}

/** Session ids that have saved creds in this Keyv's namespace. */
export async function listAuthSessions(keyv: Keyv): Promise<string[]> {
  const sessions: string[] = [];
  for (const key of await allKeys(keyv)) {
    const match = /^([^:]+):creds$/.exec(key);
    if (match?.[1]) sessions.push(decodeURIComponent(match[1]));
  }
  return sessions.sort();
}

/**
 * Keyv.getMany swallows per-key failures (allSettled) on stores without their
 * own getMany, such as the memory Map; fall back to single gets there so a
 * failed read throws instead of looking like a missing key.
 */
async function getMany(keyv: Keyv, keys: string[]): Promise<unknown[]> {
  if (keys.length === 0) return [];
  const store = keyv.store as { getMany?: unknown };
  if (typeof store.getMany === 'function') return keyv.getMany(keys);
  return Promise.all(keys.map((k) => keyv.get(k)));
}

async function sessionKeys(keyv: Keyv, prefix: string): Promise<string[]> {
  return (await allKeys(keyv)).filter((k) => k.startsWith(prefix));
}

/**
 * Every key in the namespace, as passed to get/set. Collected before anyone
 * deletes: the sqlite iterator pages with OFFSET, so deleting while iterating
 * would skip rows.
 */
async function allKeys(keyv: Keyv): Promise<string[]> {
  if (!keyv.iterator) throw new Error('this Keyv store cannot list its keys (no iterator)');
  const keys: string[] = [];
  for await (const [key] of keyv.iterator(undefined)) {
    if (typeof key === 'string') keys.push(unprefix(keyv, key));
  }
  return keys;
}

/**
 * Keyv 5.6 strips only the first ':'-separated segment of the namespace from
 * iterated keys, so a namespace like 'storycast:baileys-auth' comes back as
 * 'baileys-auth:<key>'. Strip the rest here.
 */
function unprefix(keyv: Keyv, key: string): string {
  const namespace = keyv.namespace;
  if (!namespace || !keyv.useKeyPrefix) return key;
  const rest = namespace.split(':').slice(1).join(':');
  return rest !== '' && key.startsWith(`${rest}:`) ? key.slice(rest.length + 1) : key;
}
