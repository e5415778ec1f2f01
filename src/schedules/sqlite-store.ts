/**
 * Schedules in the SQLite file every other store shares
 * (STORYCAST_STORE=sqlite://PATH): one row per schedule, its record as JSON
 * beside the columns the queries need, and the request as a blob read only
 * when an occurrence fires.
 */
import type Database from 'better-sqlite3';
import { openSqliteFile } from '../store/sqlite-file.js';
import type { ScheduleQuery, ScheduleRecord, ScheduleStore } from './store.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS storycast_schedules (
  schedule_id TEXT PRIMARY KEY,
  session_id TEXT NOT NULL,
  send_id TEXT,
  created_at INTEGER NOT NULL,
  next_run_at INTEGER,
  ended_at INTEGER,
  record TEXT NOT NULL,
  request BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS storycast_schedules_session ON storycast_schedules (session_id, created_at, schedule_id);
CREATE INDEX IF NOT EXISTS storycast_schedules_send ON storycast_schedules (send_id) WHERE send_id IS NOT NULL;
`;

const parse = (row: { record: string } | undefined): ScheduleRecord | undefined =>
  row ? (JSON.parse(row.record) as ScheduleRecord) : undefined;

export class SqliteScheduleStore implements ScheduleStore {
  private readonly db: Database.Database;

  constructor(path: string) {
    this.db = openSqliteFile(path, 'schedule store', SCHEMA);
  }

  async create(record: ScheduleRecord, request: Uint8Array): Promise<boolean> {
    const { changes } = this.db
      .prepare(
        `INSERT INTO storycast_schedules (schedule_id, session_id, send_id, created_at, next_run_at, ended_at, record, request)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (schedule_id) DO NOTHING`,
      )
      .run(
        record.scheduleId,
        record.sessionId,
        record.sendId ?? null,
        record.createdAt,
        record.nextRunAt ?? null,
        record.ended?.at ?? null,
        JSON.stringify(record),
        Buffer.from(request),
      );
    return changes === 1;
  }

  async update(record: ScheduleRecord): Promise<void> {
    this.db
      .prepare('UPDATE storycast_schedules SET next_run_at = ?, ended_at = ?, record = ? WHERE schedule_id = ?')
      .run(record.nextRunAt ?? null, record.ended?.at ?? null, JSON.stringify(record), record.scheduleId);
  }

  async get(scheduleId: string): Promise<ScheduleRecord | undefined> {
    return parse(
      this.db.prepare<[string], { record: string }>('SELECT record FROM storycast_schedules WHERE schedule_id = ?').get(scheduleId),
    );
  }

  async bySendId(sendId: string): Promise<ScheduleRecord | undefined> {
    return parse(this.db.prepare<[string], { record: string }>('SELECT record FROM storycast_schedules WHERE send_id = ?').get(sendId));
  }

  async request(scheduleId: string): Promise<Uint8Array | undefined> {
    const row = this.db
      .prepare<[string], { request: Buffer }>('SELECT request FROM storycast_schedules WHERE schedule_id = ?')
      .get(scheduleId);
    return row ? new Uint8Array(row.request) : undefined;
  }

  async list({ sessionId, after, limit }: ScheduleQuery): Promise<ScheduleRecord[]> {
    const rows = this.db
      .prepare<[string | null, string | null, number, number, string, number], { record: string }>(
        `SELECT record FROM storycast_schedules
         WHERE ended_at IS NULL AND (? IS NULL OR session_id = ?)
           AND (created_at > ? OR (created_at = ? AND schedule_id > ?))
         ORDER BY created_at, schedule_id LIMIT ?`,
      )
      .all(
        sessionId ?? null,
        sessionId ?? null,
        after?.createdAt ?? Number.MIN_SAFE_INTEGER,
        after?.createdAt ?? Number.MIN_SAFE_INTEGER,
        after?.scheduleId ?? '',
        limit,
      );
    return rows.map((row) => JSON.parse(row.record) as ScheduleRecord);
  }

  async pending(): Promise<ScheduleRecord[]> {
    const rows = this.db
      .prepare<[], { record: string }>('SELECT record FROM storycast_schedules WHERE ended_at IS NULL AND next_run_at IS NOT NULL')
      .all();
    return rows.map((row) => JSON.parse(row.record) as ScheduleRecord);
  }

  async delete(scheduleId: string): Promise<boolean> {
    return this.db.prepare('DELETE FROM storycast_schedules WHERE schedule_id = ?').run(scheduleId).changes === 1;
  }

  async deleteSession(sessionId: string): Promise<number> {
    return this.db.prepare('DELETE FROM storycast_schedules WHERE session_id = ?').run(sessionId).changes;
  }

  async sweep(endedBy: number): Promise<number> {
    return this.db.prepare('DELETE FROM storycast_schedules WHERE ended_at IS NOT NULL AND ended_at <= ?').run(endedBy).changes;
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
