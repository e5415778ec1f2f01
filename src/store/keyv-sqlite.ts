/**
 * Keyv's SQLite storage on better-sqlite3, the driver the send journal and the
 * experiments use, in place of @keyv/sqlite (which brings node-sqlite3).
 * Each of those drivers links its own copy of SQLite, and two copies in one
 * process corrupt a shared file: SQLite's locks are POSIX locks, which never
 * conflict within one process, so each copy takes "exclusive" locks the other
 * cannot see, and both write the WAL at once ("database disk image is
 * malformed", "file is not a database" under a few dozen concurrent sends;
 * see https://www.sqlite.org/howtocorrupt.html, 2.2.1). One driver, one copy:
 * its connections know about each other.
 *
 * The table, its columns and the queries are @keyv/sqlite 4.0.8's, so a file
 * either wrote reads the same; `query` and `opts.table` are kept for the code
 * that runs SQL of its own on the table (sweeps, one-statement upserts).
 * Statements run synchronously on the event loop, as the journal's do: each
 * is one small autocommit write or an indexed read.
 */
import { EventEmitter } from 'node:events';
import Database from 'better-sqlite3';

type Row = { key: string; value: string };

export class KeyvBetterSqlite extends EventEmitter {
  readonly ttlSupport = false;
  /** What Keyv reads: the dialect tells it the store can be iterated. */
  readonly opts: { readonly dialect: 'sqlite'; readonly url: string; readonly table: string };
  /** Set by Keyv: the namespace clear() and iterator() keep to. */
  namespace: string | undefined;
  private readonly db: Database.Database | undefined;
  /** Why the file could not be opened: every call rejects with it, as @keyv/sqlite's did. */
  private readonly failure: Error | undefined;
  private readonly statements = new Map<string, Database.Statement>();

  constructor(options: { readonly uri: string; readonly busyTimeout: number }) {
    super();
    this.opts = { dialect: 'sqlite', url: options.uri, table: 'keyv' };
    try {
      this.db = new Database(options.uri.replace(/^sqlite:\/\//, ''), { timeout: options.busyTimeout });
      // As the journal's connection does (store/sqlite-file.ts), which makes a shared file WAL: there NORMAL
      // survives a process crash, and a commit is not an fsync. A file only Keyv uses keeps SQLite's defaults.
      if (this.db.pragma('journal_mode', { simple: true }) === 'wal') this.db.pragma('synchronous = NORMAL');
      this.db.exec(`CREATE TABLE IF NOT EXISTS ${this.opts.table}(key VARCHAR(255) PRIMARY KEY, value TEXT )`);
    } catch (error) {
      this.db?.close();
      this.failure = error as Error;
      // Once Keyv (constructed right after) listens: an 'error' nobody hears would throw.
      process.nextTick(() => this.emit('error', error));
    }
  }

  /**
   * Runs one statement: the rows it returns, or none. Parameters as
   * better-sqlite3 binds them (values, or one array). A bound property, as
   * @keyv/sqlite's is, so it can be taken off the store and called alone.
   */
  query = async (sql: string, ...params: unknown[]): Promise<unknown[]> => {
    // Not cached: callers' SQL is theirs (a test's trigger, say); the cache is for the adapter's own few statements.
    const statement = this.open().prepare(sql);
    if (statement.reader) return statement.all(...params);
    statement.run(...params);
    return [];
  };

  async get(key: string): Promise<string | undefined> {
    const row = this.prepared(`SELECT * FROM ${this.opts.table} WHERE key = ?`).get(key) as Row | undefined;
    return row?.value;
  }

  async getMany(keys: string[]): Promise<(string | undefined)[]> {
    const rows = this.prepared(`SELECT * FROM ${this.opts.table} WHERE key IN (SELECT value FROM json_each(?))`).all(
      JSON.stringify(keys),
    ) as Row[];
    const byKey = new Map(rows.map((r) => [r.key, r.value]));
    return keys.map((key) => byKey.get(key));
  }

  async set(key: string, value: string): Promise<void> {
    this.prepared(`INSERT INTO ${this.opts.table} (key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value`).run(
      key,
      value,
    );
  }

  async delete(key: string): Promise<boolean> {
    return this.prepared(`DELETE FROM ${this.opts.table} WHERE key = ?`).run(key).changes > 0;
  }

  async deleteMany(keys: string[]): Promise<boolean> {
    return (
      this.prepared(`DELETE FROM ${this.opts.table} WHERE key IN (SELECT value FROM json_each(?))`).run(JSON.stringify(keys)).changes > 0
    );
  }

  async clear(): Promise<void> {
    this.prepared(`DELETE FROM ${this.opts.table} WHERE key LIKE ?`).run(this.namespace ? `${this.namespace}:%` : '%');
  }

  async has(key: string): Promise<boolean> {
    const row = this.prepared(`SELECT EXISTS ( SELECT * FROM ${this.opts.table} WHERE key = ? ) AS found`).get(key) as { found: number };
    return row.found === 1;
  }

  /**
   * Every entry of the namespace, read at once: Keyv deletes expired keys
   * while it iterates, which a cursor still open on this connection would not allow.
   */
  async *iterator(namespace?: string): AsyncGenerator<[string, string]> {
    const rows = this.prepared(`SELECT * FROM ${this.opts.table} WHERE key LIKE ?`).all(`${namespace ? `${namespace}:` : ''}%`) as Row[];
    for (const row of rows) yield [row.key, row.value];
  }

  async disconnect(): Promise<void> {
    if (this.db?.open) this.db.close();
  }

  private open(): Database.Database {
    if (!this.db) throw this.failure!;
    return this.db;
  }

  private prepared(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.open().prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }
}
