/**
 * Auth writes that redis refuses once a newer owner of the session exists
 * (see src/replicas/leases.ts). Keyv has no way to carry a fencing token, so a
 * fenced commit bypasses it: the fence check, the sets and the deletes of one
 * commit run as one Lua script, one atomic step, and a refused commit has
 * written nothing.
 *
 * Bypassing Keyv must not change what is stored, or keyv.get would no longer
 * read it back. keyv 5.6 `set` stores `store.set(keyv._getKeyPrefix(key),
 * await keyv.serializeData({ value, expires }), ttl)`, and @keyv/redis 5.1.6
 * `set` writes `SET createKeyPrefix(key, namespace) value [PX ttl]`, where
 * Keyv's constructor gave the adapter its namespace; `delete` is DEL (or
 * UNLINK, the same to a reader) of the same key. This does exactly that, using
 * those same methods, so whatever namespace and key-prefix options the Keyv
 * was made with, the key and the envelope come out the same.
 */
import KeyvRedis from '@keyv/redis';
import type { Keyv } from 'keyv';
import { FencedError, FencedScript } from '../../replicas/leases.js';
import type { Fence } from '../../sends/store.js';
import type { RedisClient } from '../../store/redis-connection.js';

/** One value to store, already encoded as the auth state stores it (a string). */
interface StoreWrite {
  readonly key: string;
  readonly value: string;
}

/** Writes and deletes, all or nothing, refused with FencedError once a newer owner than `fence`'s exists. */
export type FencedCommit = (writes: readonly StoreWrite[], deletes: readonly string[], fence: Fence) => Promise<void>;

// After the fence: KEYS are the keys to set, then the keys to delete. ARGV: how many sets, the PX ttl ('' for none), the values.
const COMMIT = new FencedScript(`
local sets = tonumber(ARGV[2])
local ttl = ARGV[3]
for i = 1, sets do
  if ttl == '' then
    redis.call('SET', KEYS[i + 1], ARGV[i + 3])
  else
    redis.call('SET', KEYS[i + 1], ARGV[i + 3], 'PX', ttl)
  end
end
for i = sets + 2, #KEYS do
  redis.call('DEL', KEYS[i])
end
return sets
`);

/**
 * The fenced commit for this Keyv's store; undefined when the store is not
 * redis (sqlite and the memory Map serve one process, which needs no fence).
 */
export function fencedCommit(keyv: Keyv): FencedCommit | undefined {
  const store: unknown = keyv.store;
  if (!(store instanceof KeyvRedis)) return undefined;
  // The fence key and the auth keys hash to different slots: one script cannot touch both on a cluster.
  if (store.isCluster()) throw new Error('fenced auth writes need a single redis server, not a cluster');
  return async (writes, deletes, fence) => {
    if (writes.length === 0 && deletes.length === 0) return;
    const redisKey = (key: string) => store.createKeyPrefix(keyv._getKeyPrefix(key), store.namespace);
    const ttl = keyv.ttl === 0 ? undefined : keyv.ttl;
    const values = await Promise.all(writes.map((w) => envelope(keyv, w.value, ttl)));
    const keys = [...writes.map((w) => redisKey(w.key)), ...deletes.map(redisKey)];
    const args = [String(writes.length), ttl === undefined ? '' : String(ttl), ...values];
    try {
      const client = (await store.getClient()) as RedisClient;
      await COMMIT.runFenced(client, fence, keys, args);
    } catch (error) {
      // What keyv.set does with a store failure, so the store's error log sees it; a refusal is no store failure.
      if (!(error instanceof FencedError)) keyv.emit('error', error);
      throw error;
    }
  };
}

/** The string keyv.set would hand the store for this value. */
async function envelope(keyv: Keyv, value: string, ttl: number | undefined): Promise<string> {
  const serialized = await keyv.serializeData({ value, expires: ttl === undefined ? undefined : Date.now() + ttl });
  if (typeof serialized !== 'string') throw new Error('fenced auth writes need a Keyv that serializes to strings');
  return serialized;
}
