import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../src/log.js';
import { createKeyv } from '../src/memory/store.js';
import { createSendStore } from '../src/sends/open-store.js';
import { RedisSendStore } from '../src/sends/redis-store.js';
import { SqliteSendStore } from '../src/sends/sqlite-store.js';
import { MemorySendStore } from '../src/sends/store.js';
import { describeSendStoreContract, planned, recipientsOf, record } from './support/send-store-contract.js';

const dirs: string[] = [];
function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'storycast-send-store-'));
  dirs.push(dir);
  return dir;
}

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describeSendStoreContract('MemorySendStore', async () => ({ store: new MemorySendStore(), cleanup: async () => undefined }));

describeSendStoreContract('SqliteSendStore', async () => {
  const store = new SqliteSendStore(join(freshDir(), 'nested', 'sends.db'));
  return { store, cleanup: () => store.close() };
});

const progress = (delivered: number) => ({ total: 1_000, delivered, failed: 0, remaining: 1_000 - delivered });
const anchor = { type: 'anchor', messageId: '3EB0AA', recipients: 1, durationMs: 700, attempts: 1 } as const;

describe('SqliteSendStore on a real file', () => {
  it('gives a new instance on the same file everything a closed one wrote', async () => {
    const path = join(freshDir(), 'sends.db');
    const first = new SqliteSendStore(path);
    await first.create(
      record('s1', 1_000, { requestId: 'req-1' }),
      { event: planned('s1', 1_000), checkpoint: { cursor: 0 } },
      recipientsOf(7),
    );
    await first.saveStory('s1', new Uint8Array([0, 255, 1, 254]));
    await first.append('s1', { event: anchor, checkpoint: { delivered: [0] } }, { at: 1_100, progress: progress(1) });
    await first.close();

    const second = new SqliteSendStore(path);
    expect(await second.unfinished()).toEqual(['s1']);
    const journal = await second.journal('s1');
    expect(journal?.record).toEqual({ ...record('s1', 1_000, { requestId: 'req-1' }), events: 2, updatedAt: 1_100, progress: progress(1) });
    expect(journal?.recipients).toEqual(recipientsOf(7));
    expect(journal?.story && Array.from(journal.story)).toEqual([0, 255, 1, 254]);
    expect(journal?.entries).toEqual([
      { event: planned('s1', 1_000), checkpoint: { cursor: 0 } },
      { event: anchor, checkpoint: { delivered: [0] } },
    ]);
    // The next append lands at the index after what the first process wrote.
    await second.append('s1', { event: anchor }, { at: 1_200, progress: progress(2) });
    expect(await second.events('s1', 2)).toEqual([anchor]);
    await second.close();
  });

  it('keeps what a process wrote before it was killed with SIGKILL', async () => {
    const dir = freshDir();
    const path = join(dir, 'sends.db');
    const script = join(dir, 'writer.mts');
    const module = fileURLToPath(new URL('../src/sends/sqlite-store.ts', import.meta.url));
    writeFileSync(
      script,
      `import { SqliteSendStore } from ${JSON.stringify(module)};
       const store = new SqliteSendStore(${JSON.stringify(path)});
       const p = { total: 3, delivered: 0, failed: 0, remaining: 3 };
       const rec = { sendId: 'k1', requestId: '', fingerprint: 'f', sessionId: 's', strategy: 'adaptive', createdAt: 5, state: 'RUNNING', updatedAt: 5, events: 1, progress: p };
       await store.create(rec, { event: { type: 'anchor', messageId: 'm', recipients: 1, durationMs: 1, attempts: 1 }, checkpoint: 0 }, ['a', 'b', 'c']);
       for (let i = 1; i <= 50; i++) await store.append('k1', { event: { type: 'anchor', messageId: 'm' + i, recipients: 1, durationMs: i, attempts: 1 }, checkpoint: i }, { at: 5 + i, progress: p });
       process.kill(process.pid, 'SIGKILL');`,
    );
    const child = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 20_000 });
    expect(child.signal, child.stderr).toBe('SIGKILL');

    const store = new SqliteSendStore(path);
    const journal = await store.journal('k1');
    expect(journal?.record).toMatchObject({ events: 51, updatedAt: 55 });
    expect(journal?.entries.map((e) => e.checkpoint)).toEqual(Array.from({ length: 51 }, (_, i) => i));
    expect(journal?.recipients).toEqual(['a', 'b', 'c']);
    await store.close();
  });

  it('lets a second instance see what the first commits while both are open', async () => {
    const path = join(freshDir(), 'sends.db');
    const writer = new SqliteSendStore(path);
    const reader = new SqliteSendStore(path);
    await writer.create(record('s1', 1_000), { event: planned('s1', 1_000) }, recipientsOf(3));
    expect(await reader.get('s1')).toEqual(record('s1', 1_000));
    await writer.append('s1', { event: anchor, checkpoint: 'x' }, { at: 1_100, progress: progress(1) });
    expect(await reader.get('s1')).toMatchObject({ events: 2, updatedAt: 1_100, progress: progress(1) });
    expect(await reader.events('s1', 1)).toEqual([anchor]);
    await reader.finish('s1', { state: 'CANCELLED', at: 1_200 });
    expect(await writer.journal('s1')).toBeUndefined();
    expect(await writer.get('s1')).toMatchObject({ state: 'CANCELLED', finishedAt: 1_200 });
    await writer.close();
    await reader.close();
  });

  it('drops the recipient list, story and checkpoints from the file when a send finishes', async () => {
    const path = join(freshDir(), 'sends.db');
    const store = new SqliteSendStore(path);
    await store.create(record('s1', 1_000), { event: planned('s1', 1_000), checkpoint: { cursor: 0 } }, recipientsOf(1_000));
    await store.saveStory('s1', new Uint8Array(4_096).fill(7));
    await store.append('s1', { event: anchor, checkpoint: { delivered: [0] } }, { at: 1_100, progress: progress(1) });
    await store.finish('s1', { state: 'SUCCEEDED', at: 1_200 });
    await store.close();

    // The API cannot show this (journal() is undefined once finished); the file must not keep megabytes per send for the retention.
    const db = new Database(path, { readonly: true });
    const send = db
      .prepare(
        `SELECT (SELECT count(*) FROM storycast_send_recipients WHERE send_id = 's1') AS recipients,
                (SELECT count(*) FROM storycast_send_stories WHERE send_id = 's1') AS story`,
      )
      .get();
    const entries = db
      .prepare("SELECT count(*) AS n, count(checkpoint) AS checkpoints FROM storycast_send_entries WHERE send_id = 's1'")
      .get();
    db.close();
    expect(send).toEqual({ recipients: 0, story: 0 });
    expect(entries).toEqual({ n: 2, checkpoints: 0 });
  });

  it('shares its file with the Keyv session-memory table', async () => {
    const path = join(freshDir(), 'storycast.db');
    const keyv = createKeyv(`sqlite://${path}`, { namespace: 'test:memory', logger: silentLogger });
    await keyv.set('session-1', { maxProvenBatchSize: 4000 });
    const store = new SqliteSendStore(path);
    await store.create(record('s1', 1_000), { event: planned('s1', 1_000) }, recipientsOf(3));
    await store.append('s1', { event: anchor }, { at: 1_100, progress: progress(1) });
    await keyv.set('session-2', { maxProvenBatchSize: 500 });
    await store.finish('s1', { state: 'SUCCEEDED', at: 1_200 });

    expect(await keyv.get('session-1')).toEqual({ maxProvenBatchSize: 4000 });
    expect(await keyv.get('session-2')).toEqual({ maxProvenBatchSize: 500 });
    expect(await store.get('s1')).toMatchObject({ state: 'SUCCEEDED', events: 2 });
    await keyv.disconnect();
    await store.close();

    const db = new Database(path, { readonly: true });
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all();
    db.close();
    expect(tables).toEqual(['keyv', 'storycast_send_entries', 'storycast_send_recipients', 'storycast_send_stories', 'storycast_sends']);
  });

  it('fails with an error naming the path when the file cannot be created', () => {
    const dir = freshDir();
    writeFileSync(join(dir, 'plain-file'), 'not a directory');
    const path = join(dir, 'plain-file', 'sub', 'sends.db');
    expect(() => new SqliteSendStore(path)).toThrow(`cannot open sqlite file "${path}"`);
    expect(() => createSendStore(`sqlite://${path}`, { logger: silentLogger })).toThrow(/ENOTDIR/);
  });
});

describe('createSendStore', () => {
  it('picks the store by scheme', async () => {
    expect(createSendStore('memory://', { logger: silentLogger })).toBeInstanceOf(MemorySendStore);
    const path = join(freshDir(), 'a', 'b.db');
    const sqlite = createSendStore(`sqlite://${path}`, { logger: silentLogger });
    expect(sqlite).toBeInstanceOf(SqliteSendStore);
    expect((sqlite as SqliteSendStore).path).toBe(path);
    await sqlite.close();
    // Nothing listens there; constructing must not connect, and close() must not wait for it.
    const redis = createSendStore('rediss://user:secret@127.0.0.1:1', { logger: silentLogger });
    expect(redis).toBeInstanceOf(RedisSendStore);
    await redis.close();
  });

  it('refuses an unknown scheme by name without showing credentials', () => {
    const attempt = () => createSendStore('postgres://admin:hunter2@db.example/storycast', { logger: silentLogger });
    expect(attempt).toThrow(/postgres:/);
    expect(attempt).toThrow('postgres://***@db.example');
    expect(attempt).not.toThrow(/hunter2/);
    expect(() => createSendStore('sqlite://', { logger: silentLogger })).toThrow(/path/);
  });
});
