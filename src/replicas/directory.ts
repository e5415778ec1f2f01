/**
 * Which replicas are alive, where they are reached and how loaded they are:
 * each replica announces itself every heartbeat with an expiry, so one that
 * dies drops out on its own after the TTL. The routing of a new session to
 * the least-loaded live replica reads this. Keys: a sorted set of replica ids
 * scored by when their announcement expires, and a hash per replica.
 */
import type { RedisConnection } from '../store/redis-connection.js';

export interface ReplicaInfo {
  readonly id: string;
  /** Where other replicas forward calls for its sessions. */
  readonly address: string;
  /** Sessions it owns: what "least loaded" compares. */
  readonly sessions: number;
  /** When its announcement runs out, on Redis' clock. */
  readonly expiresAt: number;
}

export interface DirectoryOptions {
  /** An announcement lasts this long unless renewed (a few heartbeats). */
  readonly ttlMs: number;
  readonly prefix?: string;
}

/** Adds or refreshes one replica and drops those expired, atomically, on Redis' own clock. */
const ANNOUNCE = `
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local expires = now + tonumber(ARGV[2])
redis.call('HSET', KEYS[2], 'address', ARGV[3], 'sessions', ARGV[4], 'expiresAt', expires)
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[1], expires, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return expires
`;

const LIVE = `
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')
`;

// Only a replica still announced: a bump must not bring back the hash of one that is gone.
const BUMP = `
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HINCRBY', KEYS[1], 'sessions', 1) end
return 0
`;

export class ReplicaDirectory {
  private readonly prefix: string;

  constructor(
    private readonly connection: RedisConnection,
    private readonly options: DirectoryOptions,
  ) {
    this.prefix = options.prefix ?? 'storycast:replicas:';
  }

  /** Announces (or refreshes) this replica; returns when the announcement expires. */
  async announce(replica: { id: string; address: string; sessions: number }): Promise<number> {
    const expires = await this.connection.run('announce', (c) =>
      c.eval(ANNOUNCE, {
        keys: [this.key('live'), this.key(`replica:${replica.id}`)],
        arguments: [replica.id, String(this.options.ttlMs), replica.address, String(replica.sessions)],
      }),
    );
    return Number(expires);
  }

  /** Where a live replica is reached; undefined once it has withdrawn or its announcement ran out. */
  async addressOf(id: string): Promise<string | undefined> {
    const address = await this.connection.run('address', (c) => c.hGet(this.key(`replica:${id}`), 'address'));
    return address ?? undefined;
  }

  /**
   * Counts one more session on a replica until its next announcement says
   * how many it really has: placement reads the count, and without this every
   * new session of a burst would go to the same replica.
   */
  async bump(id: string): Promise<void> {
    await this.connection.run('bump', (c) => c.eval(BUMP, { keys: [this.key(`replica:${id}`)] }));
  }

  /** Leaving on purpose: the others stop routing to it at once rather than after the TTL. */
  async withdraw(id: string): Promise<void> {
    await this.connection.run('withdraw', (c) =>
      c
        .multi()
        .zRem(this.key('live'), id)
        .del(this.key(`replica:${id}`))
        .exec(),
    );
  }

  /** Live replicas, least loaded first (ties by id, so every replica picks the same one). */
  async live(): Promise<ReplicaInfo[]> {
    return this.connection.run(
      'live',
      async (c) => {
        const ids = (await c.eval(LIVE, { keys: [this.key('live')] })) as string[];
        const found: ReplicaInfo[] = [];
        for (const id of ids) {
          const h = await c.hGetAll(this.key(`replica:${id}`));
          if (h.address === undefined) continue;
          found.push({ id, address: h.address, sessions: Number(h.sessions ?? 0), expiresAt: Number(h.expiresAt ?? 0) });
        }
        return found.sort((a, b) => a.sessions - b.sessions || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      },
      3,
    );
  }

  private key(kind: string): string {
    return `${this.prefix}${kind}`;
  }
}
