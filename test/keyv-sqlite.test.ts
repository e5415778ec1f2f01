/**
 * Keyv's SQLite store on better-sqlite3 (src/store/keyv-sqlite.ts): Keyv's
 * surface on a real file, files @keyv/sqlite wrote read as they were, and the
 * reason it exists: the file shared with the send journal's connection,
 * written from both at once, stays whole.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import KeyvSqlite from '@keyv/sqlite';
import { Keyv } from 'keyv';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KeyvBetterSqlite } from '../src/store/keyv-sqlite.js';
import { openSqliteFile } from '../src/store/sqlite-file.js';

let dir: string;
const closing: (() => unknown)[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'storycast-keyv-sqlite-'));
});
afterEach(async () => {
  for (const close of closing.splice(0)) await close();
  await rm(dir, { recursive: true, force: true });
});

function keyvAt(path: string, namespace = 'ns'): Keyv {
  const keyv = new Keyv({ store: new KeyvBetterSqlite({ uri: `sqlite://${path}`, busyTimeout: 1000 }), namespace });
  closing.push(() => keyv.disconnect());
  return keyv;
}

describe("Keyv's surface", () => {
  it('gets, sets, expires, deletes and lists within its namespace only', async () => {
    const path = join(dir, 'k.sqlite');
    const a = keyvAt(path, 'a');
    const b = keyvAt(path, 'b');
    await a.set('one', { n: 1 });
    await a.set('two', [2, 'two']);
    await a.set('brief', 'gone soon', 1);
    await b.set('one', 'b-one');
    expect(await a.get('one')).toEqual({ n: 1 });
    expect(await b.get('one')).toBe('b-one');
    expect(await a.getMany(['two', 'missing', 'one'])).toEqual([[2, 'two'], undefined, { n: 1 }]);
    expect(await a.has('two')).toBe(true);
    expect(await a.has('missing')).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await a.get('brief')).toBeUndefined();

    const listed: [string, unknown][] = [];
    for await (const entry of a.iterator!('a')) listed.push(entry as [string, unknown]);
    expect(listed.sort()).toEqual([
      ['one', { n: 1 }],
      ['two', [2, 'two']],
    ]);

    expect(await a.delete('two')).toBe(true);
    expect(await a.delete('two')).toBe(false);
    await a.set('three', 3);
    expect(await a.deleteMany(['one', 'three'])).toBe(true);
    await a.set('four', 4);
    await a.clear();
    expect(await a.get('four')).toBeUndefined();
    expect(await b.get('one')).toBe('b-one');
  });

  it('reads what @keyv/sqlite wrote, and @keyv/sqlite reads what it writes: same table, same rows', async () => {
    const path = join(dir, 'shared.sqlite');
    const old = new Keyv({ store: new KeyvSqlite({ uri: `sqlite://${path}` }), namespace: 'ns' });
    await old.set('from-old', { kept: true }, 60_000);
    await old.disconnect();

    const now = keyvAt(path);
    expect(await now.get('from-old')).toEqual({ kept: true });
    await now.set('from-new', 'yes');
    await now.disconnect();

    const again = new Keyv({ store: new KeyvSqlite({ uri: `sqlite://${path}` }), namespace: 'ns' });
    expect(await again.get('from-new')).toBe('yes');
    await again.disconnect();
  });

  it('an unopenable file is an error event and rejected calls, not a crash', async () => {
    const store = new KeyvBetterSqlite({ uri: `sqlite://${join(dir, 'no-such-dir', 'x.sqlite')}`, busyTimeout: 10 });
    const keyv = new Keyv({ store });
    const errors: unknown[] = [];
    keyv.on('error', (error) => errors.push(error));
    await new Promise((resolve) => setImmediate(resolve));
    expect(errors).toHaveLength(1);
    await expect(store.get('k')).rejects.toThrow(/directory does not exist|unable to open/);
  });
});

describe('a file shared with the send journal', () => {
  it('takes Keyv writes and journal writes at the same time, losing none and staying whole', async () => {
    // What storycast does on its default store: the journal (better-sqlite3, WAL) and Keyv on one file.
    // @keyv/sqlite links another SQLite copy whose locks this one cannot see: most writes failed, and the file corrupted.
    const path = join(dir, 'storycast.sqlite');
    const journal = openSqliteFile(path, 'journal', 'CREATE TABLE IF NOT EXISTS journal(id INTEGER PRIMARY KEY, body TEXT)');
    closing.push(() => journal.close());
    const keyv = keyvAt(path);
    const failures: unknown[] = [];
    keyv.on('error', (error) => failures.push(error));
    const insert = journal.prepare('INSERT INTO journal(body) VALUES (?)');
    const body = 'x'.repeat(3000);

    let writing = true;
    let journalRows = 0;
    const journalWriter = (async () => {
      while (writing) {
        insert.run(body);
        journalRows++;
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    const lanes = Array.from({ length: 8 }, async (_, lane) => {
      for (let i = 0; i < 150; i++) await keyv.set(`k${lane}-${i}`, body);
    });
    await Promise.all(lanes);
    writing = false;
    await journalWriter;

    expect(failures).toEqual([]);
    expect(journal.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(journal.prepare('SELECT count(*) AS n FROM keyv').pluck().get()).toBe(8 * 150);
    expect(journal.prepare('SELECT count(*) AS n FROM journal').pluck().get()).toBe(journalRows);
    expect(await keyv.get('k7-149')).toBe(body);
  });
});
