/**
 * Schedules in redis (STORYCAST_STORE=redis://…), shared by the replicas.
 * Keys, under the prefix (default `storycast:schedules:`):
 *
 *   records   hash: schedule id -> its record as JSON
 *   requests  hash: schedule id -> the request its sends start from (base64)
 *   sends     hash: a one-off's send id -> its schedule id
 *
 * A server holds as many schedules as its operators set up (tens to
 * thousands, not millions), so listings read the records hash whole and
 * order it here. Create and delete are Lua scripts: the three hashes change
 * together.
 */
import type { Logger } from '../log.js';
import { RedisConnection } from '../store/redis-connection.js';
import { listed, stillToFire, type ScheduleQuery, type ScheduleRecord, type ScheduleStore } from './store.js';

export interface RedisScheduleStoreOptions {
  readonly url: string;
  readonly logger: Logger;
  /** Prepended to every key. Default `storycast:schedules:`. */
  readonly prefix?: string;
  /** Bounds each call, connecting included. Default 2000. */
  readonly commandTimeoutMs?: number;
}

/** KEYS: records, requests, sends. ARGV: id, record, request, send id ('' for none). Returns 1 when created. */
const CREATE = `
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[3], ARGV[4], ARGV[1]) end
return 1
`;

/** KEYS: records, requests, sends. ARGV: id, send id ('' for none). Returns 1 when there was one. */
const DELETE = `
if ARGV[2] ~= '' then redis.call('HDEL', KEYS[3], ARGV[2]) end
redis.call('HDEL', KEYS[2], ARGV[1])
return redis.call('HDEL', KEYS[1], ARGV[1])
`;

/** KEYS: records. ARGV: id, record. Replaces only a record that is still there. */
const UPDATE = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return 1
`;

export class RedisScheduleStore implements ScheduleStore {
  private readonly connection: RedisConnection;
  private readonly keys: { readonly records: string; readonly requests: string; readonly sends: string };

  constructor(opts: RedisScheduleStoreOptions) {
    const prefix = opts.prefix ?? 'storycast:schedules:';
    this.keys = { records: `${prefix}records`, requests: `${prefix}requests`, sends: `${prefix}sends` };
    this.connection = new RedisConnection({ ...opts, label: 'schedule store' });
  }

  async create(record: ScheduleRecord, request: Uint8Array): Promise<boolean> {
    const created = await this.connection.run(
      'create',
      (c) =>
        c.eval(CREATE, {
          keys: [this.keys.records, this.keys.requests, this.keys.sends],
          arguments: [record.scheduleId, JSON.stringify(record), Buffer.from(request).toString('base64'), record.sendId ?? ''],
        }),
      3,
    );
    return created === 1;
  }

  async update(record: ScheduleRecord): Promise<void> {
    await this.connection.run('update', (c) =>
      c.eval(UPDATE, { keys: [this.keys.records], arguments: [record.scheduleId, JSON.stringify(record)] }),
    );
  }

  async get(scheduleId: string): Promise<ScheduleRecord | undefined> {
    const json = await this.connection.run('get', (c) => c.hGet(this.keys.records, scheduleId));
    return json ? (JSON.parse(json) as ScheduleRecord) : undefined;
  }

  async bySendId(sendId: string): Promise<ScheduleRecord | undefined> {
    const scheduleId = await this.connection.run('bySendId', (c) => c.hGet(this.keys.sends, sendId));
    return scheduleId ? this.get(scheduleId) : undefined;
  }

  async request(scheduleId: string): Promise<Uint8Array | undefined> {
    const base64 = await this.connection.run('request', (c) => c.hGet(this.keys.requests, scheduleId), 3);
    // An empty request is stored as '': only a missing field means no schedule.
    return base64 === null || base64 === undefined ? undefined : new Uint8Array(Buffer.from(base64, 'base64'));
  }

  async list(query: ScheduleQuery): Promise<ScheduleRecord[]> {
    return listed(await this.all(), query);
  }

  async pending(): Promise<ScheduleRecord[]> {
    return (await this.all()).filter(stillToFire);
  }

  async delete(scheduleId: string): Promise<boolean> {
    const record = await this.get(scheduleId);
    if (!record) return false;
    return (await this.remove(record)) === 1;
  }

  async deleteSession(sessionId: string): Promise<number> {
    let deleted = 0;
    for (const record of await this.all()) {
      if (record.sessionId === sessionId) deleted += await this.remove(record);
    }
    return deleted;
  }

  async sweep(endedBy: number): Promise<number> {
    let swept = 0;
    for (const record of await this.all()) {
      if (record.ended && record.ended.at <= endedBy) swept += await this.remove(record);
    }
    return swept;
  }

  async close(): Promise<void> {
    await this.connection.close();
  }

  private async all(): Promise<ScheduleRecord[]> {
    const hash = await this.connection.run('read', (c) => c.hGetAll(this.keys.records), 3);
    return Object.values(hash).map((json) => JSON.parse(json) as ScheduleRecord);
  }

  private async remove(record: ScheduleRecord): Promise<number> {
    const removed = await this.connection.run('delete', (c) =>
      c.eval(DELETE, {
        keys: [this.keys.records, this.keys.requests, this.keys.sends],
        arguments: [record.scheduleId, record.sendId ?? ''],
      }),
    );
    return Number(removed);
  }
}
