/**
 * Experiments in redis (STORYCAST_STORE=redis://…), for replicas that share
 * one, next to the send journal. Keys, all under the prefix (default
 * `storycast:experiments:`):
 *
 *   experiment:<key>     hash: one field per Experiment field (numbers as decimal
 *                        strings, which round-trip exactly; arms as JSON)
 *   all                  sorted set, every score 0, member `<createdAt, 16 digits>:<key>`:
 *                        lexicographic order is newestFirst's order, so list()
 *                        pages with an exclusive member bound, ties included
 *   state:RUNNING        the same, per state, so a state filter reads only its own
 *   state:STOPPED
 *   assignments:<key>    hash unit id -> arm, written with HSETNX (first wins)
 *   outcomes:<key>       hash send id -> outcome as JSON, written with HSETNX
 *
 * create and stop are Lua scripts, so a taken key or a second stop is decided
 * inside redis in one step, and the indexes never disagree with the hashes.
 * Connection and failure handling are the send journal's
 * (src/sends/redis-store.ts): lazy connect, reconnect forever, and every
 * call checks readiness and runs under its own timeout, so with redis down
 * calls reject within about `commandTimeoutMs` instead of queueing.
 */
import { memberId, timeOrderedMember } from '../store/redis-index.js';
import { RedisConnection, type RedisClient } from '../store/redis-connection.js';
import type { Logger } from '../log.js';
import { ExperimentExistsError, byTime, type ExperimentChanges, type ExperimentQuery, type ExperimentStore } from './store.js';
import type { Arm, Experiment, ExperimentState, ExperimentUnit, SendOutcome } from './types.js';

export interface RedisExperimentStoreOptions {
  readonly url: string;
  /** Prepended to every key. Default `storycast:experiments:`. */
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

/** KEYS: experiment hash, `all`, the state's index. ARGV: index member, then the hash's field/value pairs. */
const CREATE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('ZADD', KEYS[2], 0, ARGV[1])
redis.call('ZADD', KEYS[3], 0, ARGV[1])
return 1
`;

/** KEYS: experiment hash, state:RUNNING, state:STOPPED. ARGV: index member, stoppedAt, winner ('' for none). */
/** Only a RUNNING experiment changes; ARGV holds field/value pairs. */
const UPDATE = `
if redis.call('HGET', KEYS[1], 'state') ~= 'RUNNING' then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
`;

const STOP = `
if redis.call('HGET', KEYS[1], 'state') ~= 'RUNNING' then return 0 end
redis.call('HSET', KEYS[1], 'state', 'STOPPED', 'stoppedAt', ARGV[2])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'winner', ARGV[3]) end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], 0, ARGV[1])
return 1
`;

export class RedisExperimentStore implements ExperimentStore {
  private readonly connection: RedisConnection;
  private readonly prefix: string;

  constructor(opts: RedisExperimentStoreOptions) {
    this.prefix = opts.prefix ?? 'storycast:experiments:';
    this.connection = new RedisConnection({ ...opts, label: 'experiment store' });
  }

  /** Connects now rather than on the first call; rejects if redis is not reachable within the command timeout (it keeps trying). */
  async connect(): Promise<void> {
    await this.connection.ready();
  }

  async create(experiment: Experiment): Promise<void> {
    const member = timeOrderedMember(experiment.createdAt, experiment.key, 'experiment store');
    const fields = Object.entries(experimentFields(experiment)).flat();
    const created = await this.run('create', (c) =>
      c.eval(CREATE, {
        keys: [this.key('experiment', experiment.key), this.key('all'), this.key(`state:${experiment.state}`)],
        arguments: [member, ...fields],
      }),
    );
    if (created !== 1) throw new ExperimentExistsError(experiment.key);
  }

  async get(key: string): Promise<Experiment | undefined> {
    return this.run('get', async (c) => toExperiment(await c.hGetAll(this.key('experiment', key))));
  }

  async list(query: ExperimentQuery): Promise<Experiment[]> {
    const { state, after, limit } = query;
    const index = this.key(state === undefined ? 'all' : `state:${state}`);
    const page = Math.min(limit + 1, 1000);
    return this.run(
      'list',
      async (c) => {
        let bound = '+';
        if (after !== undefined) {
          const createdAt = await c.hGet(this.key('experiment', after), 'createdAt');
          if (createdAt === null) return [];
          bound = `(${timeOrderedMember(Number(createdAt), after, 'experiment store')}`;
        }
        const found: Experiment[] = [];
        while (found.length <= limit) {
          const members = await c.zRange(index, bound, '-', { BY: 'LEX', REV: true, LIMIT: { offset: 0, count: page } });
          if (members.length === 0) break;
          const reads = c.multi();
          for (const m of members) reads.hGetAll(this.key('experiment', memberId(m)));
          const hashes = (await reads.execAsPipeline()) as unknown as Array<Record<string, string>>;
          for (const hash of hashes) {
            const experiment = toExperiment(hash);
            // A stop between the index read and this one moved it out of the state asked for.
            if (experiment && (state === undefined || experiment.state === state)) found.push(experiment);
          }
          bound = `(${members.at(-1)}`;
          if (members.length < page) break;
        }
        return found.slice(0, limit + 1);
      },
      5,
    );
  }

  async stop(key: string, end: { at: number; winner?: string }): Promise<Experiment | undefined> {
    return this.run(
      'stop',
      async (c) => {
        // createdAt never changes, so reading it first to name the index member races with nothing.
        const createdAt = await c.hGet(this.key('experiment', key), 'createdAt');
        if (createdAt === null) return undefined;
        await c.eval(STOP, {
          keys: [this.key('experiment', key), this.key('state:RUNNING'), this.key('state:STOPPED')],
          arguments: [timeOrderedMember(Number(createdAt), key, 'experiment store'), String(end.at), end.winner ?? ''],
        });
        return toExperiment(await c.hGetAll(this.key('experiment', key)));
      },
      3,
    );
  }

  async update(key: string, changes: ExperimentChanges): Promise<Experiment | undefined> {
    const fields = [
      ...(changes.coverage === undefined ? [] : ['coverage', String(changes.coverage)]),
      ...(changes.arms === undefined ? [] : ['arms', JSON.stringify(changes.arms)]),
      ...(changes.description === undefined ? [] : ['description', changes.description]),
    ];
    return this.run('update', async (c) => {
      if (fields.length > 0) await c.eval(UPDATE, { keys: [this.key('experiment', key)], arguments: fields });
      return toExperiment(await c.hGetAll(this.key('experiment', key)));
    });
  }

  async assign(key: string, unitId: string, arm: string): Promise<string> {
    const [, existing] = (await this.run('assign', (c) =>
      c.multi().hSetNX(this.key('assignments', key), unitId, arm).hGet(this.key('assignments', key), unitId).exec(),
    )) as unknown as [number, string];
    return existing;
  }

  async assignment(key: string, unitId: string): Promise<string | undefined> {
    return (await this.run('assignment', (c) => c.hGet(this.key('assignments', key), unitId))) ?? undefined;
  }

  async record(outcome: SendOutcome): Promise<void> {
    await this.run('record', (c) => c.hSetNX(this.key('outcomes', outcome.experiment), outcome.sendId, JSON.stringify(outcome)));
  }

  async outcomes(key: string): Promise<SendOutcome[]> {
    const raw = await this.run('outcomes', (c) => c.hVals(this.key('outcomes', key)), 3);
    return raw.map((o) => JSON.parse(o) as SendOutcome).sort(byTime);
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

function experimentFields(e: Experiment): Record<string, string> {
  return {
    key: e.key,
    description: e.description,
    arms: JSON.stringify(e.arms),
    unit: e.unit,
    coverage: String(e.coverage),
    state: e.state,
    createdAt: String(e.createdAt),
    ...(e.stoppedAt === undefined ? {} : { stoppedAt: String(e.stoppedAt) }),
    ...(e.winner === undefined ? {} : { winner: e.winner }),
  };
}

/** undefined for a missing hash (HGETALL gives {}). */
function toExperiment(h: Record<string, string>): Experiment | undefined {
  if (h.key === undefined || h.createdAt === undefined) return undefined;
  return {
    key: h.key,
    description: h.description ?? '',
    arms: JSON.parse(h.arms ?? '[]') as Arm[],
    unit: h.unit as ExperimentUnit,
    coverage: Number(h.coverage),
    state: h.state as ExperimentState,
    createdAt: Number(h.createdAt),
    ...(h.stoppedAt === undefined ? {} : { stoppedAt: Number(h.stoppedAt) }),
    ...(h.winner === undefined ? {} : { winner: h.winner }),
  };
}
