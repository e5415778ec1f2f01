/**
 * Who owns a WhatsApp session when several replicas share one redis: a lease
 * per session, held by one replica at a time, with a fencing token that rises
 * with every new owner (Kleppmann, "How to do distributed locking", 2016). The
 * owner renews its lease well within the TTL; a replica that cannot renew
 * stops sending for the session. Stopping is not enough on its own: a replica
 * paused past its TTL (GC, a frozen VM, a slow network) wakes up still
 * believing it owns the session, so every journal write carries the token and
 * redis refuses it, in the same atomic step as the write, once a newer owner
 * exists (FENCE_CHECK, FencedScript).
 *
 * Keys, all under the prefix (default `storycast:leases:`):
 *
 *   lease:<sessionId>    string `<replicaId>:<token>`, PX ttl: present while owned
 *   counter:<sessionId>  integer, no expiry: the last token issued (INCR per new owner)
 *   fence:<sessionId>    string, no expiry: the current owner's token, which fenced
 *                        writes compare against (never expires: a write from an old
 *                        owner must fail even after every lease has lapsed)
 *
 * Hand-written Lua rather than a library: redlock (and its ports) solves
 * quorum locking over several independent masters and hands out a random
 * value, not a monotonic token, so it cannot fence; simple lock helpers
 * (SET NX PX plus compare-and-delete) give no token either. We have one redis,
 * need a token per new owner, and need the token checked inside the same
 * script as each write, which only our own scripts can do. Each script is one
 * atomic step in redis, so acquire, renew and release never race each other.
 */
import { createHash } from 'node:crypto';
import type { RedisArgument } from '@redis/client';
import type { Fence } from '../sends/store.js';
import type { RedisClient, RedisConnection } from '../store/redis-connection.js';

/** A write refused because a newer owner of its session exists: the writer must stop, its lease is gone. */
export class FencedError extends Error {
  override readonly name = 'FencedError';
}

/**
 * The Lua prelude of a fenced script: KEYS[1] is the fence key and ARGV[1] the
 * writer's token, '' for an unfenced write (one owner, nothing to check). It
 * runs before any write, so a refused script has changed nothing. The reply
 * starts with FENCED, which FencedScript turns into a FencedError.
 */
export const FENCE_CHECK = `
if ARGV[1] ~= '' then
  local current = redis.call('GET', KEYS[1])
  if current ~= ARGV[1] then
    return redis.error_reply('FENCED ' .. KEYS[1] .. ' is at token ' .. (current or 'none') .. ', not ' .. ARGV[1])
  end
end
`;

/**
 * A Lua script sent by its SHA1 (EVALSHA), falling back to the full text
 * when redis does not know it yet (after a restart or SCRIPT FLUSH): the
 * connection is not ours to register scripts on, and sending the text with
 * every journal write would be wasted bytes.
 */
class LuaScript {
  readonly source: string;
  private readonly sha: string;

  constructor(source: string) {
    this.source = source;
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(c: RedisClient, keys: readonly string[], args: readonly RedisArgument[]): Promise<unknown> {
    const options = { keys: [...keys], arguments: [...args] };
    try {
      return await c.evalSha(this.sha, options);
    } catch (error) {
      if (!(error instanceof Error && error.message.startsWith('NOSCRIPT'))) throw error;
      return c.eval(this.source, options);
    }
  }
}

/** A script that starts with FENCE_CHECK: the fence comes first in KEYS and ARGV, then the script's own. */
export class FencedScript extends LuaScript {
  constructor(body: string) {
    super(FENCE_CHECK + body);
  }

  /** Rejects with FencedError, having written nothing, when a newer owner than `fence`'s exists. */
  async runFenced(c: RedisClient, fence: Fence | undefined, keys: readonly string[], args: readonly RedisArgument[]): Promise<unknown> {
    // Unfenced: any key will do as KEYS[1], the check never reads it; the script's first key keeps it in the same slot.
    const fenceKey = fence?.key ?? keys[0] ?? '';
    try {
      return await this.run(c, [fenceKey, ...keys], [fence === undefined ? '' : String(fence.token), ...args]);
    } catch (error) {
      if (error instanceof Error && error.message.startsWith('FENCED')) throw new FencedError(error.message, { cause: error });
      throw error;
    }
  }
}

// KEYS: lease, counter, fence. ARGV: replicaId, ttlMs. Reply: the token, or nil when another replica holds the lease.
const ACQUIRE = new LuaScript(`
local held = redis.call('GET', KEYS[1])
if held then
  local owner, token = string.match(held, '^(.*):(%d+)$')
  if owner ~= ARGV[1] then return false end
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return tonumber(token)
end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. token, 'PX', ARGV[2])
redis.call('SET', KEYS[3], token)
return token
`);

// KEYS: lease. ARGV: the lease's value, ttlMs. Reply: 1 when extended, 0 when the lease is no longer exactly this one.
const RENEW = new LuaScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`);

// KEYS: lease. ARGV: the lease's value. Reply: 1 when deleted, 0 when someone else's (or nobody's) by now.
const RELEASE = new LuaScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
`);

// KEYS: lease. Reply: { value, remaining ms }, or nil when free. GET and PTTL in one step: no expiry in between.
const HOLDER = new LuaScript(`
local value = redis.call('GET', KEYS[1])
if not value then return false end
return { value, redis.call('PTTL', KEYS[1]) }
`);

export interface Lease {
  readonly sessionId: string;
  readonly token: number;
  readonly replicaId: string;
}

export interface LeaseHolder {
  readonly replicaId: string;
  readonly token: number;
  /** How long the lease has left on redis's clock when read. */
  readonly remainingMs: number;
}

export interface SessionLeasesOptions {
  /** This replica's name; unique among the replicas sharing the redis. */
  readonly replicaId: string;
  /** How long a lease lasts unless renewed. Renew well within it (a third is usual). */
  readonly ttlMs: number;
  /** Prepended to every key. Default `storycast:leases:`. */
  readonly prefix?: string;
}

export class SessionLeases {
  private readonly replicaId: string;
  private readonly ttl: string;
  private readonly prefix: string;

  constructor(
    private readonly connection: RedisConnection,
    opts: SessionLeasesOptions,
  ) {
    if (opts.replicaId === '') throw new RangeError('session leases: replicaId is empty');
    // PX takes a positive integer; anything else would fail on every acquire rather than here.
    if (!Number.isSafeInteger(opts.ttlMs) || opts.ttlMs <= 0)
      throw new RangeError(`session leases: ttlMs ${opts.ttlMs} is not a positive integer`);
    this.replicaId = opts.replicaId;
    this.ttl = String(opts.ttlMs);
    this.prefix = opts.prefix ?? 'storycast:leases:';
  }

  /**
   * The session's lease for this replica: a new one with a new, higher token
   * when it was free; the same one, extended, when this replica already holds
   * it (so a retry after a timed-out acquire is safe); undefined when another
   * replica holds it.
   */
  async acquire(sessionId: string): Promise<Lease | undefined> {
    const token = await this.connection.run('acquire', (c) =>
      ACQUIRE.run(c, [this.key('lease', sessionId), this.key('counter', sessionId), this.fenceKey(sessionId)], [this.replicaId, this.ttl]),
    );
    return token === null ? undefined : { sessionId, token: Number(token), replicaId: this.replicaId };
  }

  /** Extends the lease if it is still exactly this one (same replica and token); false means it is lost: stop sending. */
  async renew(lease: Lease): Promise<boolean> {
    const extended = await this.connection.run('renew', (c) =>
      RENEW.run(c, [this.key('lease', lease.sessionId)], [value(lease), this.ttl]),
    );
    return extended === 1;
  }

  /** Gives the lease up if it is still this one, so the next owner need not wait out the TTL; a newer owner's lease is left alone. */
  async release(lease: Lease): Promise<void> {
    await this.connection.run('release', (c) => RELEASE.run(c, [this.key('lease', lease.sessionId)], [value(lease)]));
  }

  async holder(sessionId: string): Promise<LeaseHolder | undefined> {
    const reply = (await this.connection.run('holder', (c) => HOLDER.run(c, [this.key('lease', sessionId)], []))) as
      | [string, number]
      | null;
    if (reply === null) return undefined;
    const [held, remainingMs] = reply;
    const colon = held.lastIndexOf(':');
    return { replicaId: held.slice(0, colon), token: Number(held.slice(colon + 1)), remainingMs: Number(remainingMs) };
  }

  /** The key fenced writes for this session compare their token against. */
  fenceKey(sessionId: string): string {
    return this.key('fence', sessionId);
  }

  /** What a journal write for the lease's session carries. */
  fence(lease: Lease): Fence {
    return { key: this.fenceKey(lease.sessionId), token: lease.token };
  }

  private key(kind: string, sessionId: string): string {
    return `${this.prefix}${kind}:${sessionId}`;
  }
}

function value(lease: Lease): string {
  return `${lease.replicaId}:${lease.token}`;
}
