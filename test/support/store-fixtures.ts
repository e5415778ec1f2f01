/**
 * What a store's tests open on every backend: a temporary directory for SQLite
 * files, a redis-server of their own, and the stores they opened, all closed
 * and removed once the file's tests are done.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { startRedis, type RedisServer } from './redis.js';

export interface StoreFixtures {
  readonly dir: string;
  /** The redis-server's URL (started before the file's tests). */
  redisUrl(): string;
  /** Closes `store` after the file's tests (with `close`, for stores that do not call it close). */
  keep<T extends object>(store: T, close?: (store: T) => Promise<unknown>): T;
}

export function storeFixtures(name: string): StoreFixtures {
  let redis: RedisServer | undefined;
  const dir = mkdtempSync(join(tmpdir(), `storycast-${name}-`));
  const closers: (() => Promise<unknown>)[] = [];
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await Promise.all(closers.map((close) => close()));
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    dir,
    redisUrl: () => {
      if (!redis) throw new Error('the redis-server starts before the tests: ask for its URL inside one');
      return redis.url;
    },
    keep(store, close = (s) => (s as unknown as { close(): Promise<unknown> }).close()) {
      closers.push(() => close(store));
      return store;
    },
  };
}
