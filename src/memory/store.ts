/**
 * Picks the Keyv storage adapter for a session-memory URL and makes its
 * failures loud: Keyv 5 turns store errors into silent misses unless told
 * otherwise, and node-redis queues commands forever while redis is down.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Keyv } from 'keyv';
import KeyvRedis from '@keyv/redis';
import type { Logger } from '../log.js';
import { redactUrl } from '../util/redact-url.js';
import { storeLocation } from '../store/store-url.js';
import { throttledErrorLogger } from '../store/throttled-errors.js';
import { KeyvBetterSqlite } from '../store/keyv-sqlite.js';

export interface CreateKeyvOptions {
  namespace: string;
  logger: Logger;
  /** Bounds a single redis command, so a stalled (not dead) server cannot pile up replies. Default 2000. */
  redisCommandTimeoutMs?: number;
  /** Longest pause between redis reconnect attempts. Default 2000. */
  redisMaxReconnectDelayMs?: number;
  /** How often the same store error may be logged again. Default 60 s. */
  errorLogIntervalMs?: number;
}

export function createKeyv(url: string, opts: CreateKeyvOptions): Keyv {
  const base = { namespace: opts.namespace, throwOnErrors: true } as const;
  let keyv: Keyv;
  const location = storeLocation(url, 'session memory');
  if (location.kind === 'memory') keyv = new Keyv({ ...base, store: new Map() });
  else if (location.kind === 'sqlite') keyv = new Keyv({ ...base, store: createSqliteStore(url, location.path) });
  else keyv = new Keyv({ ...base, useKeyPrefix: false, store: createRedisStore(url, opts) });
  keyv.on(
    'error',
    throttledErrorLogger(opts.logger, { store: redactUrl(url), message: 'session memory store error' }, opts.errorLogIntervalMs),
  );
  return keyv;
}

function createSqliteStore(url: string, path: string): KeyvBetterSqlite {
  if (path === '') throw new Error(`sqlite URL "${url}" has no file path (expected sqlite://<path>)`);
  if (path !== ':memory:') mkdirSync(dirname(resolve(path)), { recursive: true });
  // busyTimeout: several processes on one file (tests, a restart overlapping) wait instead of failing.
  return new KeyvBetterSqlite({ uri: url, busyTimeout: 1000 });
}

function createRedisStore(url: string, opts: CreateKeyvOptions): KeyvRedis<unknown> {
  const maxDelay = opts.redisMaxReconnectDelayMs ?? 2000;
  return new KeyvRedis(
    {
      url,
      // Without this, node-redis queues every command while disconnected and
      // the promise never settles until redis comes back.
      disableOfflineQueue: true,
      commandOptions: { timeout: opts.redisCommandTimeoutMs ?? 2000 },
      socket: {
        connectTimeout: 2000,
        // Keep retrying forever (a redis restart must heal without restarting us), with capped backoff.
        reconnectStrategy: (retries: number) => Math.min(100 * 2 ** Math.min(retries, 10), maxDelay),
      },
    },
    { throwOnErrors: true, throwOnConnectError: true },
  );
}

/**
 * Deletes rows whose Keyv expiry has passed. Keyv only drops an
 * expired row when that key is read again, so sessions that never come back
 * would stay in the file forever. Other stores expire natively: returns 0.
 */
export async function sweepExpired(keyv: Keyv, now: number = Date.now()): Promise<number> {
  const store: unknown = keyv.store;
  if (!(store instanceof KeyvBetterSqlite)) return 0;
  const table = store.opts.table ?? 'keyv';
  const rows: unknown = await store.query(
    `DELETE FROM ${table} WHERE json_valid(value) AND json_extract(value, '$.expires') < ? RETURNING key`,
    now,
  );
  return Array.isArray(rows) ? rows.length : 0;
}
