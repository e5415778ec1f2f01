import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { createExperimentStore } from '../src/experiments/open-store.js';
import { RedisExperimentStore } from '../src/experiments/redis-store.js';
import { SqliteExperimentStore } from '../src/experiments/sqlite-store.js';
import { MemoryExperimentStore } from '../src/experiments/store.js';
import { silentLogger } from '../src/log.js';
import { createKeyv } from '../src/memory/store.js';
import { SqliteSendStore } from '../src/sends/sqlite-store.js';
import { describeExperimentStoreContract, experiment, outcome } from './support/experiment-store-contract.js';
import { planned, recipientsOf, record } from './support/send-store-contract.js';

const dirs: string[] = [];
function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'storycast-experiment-store-'));
  dirs.push(dir);
  return dir;
}

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describeExperimentStoreContract('MemoryExperimentStore', async () => ({
  store: new MemoryExperimentStore(),
  cleanup: async () => undefined,
}));

describeExperimentStoreContract('SqliteExperimentStore', async () => {
  const store = new SqliteExperimentStore(join(freshDir(), 'nested', 'experiments.db'));
  return { store, cleanup: () => store.close() };
});

describe('SqliteExperimentStore on a real file', () => {
  it('gives a new instance on the same file everything a closed one wrote (a restart)', async () => {
    const path = join(freshDir(), 'experiments.db');
    const first = new SqliteExperimentStore(path);
    await first.create(experiment('running', 1_000, { coverage: 0.8 }));
    await first.create(experiment('stopped', 2_000, { unit: 'SEND' }));
    await first.assign('running', 'session-1', 'bold');
    await first.record(outcome('stopped', 'send-1', 2_500, { arm: 'bold' }));
    await first.stop('stopped', { at: 3_000, winner: 'bold' });
    await first.close();

    const second = new SqliteExperimentStore(path);
    expect(await second.get('running')).toEqual(experiment('running', 1_000, { coverage: 0.8 }));
    expect(await second.get('stopped')).toEqual({
      ...experiment('stopped', 2_000, { unit: 'SEND' }),
      state: 'STOPPED',
      stoppedAt: 3_000,
      winner: 'bold',
    });
    expect((await second.list({ limit: 10 })).map((e) => e.key)).toEqual(['stopped', 'running']);
    // Sticky across the restart: the unit keeps the arm it had before it.
    expect(await second.assign('running', 'session-1', 'control')).toBe('bold');
    expect(await second.outcomes('stopped')).toEqual([outcome('stopped', 'send-1', 2_500, { arm: 'bold' })]);
    await expect(second.create(experiment('running', 5_000))).rejects.toThrow(/already exists/);
    await second.close();
  });

  it('keeps one assignment per unit across two connections to one file (two replicas)', async () => {
    const path = join(freshDir(), 'experiments.db');
    const a = new SqliteExperimentStore(path);
    const b = new SqliteExperimentStore(path);
    await a.create(experiment('exp-1', 1_000));
    await expect(b.create(experiment('exp-1', 1_000))).rejects.toThrow(/already exists/);
    const arms = await Promise.all(
      Array.from({ length: 200 }, (_, i) => (i % 2 ? a : b).assign('exp-1', `unit-${i % 20}`, i % 3 ? 'bold' : 'control')),
    );
    for (let i = 0; i < 200; i++) expect(arms[i]).toBe(arms[i % 20]);
    expect(await b.assignment('exp-1', 'unit-7')).toBe(await a.assignment('exp-1', 'unit-7'));
    await b.record(outcome('exp-1', 'send-1', 2_000));
    await a.record(outcome('exp-1', 'send-1', 2_001, { delivered: 0 }));
    expect(await a.outcomes('exp-1')).toEqual([outcome('exp-1', 'send-1', 2_000)]);
    await a.close();
    await b.close();
  });

  it('shares its file with the send journal and the Keyv session-memory table', async () => {
    const path = join(freshDir(), 'storycast.db');
    const keyv = createKeyv(`sqlite://${path}`, { namespace: 'test:memory', logger: silentLogger });
    await keyv.set('session-1', { maxProvenBatchSize: 4000 });
    const sends = new SqliteSendStore(path);
    const experiments = new SqliteExperimentStore(path);
    await sends.create(record('s1', 1_000), { event: planned('s1', 1_000) }, recipientsOf(3));
    await experiments.create(experiment('exp-1', 1_000));
    await experiments.assign('exp-1', 'session-1', 'bold');
    await experiments.record(outcome('exp-1', 's1', 1_500));
    await keyv.set('session-2', { maxProvenBatchSize: 500 });

    expect(await keyv.get('session-1')).toEqual({ maxProvenBatchSize: 4000 });
    expect(await sends.get('s1')).toMatchObject({ state: 'RUNNING' });
    expect(await experiments.outcomes('exp-1')).toHaveLength(1);
    await keyv.disconnect();
    await sends.close();
    await experiments.close();

    const db = new Database(path, { readonly: true });
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all();
    const arms = db.prepare("SELECT arms FROM storycast_experiments WHERE key = 'exp-1'").pluck().get() as string;
    db.close();
    expect(tables).toEqual([
      'keyv',
      'storycast_experiment_assignments',
      'storycast_experiment_outcomes',
      'storycast_experiments',
      'storycast_send_entries',
      'storycast_send_recipients',
      'storycast_send_stories',
      'storycast_sends',
    ]);
    // Arms are JSON in the row, readable by anyone inspecting the file.
    expect(JSON.parse(arms)).toEqual(experiment('exp-1', 1_000).arms);
  });

  it('fails with an error naming the path when the file cannot be created', () => {
    const dir = freshDir();
    writeFileSync(join(dir, 'plain-file'), 'not a directory');
    const path = join(dir, 'plain-file', 'sub', 'experiments.db');
    expect(() => new SqliteExperimentStore(path)).toThrow(`cannot open sqlite file "${path}"`);
    expect(() => createExperimentStore(`sqlite://${path}`, { logger: silentLogger })).toThrow(/ENOTDIR/);
  });
});

describe('createExperimentStore', () => {
  it('picks the store by scheme', async () => {
    expect(createExperimentStore('memory://', { logger: silentLogger })).toBeInstanceOf(MemoryExperimentStore);
    const path = join(freshDir(), 'a', 'b.db');
    const sqlite = createExperimentStore(`sqlite://${path}`, { logger: silentLogger });
    expect(sqlite).toBeInstanceOf(SqliteExperimentStore);
    expect((sqlite as SqliteExperimentStore).path).toBe(path);
    await sqlite.close();
    // Nothing listens there; constructing must not connect, and close() must not wait for it.
    for (const url of ['redis://127.0.0.1:1', 'rediss://user:secret@127.0.0.1:1']) {
      const redis = createExperimentStore(url, { logger: silentLogger });
      expect(redis).toBeInstanceOf(RedisExperimentStore);
      await redis.close();
    }
  });

  it('refuses an unknown scheme by name without showing credentials', () => {
    const attempt = () => createExperimentStore('postgres://admin:hunter2@db.example/storycast', { logger: silentLogger });
    expect(attempt).toThrow(/postgres:/);
    expect(attempt).toThrow('postgres://***@db.example');
    expect(attempt).not.toThrow(/hunter2/);
    expect(() => createExperimentStore('sqlite://', { logger: silentLogger })).toThrow(/path/);
    expect(() => createExperimentStore('experiments.db', { logger: silentLogger })).toThrow(/\(none\)/);
  });
});
