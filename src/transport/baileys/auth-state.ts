/**
 * Baileys auth state kept in the same Keyv store as session memory (sqlite,
 * redis or memory, see ../memory/store.ts), instead of useMultiFileAuthState,
 * which Baileys itself does not endorse for production.
 *
 * Layout, under the Keyv's own namespace, where <sid> is
 * encodeURIComponent(sessionId) so a session id holding ':' can never read as
 * the prefix of another session's keys:
 *   `<sid>:creds`          the AuthenticationCreds
 *   `<sid>:<type>-<id>`    one signal key (session, pre-key, sender-key, ...)
 *   `<sid>:lifecycle`      the session's last state and why (SessionLifecycle),
 *                          so a restart knows which sessions to start; no key
 *                          type lacks the '-<id>', so it cannot clash with a key.
 *
 * Values are stored as the JSON string BufferJSON.replacer produces, not as
 * objects: Keyv's serializer would turn a Uint8Array into {"0":..,"1":..}, and
 * the memory:// Map keeps live references that Baileys would then mutate behind
 * the store's back. A string round-trips the same way on every adapter.
 *
 * One `keys.set` is one commit: the keys of a Baileys transaction (a relay's
 * sessions, sender key and sender-key memory) reach the store as one batch,
 * not one write per key, which on sqlite meant one fsync per key (seconds for
 * a few thousand devices). sqlite: a single INSERT .. ON CONFLICT statement,
 * atomic; redis: Keyv's setMany, one MULTI; the memory Map: per key.
 *
 * Writes must never be dropped: a lost session or pre-key means recipients
 * cannot decrypt what we send. Keyv without throwOnErrors turns a failed write
 * into `false` plus an 'error' event, so this refuses such a Keyv; with it,
 * keys.set rejects. But Baileys' transaction layer (addTransactionCapability,
 * maxCommitRetries 10, 3 s apart) catches that, retries and then only logs, so
 * a relay resolves as if its keys were saved. `onCommit` is how the caller
 * finds out:
 *
 *   const stop = auth.onCommit(({ ms, ok, error, keys }) => { ... });
 *
 * called after every commit attempt (each retry is one) with how long the
 * store took, whether it worked, the error if not, and how many keys it wrote
 * or deleted. A relay whose last commit failed left keys unsaved. Other work
 * on the session (decrypting incoming messages, pre-key uploads) commits too:
 * a caller judging one relay looks at the commits made while it ran. Listeners
 * run synchronously and must not throw (a throw is logged and ignored).
 *
 * Several replicas on one redis: `fence` gives the session's current lease
 * (read at each write, since leases change hands while a socket lives). With
 * it, each commit, creds save and delete on redis is one script that redis
 * refuses, having written nothing, once a newer owner exists; the write
 * rejects with FencedError (fenced-writes.ts). sqlite and the Map serve one
 * process and ignore it.
 */
import { performance } from 'node:perf_hooks';
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
import { KeyvBetterSqlite } from '../../store/keyv-sqlite.js';
import type { Keyv } from 'keyv';
import type { Logger } from '../../log.js';
import type { Fence } from '../../sends/store.js';
import type { SessionInfo } from '../sessions.js';
import { fencedCommit, type FencedCommit } from './fenced-writes.js';
import { proto } from './proto.js';

/** One commit of signal keys to the store, as onCommit reports it. */
export interface KeyCommit {
  /** How long the store took, in ms. */
  readonly ms: number;
  readonly ok: boolean;
  /** Why it failed; absent when ok. */
  readonly error?: unknown;
  /** Keys written plus keys deleted. */
  readonly keys: number;
}

export interface KeyvAuthState {
  /** Pass as `auth` to makeWASocket. `keys` already has a cache in front. */
  state: AuthenticationState;
  /** Persist `state.creds`; call on every 'creds.update'. */
  saveCreds(): Promise<void>;
  /** Delete the session's creds and every signal key (after a logout); its lifecycle record stays. */
  clear(): Promise<void>;
  /** Calls `listener` after every key commit; returns the function that stops it. */
  onCommit(listener: (commit: KeyCommit) => void): () => void;
}

export interface KeyvAuthStateOptions {
  logger: Logger;
  /** The session's lease when the write is made; undefined (or no function) writes unfenced. */
  fence?: () => Fence | undefined;
}

/** What `<sid>:lifecycle` holds. */
export type SessionLifecycle = Omit<SessionInfo, 'id'>;

interface Entry {
  key: string;
  value: string;
}

const sessionPrefix = (sessionId: string) => `${encodeURIComponent(sessionId)}:`;
const encode = (value: unknown) => JSON.stringify(value, BufferJSON.replacer);
const decode = (raw: unknown): unknown => (typeof raw === 'string' ? JSON.parse(raw, BufferJSON.reviver) : undefined);

export async function createKeyvAuthState(keyv: Keyv, sessionId: string, opts: KeyvAuthStateOptions): Promise<KeyvAuthState> {
  if (!keyv.throwOnErrors) {
    throw new Error('auth state needs a Keyv with throwOnErrors: a silently failed key write breaks decryption');
  }
  if (sessionId === '') throw new Error('auth state needs a non-empty session id');
  const prefix = sessionPrefix(sessionId);
  const credsKey = `${prefix}creds`;
  const keyName = (type: string, id: string) => `${prefix}${type}-${id}`;

  const stored = decode(await keyv.get<string>(credsKey));
  const creds: AuthenticationCreds = (stored as AuthenticationCreds | undefined) ?? initAuthCreds();
  const commits = commitObservers(opts.logger);
  const fenced = fencedWriter(keyv, opts.fence);

  const store: SignalKeyStore = {
    async get<T extends keyof SignalDataTypeMap>(type: T, ids: string[]) {
      const raws = await getMany(
        keyv,
        ids.map((id) => keyName(type, id)),
      );
      const data: { [id: string]: SignalDataTypeMap[T] } = {};
      ids.forEach((id, i) => {
        let value = decode(raws[i]);
        if (value === undefined || value === null) return;
        if (type === 'app-state-sync-key') value = proto.Message.AppStateSyncKeyData.fromObject(value as object);
        data[id] = value as SignalDataTypeMap[T];
      });
      return data;
    },
    async set(data: SignalDataSet) {
      const writes: Entry[] = [];
      const deletes: string[] = [];
      for (const [type, byId] of Object.entries(data)) {
        for (const [id, value] of Object.entries(byId ?? {})) {
          const key = keyName(type, id);
          if (value === null || value === undefined) deletes.push(key);
          else writes.push({ key, value: encode(value) });
        }
      }
      await commits.measure(writes.length + deletes.length, () => fenced(writes, deletes) ?? commit(keyv, writes, deletes));
    },
    async clear() {
      const keys = (await sessionKeys(keyv, prefix)).filter((k) => k !== credsKey && k !== lifecycleKey(sessionId));
      if (keys.length > 0) await (fenced([], keys) ?? keyv.delete(keys));
    },
  };
  const keys = makeCacheableSignalKeyStore(store, opts.logger);

  return {
    state: { creds, keys },
    async saveCreds() {
      const value = encode(creds);
      await (fenced([{ key: credsKey, value }], []) ?? keyv.set(credsKey, value));
    },
    async clear() {
      await keys.clear?.(); // also empties the cache, or a re-pair would read stale keys
      await (fenced([], [credsKey]) ?? keyv.delete(credsKey));
    },
    onCommit: commits.on,
  };
}

/** The listeners of one auth state's commits, and the timing around each commit. */
function commitObservers(logger: Logger) {
  const listeners = new Set<(commit: KeyCommit) => void>();
  const notify = (commit: KeyCommit) => {
    for (const listener of listeners) {
      try {
        listener(commit);
      } catch (error) {
        logger.error({ err: error }, 'a key commit listener threw');
      }
    }
  };
  return {
    on(listener: (commit: KeyCommit) => void): () => void {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    async measure(keys: number, work: () => Promise<void>): Promise<void> {
      if (keys === 0) return;
      const started = performance.now();
      try {
        await work();
      } catch (error) {
        notify({ ms: performance.now() - started, ok: false, error, keys });
        throw error;
      }
      notify({ ms: performance.now() - started, ok: true, keys });
    },
  };
}

/**
 * The write as one fenced step, when the store can check a fence and the
 * session has one at the time of the write; undefined otherwise, and the
 * caller writes through Keyv as it always has.
 */
function fencedWriter(keyv: Keyv, fence: (() => Fence | undefined) | undefined) {
  const fenced: FencedCommit | undefined = fence && fencedCommit(keyv);
  return (writes: readonly Entry[], deletes: readonly string[]): Promise<void> | undefined => {
    const current = fenced && fence?.();
    return current && fenced(writes, deletes, current);
  };
}

/** Writes, then deletes; each half is one store transaction where the adapter has one. */
async function commit(keyv: Keyv, writes: Entry[], deletes: string[]): Promise<void> {
  const results = await Promise.allSettled([setMany(keyv, writes), deletes.length > 0 ? keyv.delete(deletes) : undefined]);
  // allSettled first so neither half is left running unobserved, then surface the first failure.
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/**
 * The sqlite store (store/keyv-sqlite.ts, @keyv/sqlite's table) has no
 * setMany: Keyv would fall back to one INSERT per key, each its own
 * transaction and fsync. One statement over json_each is one
 * transaction: all the keys are saved or none is. @keyv/redis 5.1.6 has one
 * (a MULTI). The Map has none, and needs none.
 */
async function setMany(keyv: Keyv, entries: Entry[]): Promise<void> {
  if (entries.length === 0) return;
  const store: unknown = keyv.store;
  if (store instanceof KeyvBetterSqlite) return sqliteUpsert(keyv, store, entries);
  if (typeof (store as { setMany?: unknown }).setMany === 'function') {
    await keyv.setMany(entries);
    return;
  }
  const results = await Promise.allSettled(entries.map((e) => keyv.set(e.key, e.value)));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

async function sqliteUpsert(keyv: Keyv, store: KeyvBetterSqlite, entries: Entry[]): Promise<void> {
  // Stored exactly as keyv.set would (namespaced key, Keyv's envelope), so keyv.get reads it back.
  const rows = await Promise.all(
    entries.map(async (e) => [keyv._getKeyPrefix(e.key), await keyv.serializeData({ value: e.value, expires: undefined })]),
  );
  const table = store.opts.table ?? 'keyv';
  try {
    await store.query(
      `INSERT INTO ${table} (key, value)
         SELECT json_extract(e.value, '$[0]'), json_extract(e.value, '$[1]') FROM json_each(?) AS e WHERE true
         ON CONFLICT(key) DO UPDATE SET value = excluded.value`,
      JSON.stringify(rows),
    );
  } catch (error) {
    keyv.emit('error', error); // what keyv.set would do, so the store's error log sees it
    throw error;
  }
}

const lifecycleKey = (sessionId: string) => `${sessionPrefix(sessionId)}lifecycle`;

/** `fence` as in KeyvAuthStateOptions: a lifecycle write from a replica that lost the session is refused too. */
export async function saveLifecycle(
  keyv: Keyv,
  sessionId: string,
  lifecycle: SessionLifecycle,
  fence?: () => Fence | undefined,
): Promise<void> {
  const key = lifecycleKey(sessionId);
  const value = JSON.stringify(lifecycle);
  await (fencedWriter(keyv, fence)([{ key, value }], []) ?? keyv.set(key, value));
}

/** What the store knows of a session: whether it was ever linked, and its last state. */
export interface StoredSession {
  readonly id: string;
  /** Creds are stored (a link was at least started). */
  readonly hasCreds: boolean;
  /** The creds completed a link (see isLinked). */
  readonly linked: boolean;
  readonly lifecycle?: SessionLifecycle;
}

/**
 * Whether these creds finished linking a device. Not `registered` alone:
 * Baileys sets that only at the end of a pairing-code link, never after a QR
 * scan; both end with the server's pair-success, which is what sets `account`
 * (the signed device identity). `me` is no proof either: requestPairingCode
 * sets it before the code is even typed.
 */
export function isLinked(creds: Partial<AuthenticationCreds>): boolean {
  return creds.registered === true || (creds.account !== undefined && creds.account !== null);
}

/** Every session with creds or a lifecycle record, sorted by id. */
export async function listStoredSessions(keyv: Keyv): Promise<StoredSession[]> {
  const ids = new Set<string>();
  for (const key of await allKeys(keyv)) {
    const match = /^([^:]+):(creds|lifecycle)$/.exec(key);
    if (match?.[1]) ids.add(decodeURIComponent(match[1]));
  }
  return readSessions(keyv, [...ids].sort());
}

/** What the store knows of one session; undefined when it has neither creds nor a lifecycle record. */
export async function readStoredSession(keyv: Keyv, sessionId: string): Promise<StoredSession | undefined> {
  const [stored] = await readSessions(keyv, [sessionId]);
  return stored?.hasCreds || stored?.lifecycle ? stored : undefined;
}

async function readSessions(keyv: Keyv, ids: string[]): Promise<StoredSession[]> {
  const raws = await getMany(
    keyv,
    ids.flatMap((id) => [`${sessionPrefix(id)}creds`, lifecycleKey(id)]),
  );
  return ids.map((id, i) => {
    const creds = decode(raws[2 * i]) as Partial<AuthenticationCreds> | undefined;
    const lifecycle = parseLifecycle(raws[2 * i + 1]);
    return {
      id,
      hasCreds: creds !== undefined,
      linked: creds !== undefined && isLinked(creds),
      ...(lifecycle ? { lifecycle } : {}),
    };
  });
}

function parseLifecycle(raw: unknown): SessionLifecycle | undefined {
  if (typeof raw !== 'string') return undefined;
  try {
    const value = JSON.parse(raw) as Partial<SessionLifecycle>;
    if (typeof value.state !== 'string' || typeof value.updatedAt !== 'number') return undefined;
    return value as SessionLifecycle;
  } catch {
    return undefined;
  }
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
 * deletes: an iterator that pages with OFFSET (as @keyv/sqlite's did) skips
 * rows deleted while it iterates.
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
