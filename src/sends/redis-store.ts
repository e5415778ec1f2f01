/**
 * The send journal in redis (STORYCAST_STORE=redis://…), for replicas that
 * share one. Keys, all under the prefix (default `storycast:sends:`):
 *
 *   send:<id>          hash: the record, one field per SendRecord field
 *                      (numbers as decimal strings, progress and failure as JSON)
 *   recipients:<id>    string: the recipient list as JSON, written once; gone after finish
 *   story:<id>         string: the prepared story's raw bytes (binary-safe); gone after finish
 *   events:<id>        list: event i as JSON at index i
 *   checkpoints:<id>   list parallel to events: the checkpoint as JSON, '' for none; gone
 *                      after finish, so finishing never rewrites the event log
 *   request:<rid>      string: the send id for a client request id
 *   all                sorted set, every score 0, member `<createdAt, 16 digits>:<id>`:
 *                      lexicographic order is newestFirst's order, so list() pages
 *                      with an exclusive member bound, ties on createdAt included
 *   running            the same, for RUNNING sends only (unfinished() and state filters)
 *   finished           sorted set of ids scored by finishedAt, for sweep()
 *
 * create, saveStory, append and finish are each one Lua script, so that with
 * a fence (the writer's session lease, src/replicas/leases.ts) the token check
 * and the write are one atomic step: a write from an owner that has been
 * taken over rejects with FencedError and changes nothing. Without a fence
 * they write unconditionally. finish reads createdAt, which never changes,
 * inside its script to find its index member. An append to an unknown send
 * is not checked; it leaves a partial hash that get() and list() ignore.
 * Connection is lazy: the first call (or connect()) starts it and waits a
 * bounded time; afterwards the client
 * reconnects forever in the background. node-redis neither times out nor
 * refuses a MULTI while disconnected (its offline-queue switch and command
 * timeout only cover single commands), so every call here checks readiness
 * and runs under its own timeout: with redis down, calls reject within about
 * `commandTimeoutMs` instead of queueing. A timed-out write may still land
 * later if redis was only slow; its outcome is unknown, as over any network.
 */
import { memberId, timeOrderedMember } from '../store/redis-index.js';
import { RedisConnection, type RedisClient } from '../store/redis-connection.js';
import { RESP_TYPES } from '@redis/client';
import type { SendEvent } from '../engine/events.js';
import type { Logger } from '../log.js';
import { FencedScript } from '../replicas/leases.js';
import type {
  EndState,
  Fence,
  JournalEntry,
  SendFailure,
  SendJournal,
  SendProgress,
  SendQuery,
  SendRecord,
  SendState,
  SendStore,
} from './store.js';

export interface RedisSendStoreOptions {
  readonly url: string;
  /** Prepended to every key. Default `storycast:sends:`. */
  readonly prefix?: string;
  readonly logger: Logger;
  /** Bounds each call, connecting included. Default 2000. */
  readonly commandTimeoutMs?: number;
  /** Longest pause between reconnect attempts. Default 2000. */
  readonly maxReconnectDelayMs?: number;
  /** How often the same client error may be logged again. Default 60 s. */
  readonly errorLogIntervalMs?: number;
}

type Client = RedisClient;

const SWEEP_BATCH = 500;

/*
 * The four journal writes, each one script: FencedScript puts the fence first
 * (KEYS[1], ARGV[1]) and checks it before anything is written, so the check
 * and the write are one atomic step. A MULTI could not do that: WATCH on the
 * fence key would make a takeover abort the write, but a fence already moved
 * before the WATCH would go unseen without an extra read and round trip.
 */

// KEYS[2..9]: send, events, checkpoints, recipients, all, running, finished, request.
// ARGV[2..9]: the first event, its checkpoint, the recipients, the index member, '1' when
// RUNNING, finishedAt or '', sendId, requestId or ''; then the record hash's field/value pairs.
const CREATE = new FencedScript(`
redis.call('HSET', KEYS[2], unpack(ARGV, 10))
redis.call('RPUSH', KEYS[3], ARGV[2])
redis.call('RPUSH', KEYS[4], ARGV[3])
redis.call('SET', KEYS[5], ARGV[4])
redis.call('ZADD', KEYS[6], 0, ARGV[5])
if ARGV[6] == '1' then redis.call('ZADD', KEYS[7], 0, ARGV[5]) end
if ARGV[7] ~= '' then redis.call('ZADD', KEYS[8], ARGV[7], ARGV[8]) end
if ARGV[9] ~= '' then redis.call('SET', KEYS[9], ARGV[8]) end
`);

// KEYS[2]: story. ARGV[2]: its bytes (Lua strings are binary-safe).
const SAVE_STORY = new FencedScript(`
redis.call('SET', KEYS[2], ARGV[2])
`);

// KEYS[2..4]: events, checkpoints, send. ARGV[2..5]: the event, its checkpoint, updatedAt, progress.
// An unknown send is not checked (see the header): the writes leave a partial hash that get() ignores.
const APPEND = new FencedScript(`
redis.call('RPUSH', KEYS[2], ARGV[2])
redis.call('RPUSH', KEYS[3], ARGV[3])
redis.call('HINCRBY', KEYS[4], 'events', 1)
redis.call('HSET', KEYS[4], 'updatedAt', ARGV[4], 'progress', ARGV[5])
`);

// KEYS[2..7]: send, recipients, story, checkpoints, running, finished. ARGV[2..5]: state, at, failure or '', sendId.
// The index member is rebuilt from createdAt as timeOrderedMember() builds it (zero-padded to 16 digits).
const FINISH = new FencedScript(`
local createdAt = redis.call('HGET', KEYS[2], 'createdAt')
if not createdAt then return 0 end
redis.call('HSET', KEYS[2], 'state', ARGV[2], 'updatedAt', ARGV[3], 'finishedAt', ARGV[3])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[2], 'failure', ARGV[4]) end
redis.call('DEL', KEYS[3], KEYS[4], KEYS[5])
redis.call('ZREM', KEYS[6], string.rep('0', 16 - #createdAt) .. createdAt .. ':' .. ARGV[5])
redis.call('ZADD', KEYS[7], ARGV[3], ARGV[5])
return 1
`);

export class RedisSendStore implements SendStore {
  private readonly connection: RedisConnection;
  /** The same connection, giving bulk strings back as Buffers: the story is bytes, not UTF-8. */
  private readonly bytes;
  private readonly prefix: string;

  constructor(opts: RedisSendStoreOptions) {
    this.prefix = opts.prefix ?? 'storycast:sends:';
    this.connection = new RedisConnection({ ...opts, label: 'send store' });
    this.bytes = this.connection.client.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
  }

  /** Connects now rather than on the first call; rejects if redis is not reachable within the command timeout (it keeps trying). */
  async connect(): Promise<void> {
    await this.connection.ready();
  }

  async create(record: SendRecord, first: JournalEntry, recipients: readonly string[], fence?: Fence): Promise<void> {
    const id = record.sendId;
    const keys = ['send', 'events', 'checkpoints', 'recipients'].map((kind) => this.key(kind, id));
    keys.push(this.key('all'), this.key('running'), this.key('finished'), this.key('request', record.requestId));
    const args = [
      JSON.stringify(first.event),
      checkpointValue(first),
      JSON.stringify(recipients),
      timeOrderedMember(record.createdAt, record.sendId, 'send store'),
    ];
    args.push(
      record.state === 'RUNNING' ? '1' : '',
      record.finishedAt === undefined ? '' : String(record.finishedAt),
      id,
      record.requestId,
    );
    await this.run('create', (c) => CREATE.runFenced(c, fence, keys, [...args, ...Object.entries(recordFields(record)).flat()]));
  }

  async saveStory(sendId: string, story: Uint8Array, fence?: Fence): Promise<void> {
    const bytes = Buffer.from(story.buffer, story.byteOffset, story.byteLength);
    await this.run('saveStory', (c) => SAVE_STORY.runFenced(c, fence, [this.key('story', sendId)], [bytes]));
  }

  async append(sendId: string, entry: JournalEntry, update: { at: number; progress: SendProgress }, fence?: Fence): Promise<void> {
    const keys = ['events', 'checkpoints', 'send'].map((kind) => this.key(kind, sendId));
    const args = [JSON.stringify(entry.event), checkpointValue(entry), String(update.at), JSON.stringify(update.progress)];
    await this.run('append', (c) => APPEND.runFenced(c, fence, keys, args));
  }

  async finish(sendId: string, end: { state: EndState; at: number; failure?: SendFailure }, fence?: Fence): Promise<void> {
    const keys = ['send', 'recipients', 'story', 'checkpoints'].map((kind) => this.key(kind, sendId));
    keys.push(this.key('running'), this.key('finished'));
    const args = [end.state, String(end.at), end.failure ? JSON.stringify(end.failure) : '', sendId];
    await this.run('finish', (c) => FINISH.runFenced(c, fence, keys, args));
  }

  async get(sendId: string): Promise<SendRecord | undefined> {
    return this.run('get', async (c) => toRecord(await c.hGetAll(this.key('send', sendId))));
  }

  async events(sendId: string, from: number): Promise<SendEvent[]> {
    const raw = await this.run('events', (c) => c.lRange(this.key('events', sendId), from, -1));
    return raw.map((e) => JSON.parse(e) as SendEvent);
  }

  async findByRequestId(requestId: string): Promise<SendRecord | undefined> {
    if (requestId === '') return undefined;
    return this.run('findByRequestId', async (c) => {
      const sendId = await c.get(this.key('request', requestId));
      return sendId === null ? undefined : toRecord(await c.hGetAll(this.key('send', sendId)));
    });
  }

  async list(query: SendQuery): Promise<SendRecord[]> {
    const { sessionId, state, after, limit } = query;
    const index = this.key(state === 'RUNNING' ? 'running' : 'all');
    const page = Math.min(Math.max(limit + 1, 64), 1000);
    return this.run(
      'list',
      async (c) => {
        const found: SendRecord[] = [];
        let bound = after ? `(${timeOrderedMember(after.createdAt, after.sendId, 'send store')}` : '+';
        while (found.length <= limit) {
          const members = await c.zRange(index, bound, '-', { BY: 'LEX', REV: true, LIMIT: { offset: 0, count: page } });
          if (members.length === 0) break;
          const pipeline = c.multi();
          for (const m of members) pipeline.hGetAll(this.key('send', memberId(m)));
          const hashes = (await pipeline.execAsPipeline()) as unknown as Array<Record<string, string>>;
          for (const hash of hashes) {
            const record = toRecord(hash);
            if (!record || (sessionId !== undefined && record.sessionId !== sessionId) || (state !== undefined && record.state !== state))
              continue;
            found.push(record);
          }
          bound = `(${members.at(-1)}`;
          if (members.length < page) break;
        }
        return found.slice(0, limit + 1);
      },
      5,
    );
  }

  async sweep(finishedBy: number): Promise<number> {
    return this.run(
      'sweep',
      async (c) => {
        let swept = 0;
        for (;;) {
          const ids = await c.zRange(this.key('finished'), '-inf', finishedBy, { BY: 'SCORE', LIMIT: { offset: 0, count: SWEEP_BATCH } });
          if (ids.length === 0) return swept;
          const reads = c.multi();
          for (const id of ids) reads.hmGet(this.key('send', id), ['createdAt', 'requestId']);
          const fields = (await reads.execAsPipeline()) as unknown as Array<[string | null, string | null]>;
          const owners = c.multi();
          for (const [, requestId] of fields) owners.get(this.key('request', requestId ?? ''));
          const owner = (await owners.execAsPipeline()) as unknown as Array<string | null>;
          const m = c.multi();
          ids.forEach((id, i) => {
            const [createdAt, requestId] = fields[i]!;
            m.del(['send', 'recipients', 'story', 'events', 'checkpoints'].map((kind) => this.key(kind, id)));
            m.zRem(this.key('finished'), id);
            if (createdAt !== null) m.zRem(this.key('all'), timeOrderedMember(Number(createdAt), id, 'send store'));
            // A later send may have taken the request id over; only forget it if it is still this one's.
            if (requestId && owner[i] === id) m.del(this.key('request', requestId));
          });
          await m.exec();
          swept += ids.length;
          if (ids.length < SWEEP_BATCH) return swept;
        }
      },
      5,
    );
  }

  async unfinished(): Promise<string[]> {
    return (await this.run('unfinished', (c) => c.zRange(this.key('running'), 0, -1))).map(memberId);
  }

  async journal(sendId: string): Promise<SendJournal | undefined> {
    return this.run('journal', async (c) => {
      const record = toRecord(await c.hGetAll(this.key('send', sendId)));
      if (record?.state !== 'RUNNING') return undefined;
      // A pipeline, not a MULTI: node-redis applies the Buffer mapping to pipelined replies but not to EXEC's.
      // Nothing else writes a send that is being resumed, so the reads need no isolation.
      const [recipients, story, events, checkpoints] = (await this.bytes
        .multi()
        .get(this.key('recipients', sendId))
        .get(this.key('story', sendId))
        .lRange(this.key('events', sendId), 0, -1)
        .lRange(this.key('checkpoints', sendId), 0, -1)
        .execAsPipeline()) as unknown as [Buffer | null, Buffer | null, Buffer[], Buffer[]];
      if (recipients === null) return undefined;
      const entries = events.map((e, i): JournalEntry => {
        const checkpoint = checkpoints[i]?.toString('utf8') ?? '';
        const event = JSON.parse(e.toString('utf8')) as SendEvent;
        return checkpoint === '' ? { event } : { event, checkpoint: JSON.parse(checkpoint) };
      });
      return {
        record,
        recipients: JSON.parse(recipients.toString('utf8')) as string[],
        entries,
        ...(story ? { story: new Uint8Array(story.buffer, story.byteOffset, story.byteLength) } : {}),
      };
    });
  }

  async close(): Promise<void> {
    await this.connection.close();
  }

  private key(kind: string, id?: string): string {
    return id === undefined ? `${this.prefix}${kind}` : `${this.prefix}${kind}:${id}`;
  }

  /** `rounds`: how many command timeouts the call may take (calls that make several round trips or read a lot). */
  private run<T>(what: string, op: (client: Client) => Promise<T>, rounds = 1): Promise<T> {
    return this.connection.run(what, op, rounds);
  }
}

function checkpointValue(entry: JournalEntry): string {
  return entry.checkpoint === undefined ? '' : JSON.stringify(entry.checkpoint);
}

function recordFields(r: SendRecord): Record<string, string> {
  return {
    sendId: r.sendId,
    requestId: r.requestId,
    fingerprint: r.fingerprint,
    sessionId: r.sessionId,
    strategy: r.strategy,
    createdAt: String(r.createdAt),
    state: r.state,
    updatedAt: String(r.updatedAt),
    events: String(r.events),
    progress: JSON.stringify(r.progress),
    ...(r.finishedAt === undefined ? {} : { finishedAt: String(r.finishedAt) }),
    ...(r.failure ? { failure: JSON.stringify(r.failure) } : {}),
  };
}

/** undefined for a missing hash (HGETALL gives {}), or one an append to an unknown send left without its record fields. */
function toRecord(h: Record<string, string>): SendRecord | undefined {
  if (h.sendId === undefined || h.createdAt === undefined) return undefined;
  return {
    sendId: h.sendId,
    requestId: h.requestId ?? '',
    fingerprint: h.fingerprint ?? '',
    sessionId: h.sessionId ?? '',
    strategy: h.strategy ?? '',
    createdAt: Number(h.createdAt),
    state: h.state as SendState,
    updatedAt: Number(h.updatedAt),
    ...(h.finishedAt === undefined ? {} : { finishedAt: Number(h.finishedAt) }),
    ...(h.failure === undefined ? {} : { failure: JSON.parse(h.failure) as SendFailure }),
    events: Number(h.events),
    progress: JSON.parse(h.progress ?? 'null') as SendProgress,
  };
}
