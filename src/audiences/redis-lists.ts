/**
 * Saved recipient lists in redis (STORYCAST_STORE=redis://…), shared by the
 * replicas. Keys, under the prefix (default `storycast:lists:`):
 *
 *   list:<session>:<name>  hash: recipients (JIDs joined by newlines), count,
 *                          createdAt, updatedAt
 *   names:<session>        sorted set of the session's list names, every score
 *                          0, so a lexicographic range pages them by name
 *
 * Session ids and list names never hold a colon (both are letters, digits,
 * dot, dash and underscore), so the keys cannot collide. Save and delete are
 * Lua scripts: the hash and the index change together.
 */
import type { Logger } from '../log.js';
import { RedisConnection } from '../store/redis-connection.js';
import type { ListQuery, RecipientList, RecipientListInfo, RecipientListStore } from './lists.js';

export interface RedisRecipientListStoreOptions {
  readonly url: string;
  readonly logger: Logger;
  /** Prepended to every key. Default `storycast:lists:`. */
  readonly prefix?: string;
  /** Bounds each call, connecting included. Default 2000. */
  readonly commandTimeoutMs?: number;
}

/** KEYS: the list's hash, the session's names. ARGV: name, recipients, count, at. Returns createdAt. */
const SAVE = `
redis.call('HSETNX', KEYS[1], 'createdAt', ARGV[4])
redis.call('HSET', KEYS[1], 'recipients', ARGV[2], 'count', ARGV[3], 'updatedAt', ARGV[4])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
return redis.call('HGET', KEYS[1], 'createdAt')
`;

/** KEYS: the list's hash, the session's names. ARGV: name. */
const DELETE = `
redis.call('ZREM', KEYS[2], ARGV[1])
return redis.call('DEL', KEYS[1])
`;

const split = (text: string): string[] => (text === '' ? [] : text.split('\n'));

export class RedisRecipientListStore implements RecipientListStore {
  private readonly connection: RedisConnection;
  private readonly prefix: string;

  constructor(opts: RedisRecipientListStoreOptions) {
    this.prefix = opts.prefix ?? 'storycast:lists:';
    this.connection = new RedisConnection({ ...opts, label: 'recipient list store' });
  }

  async save(list: { sessionId: string; name: string; recipients: readonly string[]; at: number }): Promise<RecipientList> {
    const createdAt = await this.connection.run(
      'save',
      (c) =>
        c.eval(SAVE, {
          keys: [this.listKey(list.sessionId, list.name), this.namesKey(list.sessionId)],
          arguments: [list.name, list.recipients.join('\n'), String(list.recipients.length), String(list.at)],
        }),
      3,
    );
    return {
      sessionId: list.sessionId,
      name: list.name,
      recipients: [...list.recipients],
      createdAt: Number(createdAt),
      updatedAt: list.at,
    };
  }

  async get(sessionId: string, name: string): Promise<RecipientList | undefined> {
    const hash = await this.connection.run('get', (c) => c.hGetAll(this.listKey(sessionId, name)), 3);
    if (hash.createdAt === undefined) return undefined;
    return {
      sessionId,
      name,
      recipients: split(hash.recipients ?? ''),
      createdAt: Number(hash.createdAt),
      updatedAt: Number(hash.updatedAt),
    };
  }

  async list(sessionId: string, { after, limit }: ListQuery): Promise<RecipientListInfo[]> {
    return this.connection.run('list', async (c) => {
      const names = await c.zRange(this.namesKey(sessionId), after === undefined ? '-' : `(${after}`, '+', {
        BY: 'LEX',
        LIMIT: { offset: 0, count: limit },
      });
      if (names.length === 0) return [];
      const reads = c.multi();
      for (const name of names) reads.hmGet(this.listKey(sessionId, name), ['count', 'createdAt', 'updatedAt']);
      const rows = (await reads.execAsPipeline()) as unknown as Array<Array<string | null>>;
      return names.flatMap((name, i) => {
        const [count, createdAt, updatedAt] = rows[i]!;
        // Deleted between the index read and this one.
        if (createdAt === null || createdAt === undefined) return [];
        return [{ sessionId, name, count: Number(count), createdAt: Number(createdAt), updatedAt: Number(updatedAt) }];
      });
    });
  }

  async delete(sessionId: string, name: string): Promise<boolean> {
    const deleted = await this.connection.run('delete', (c) =>
      c.eval(DELETE, { keys: [this.listKey(sessionId, name), this.namesKey(sessionId)], arguments: [name] }),
    );
    return deleted === 1;
  }

  async deleteSession(sessionId: string): Promise<number> {
    return this.connection.run(
      'deleteSession',
      async (c) => {
        const names = await c.zRange(this.namesKey(sessionId), 0, -1);
        if (names.length > 0) await c.del([...names.map((name) => this.listKey(sessionId, name)), this.namesKey(sessionId)]);
        return names.length;
      },
      3,
    );
  }

  async close(): Promise<void> {
    await this.connection.close();
  }

  private listKey(sessionId: string, name: string): string {
    return `${this.prefix}list:${sessionId}:${name}`;
  }

  private namesKey(sessionId: string): string {
    return `${this.prefix}names:${sessionId}`;
  }
}
