/**
 * A SQLite file for a store that shares it with others (the send journal,
 * experiments, Keyv's session memory, another process after a restart):
 * created with its folder if missing, WAL, and a busy timeout so another
 * connection holding the write lock for a moment is waited for.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';

/** Opens `path` and runs `schema`; throws, naming the path and `label`, when it cannot. */
export function openSqliteFile(path: string, label: string, schema: string): Database.Database {
  if (path === '') throw new Error(`${label}: sqlite path is empty (expected sqlite://<path>)`);
  let db: Database.Database | undefined;
  try {
    if (path !== ':memory:') mkdirSync(dirname(resolve(path)), { recursive: true });
    db = new Database(path);
    db.pragma('busy_timeout = 1000');
    db.pragma('journal_mode = WAL');
    // In WAL mode NORMAL still survives a process crash; only an OS crash can lose the last commits.
    db.pragma('synchronous = NORMAL');
    db.exec(schema);
    return db;
  } catch (error) {
    db?.close();
    throw new Error(`${label}: cannot open sqlite file "${path}": ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  }
}
