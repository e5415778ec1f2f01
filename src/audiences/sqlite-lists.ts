/**
 * Saved recipient lists in the SQLite file every other store shares
 * (STORYCAST_STORE=sqlite://PATH): one row per list, its JIDs joined by
 * newlines (a JID never holds one), so a 100,000-recipient list is one
 * ~2.5 MB value written and read in one statement.
 */
import type Database from 'better-sqlite3';
import { openSqliteFile } from '../store/sqlite-file.js';
import type { ListQuery, RecipientList, RecipientListInfo, RecipientListStore } from './lists.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS storycast_recipient_lists (
  session_id TEXT NOT NULL,
  name TEXT NOT NULL,
  recipients TEXT NOT NULL,
  count INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (session_id, name)
) WITHOUT ROWID;
`;

interface InfoRow {
  session_id: string;
  name: string;
  count: number;
  created_at: number;
  updated_at: number;
}

const toInfo = (row: InfoRow): RecipientListInfo => ({
  sessionId: row.session_id,
  name: row.name,
  count: row.count,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

const split = (text: string): string[] => (text === '' ? [] : text.split('\n'));

export class SqliteRecipientListStore implements RecipientListStore {
  private readonly db: Database.Database;

  constructor(path: string) {
    this.db = openSqliteFile(path, 'recipient list store', SCHEMA);
  }

  async save(list: { sessionId: string; name: string; recipients: readonly string[]; at: number }): Promise<RecipientList> {
    const row = this.db
      .prepare<[string, string, string, number, number, number], { created_at: number }>(
        `INSERT INTO storycast_recipient_lists (session_id, name, recipients, count, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (session_id, name) DO UPDATE SET recipients = excluded.recipients, count = excluded.count, updated_at = excluded.updated_at
         RETURNING created_at`,
      )
      .get(list.sessionId, list.name, list.recipients.join('\n'), list.recipients.length, list.at, list.at)!;
    return { sessionId: list.sessionId, name: list.name, recipients: [...list.recipients], createdAt: row.created_at, updatedAt: list.at };
  }

  async get(sessionId: string, name: string): Promise<RecipientList | undefined> {
    const row = this.db
      .prepare<[string, string], InfoRow & { recipients: string }>(
        'SELECT * FROM storycast_recipient_lists WHERE session_id = ? AND name = ?',
      )
      .get(sessionId, name);
    if (!row) return undefined;
    const { count: _count, ...info } = toInfo(row);
    return { ...info, recipients: split(row.recipients) };
  }

  async list(sessionId: string, { after, limit }: ListQuery): Promise<RecipientListInfo[]> {
    const rows = this.db
      .prepare<[string, string, number], InfoRow>(
        `SELECT session_id, name, count, created_at, updated_at FROM storycast_recipient_lists
         WHERE session_id = ? AND name > ? ORDER BY name LIMIT ?`,
      )
      .all(sessionId, after ?? '', limit);
    return rows.map(toInfo);
  }

  async delete(sessionId: string, name: string): Promise<boolean> {
    return this.db.prepare('DELETE FROM storycast_recipient_lists WHERE session_id = ? AND name = ?').run(sessionId, name).changes > 0;
  }

  async deleteSession(sessionId: string): Promise<number> {
    return this.db.prepare('DELETE FROM storycast_recipient_lists WHERE session_id = ?').run(sessionId).changes;
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
