/**
 * The send journal in a SQLite file (STORYCAST_STORE=sqlite://PATH): it
 * outlives the process, so a restart resumes what was RUNNING. The file may
 * also hold other tables (Keyv's session memory, opened by another driver),
 * hence the prefixed table names and the busy timeout.
 *
 * Layout: `storycast_sends` holds one row per send (the record);
 * `storycast_send_entries` one row per event with its checkpoint (NULL once
 * the send finishes); the recipient list and the story each have a table of
 * their own until the send finishes. They must: SQLite rewrites a whole row
 * on any update, and a record row holding 100,000 recipients would be
 * rewritten by every append. So an append costs one small insert and one
 * small row update, whatever the size of the send.
 */
import type Database from 'better-sqlite3';
import { openSqliteFile } from '../store/sqlite-file.js';
import type { SendEvent } from '../engine/events.js';
import type {
  EndState,
  JournalEntry,
  SendFailure,
  SendJournal,
  SendProgress,
  SendQuery,
  SendRecord,
  SendState,
  SendStore,
} from './store.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS storycast_sends (
  send_id TEXT PRIMARY KEY,
  request_id TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  session_id TEXT NOT NULL,
  strategy TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  state TEXT NOT NULL,
  finished_at INTEGER,
  failure TEXT,
  events INTEGER NOT NULL,
  total INTEGER NOT NULL,
  delivered INTEGER NOT NULL,
  failed INTEGER NOT NULL,
  remaining INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS storycast_send_recipients (
  send_id TEXT PRIMARY KEY,
  recipients TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS storycast_send_stories (
  send_id TEXT PRIMARY KEY,
  story BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS storycast_sends_request ON storycast_sends (request_id) WHERE request_id <> '';
CREATE INDEX IF NOT EXISTS storycast_sends_newest ON storycast_sends (created_at DESC, send_id DESC);
CREATE INDEX IF NOT EXISTS storycast_sends_session ON storycast_sends (session_id, created_at DESC, send_id DESC);
CREATE INDEX IF NOT EXISTS storycast_sends_running ON storycast_sends (created_at, send_id) WHERE state = 'RUNNING';
CREATE INDEX IF NOT EXISTS storycast_sends_finished ON storycast_sends (finished_at) WHERE finished_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS storycast_send_entries (
  send_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  event TEXT NOT NULL,
  checkpoint TEXT,
  PRIMARY KEY (send_id, seq)
) WITHOUT ROWID;
`;

const RECORD_COLUMNS = `send_id, request_id, fingerprint, session_id, strategy, created_at, updated_at, state, finished_at, failure,
  events, total, delivered, failed, remaining`;

interface SendRow {
  send_id: string;
  request_id: string;
  fingerprint: string;
  session_id: string;
  strategy: string;
  created_at: number;
  updated_at: number;
  state: SendState;
  finished_at: number | null;
  failure: string | null;
  events: number;
  total: number;
  delivered: number;
  failed: number;
  remaining: number;
}

interface EntryRow {
  event: string;
  checkpoint: string | null;
}

export class SqliteSendStore implements SendStore {
  private readonly db: Database.Database;
  private readonly stmt: ReturnType<typeof prepare>;

  /** Opens (creating if needed) the file and its tables; throws, naming the path, when it cannot. */
  constructor(readonly path: string) {
    this.db = openSqliteFile(path, 'send store', SCHEMA);
    this.stmt = prepare(this.db);
  }

  async create(record: SendRecord, first: JournalEntry, recipients: readonly string[]): Promise<void> {
    this.db.transaction(() => {
      this.stmt.insertSend.run(recordParams(record));
      this.stmt.insertRecipients.run(record.sendId, JSON.stringify(recipients));
      this.stmt.insertEntry.run(record.sendId, 0, ...entryParams(first));
    })();
  }

  async saveStory(sendId: string, story: Uint8Array): Promise<void> {
    this.stmt.saveStory.run({ sendId, story: Buffer.from(story.buffer, story.byteOffset, story.byteLength) });
  }

  async append(sendId: string, entry: JournalEntry, update: { at: number; progress: SendProgress }): Promise<void> {
    this.db.transaction(() => {
      const row = this.stmt.bumpEvents.get({ sendId, at: update.at, ...update.progress }) as { events: number } | undefined;
      // Unknown send: nothing to append to, as in the memory store.
      if (!row) return;
      this.stmt.insertEntry.run(sendId, row.events - 1, ...entryParams(entry));
    })();
  }

  async finish(sendId: string, end: { state: EndState; at: number; failure?: SendFailure }): Promise<void> {
    this.db.transaction(() => {
      const failure = end.failure ? JSON.stringify(end.failure) : null;
      const { changes } = this.stmt.finish.run({ sendId, state: end.state, at: end.at, failure });
      if (changes === 0) return;
      this.stmt.dropCheckpoints.run(sendId);
      this.stmt.dropRecipients.run(sendId);
      this.stmt.dropStory.run(sendId);
    })();
  }

  async get(sendId: string): Promise<SendRecord | undefined> {
    const row = this.stmt.get.get(sendId) as SendRow | undefined;
    return row && toRecord(row);
  }

  async events(sendId: string, from: number): Promise<SendEvent[]> {
    return (this.stmt.events.all(sendId, from) as EntryRow[]).map((r) => JSON.parse(r.event) as SendEvent);
  }

  async findByRequestId(requestId: string): Promise<SendRecord | undefined> {
    if (requestId === '') return undefined;
    const row = this.stmt.byRequest.get(requestId) as SendRow | undefined;
    return row && toRecord(row);
  }

  async list(query: SendQuery): Promise<SendRecord[]> {
    const rows = this.stmt.list.all({
      sessionId: query.sessionId ?? null,
      state: query.state ?? null,
      afterAt: query.after?.createdAt ?? null,
      afterId: query.after?.sendId ?? null,
      limit: query.limit + 1,
    }) as SendRow[];
    return rows.map(toRecord);
  }

  async sweep(finishedBy: number): Promise<number> {
    return this.db.transaction(() => {
      this.stmt.sweepEntries.run(finishedBy);
      return this.stmt.sweepSends.run(finishedBy).changes;
    })();
  }

  async unfinished(): Promise<string[]> {
    return (this.stmt.unfinished.all() as Array<{ send_id: string }>).map((r) => r.send_id);
  }

  async journal(sendId: string): Promise<SendJournal | undefined> {
    // One read transaction, so the record and its entries come from the same snapshot.
    return this.db.transaction(() => {
      const row = this.stmt.journal.get(sendId) as (SendRow & { recipients: string | null; story: Buffer | null }) | undefined;
      // Unknown and finished sends have no recipient row: nothing to resume.
      if (row?.state !== 'RUNNING' || row.recipients === null) return undefined;
      const entries = (this.stmt.entries.all(sendId) as EntryRow[]).map(toEntry);
      const story = row.story ? { story: new Uint8Array(row.story.buffer, row.story.byteOffset, row.story.byteLength) } : {};
      return { record: toRecord(row), recipients: JSON.parse(row.recipients) as string[], entries, ...story };
    })();
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

function prepare(db: Database.Database) {
  return {
    insertSend: db.prepare(
      `INSERT INTO storycast_sends (${RECORD_COLUMNS})
       VALUES (@sendId, @requestId, @fingerprint, @sessionId, @strategy, @createdAt, @updatedAt, @state, @finishedAt, @failure,
         @events, @total, @delivered, @failed, @remaining)`,
    ),
    insertRecipients: db.prepare('INSERT INTO storycast_send_recipients (send_id, recipients) VALUES (?, ?)'),
    dropRecipients: db.prepare('DELETE FROM storycast_send_recipients WHERE send_id = ?'),
    dropStory: db.prepare('DELETE FROM storycast_send_stories WHERE send_id = ?'),
    insertEntry: db.prepare('INSERT INTO storycast_send_entries (send_id, seq, event, checkpoint) VALUES (?, ?, ?, ?)'),
    // Only for a send still running; the story is replaced once prepared.
    saveStory: db.prepare(
      `INSERT INTO storycast_send_stories (send_id, story)
       SELECT @sendId, @story WHERE EXISTS (SELECT 1 FROM storycast_sends WHERE send_id = @sendId AND state = 'RUNNING')
       ON CONFLICT (send_id) DO UPDATE SET story = excluded.story`,
    ),
    bumpEvents: db.prepare(
      `UPDATE storycast_sends SET events = events + 1, updated_at = @at,
         total = @total, delivered = @delivered, failed = @failed, remaining = @remaining
       WHERE send_id = @sendId RETURNING events`,
    ),
    finish: db.prepare(
      `UPDATE storycast_sends SET state = @state, updated_at = @at, finished_at = @at, failure = coalesce(@failure, failure)
       WHERE send_id = @sendId`,
    ),
    dropCheckpoints: db.prepare('UPDATE storycast_send_entries SET checkpoint = NULL WHERE send_id = ? AND checkpoint IS NOT NULL'),
    get: db.prepare(`SELECT ${RECORD_COLUMNS} FROM storycast_sends WHERE send_id = ?`),
    events: db.prepare('SELECT event FROM storycast_send_entries WHERE send_id = ? AND seq >= ? ORDER BY seq'),
    entries: db.prepare('SELECT event, checkpoint FROM storycast_send_entries WHERE send_id = ? ORDER BY seq'),
    byRequest: db.prepare(
      `SELECT ${RECORD_COLUMNS} FROM storycast_sends WHERE request_id = ? AND request_id <> ''
       ORDER BY created_at DESC, send_id DESC LIMIT 1`,
    ),
    // Row-value comparison gives exactly newestFirst's (createdAt, sendId) order, ties included.
    list: db.prepare(
      `SELECT ${RECORD_COLUMNS} FROM storycast_sends
       WHERE (@sessionId IS NULL OR session_id = @sessionId)
         AND (@state IS NULL OR state = @state)
         AND (@afterAt IS NULL OR (created_at, send_id) < (@afterAt, @afterId))
       ORDER BY created_at DESC, send_id DESC LIMIT @limit`,
    ),
    sweepEntries: db.prepare(
      `DELETE FROM storycast_send_entries WHERE send_id IN
         (SELECT send_id FROM storycast_sends WHERE finished_at IS NOT NULL AND finished_at <= ?)`,
    ),
    sweepSends: db.prepare('DELETE FROM storycast_sends WHERE finished_at IS NOT NULL AND finished_at <= ?'),
    unfinished: db.prepare(`SELECT send_id FROM storycast_sends WHERE state = 'RUNNING' ORDER BY created_at, send_id`),
    journal: db.prepare(
      `SELECT ${RECORD_COLUMNS.replaceAll(/(\w+)/g, 's.$1')}, r.recipients, t.story FROM storycast_sends s
       JOIN storycast_send_recipients r ON r.send_id = s.send_id
       LEFT JOIN storycast_send_stories t ON t.send_id = s.send_id
       WHERE s.send_id = ?`,
    ),
  };
}

function recordParams(r: SendRecord) {
  return {
    sendId: r.sendId,
    requestId: r.requestId,
    fingerprint: r.fingerprint,
    sessionId: r.sessionId,
    strategy: r.strategy,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    state: r.state,
    finishedAt: r.finishedAt ?? null,
    failure: r.failure ? JSON.stringify(r.failure) : null,
    events: r.events,
    ...r.progress,
  };
}

function entryParams(entry: JournalEntry): [string, string | null] {
  return [JSON.stringify(entry.event), entry.checkpoint === undefined ? null : JSON.stringify(entry.checkpoint)];
}

function toEntry(row: EntryRow): JournalEntry {
  const event = JSON.parse(row.event) as SendEvent;
  return row.checkpoint === null ? { event } : { event, checkpoint: JSON.parse(row.checkpoint) };
}

function toRecord(row: SendRow): SendRecord {
  return {
    sendId: row.send_id,
    requestId: row.request_id,
    fingerprint: row.fingerprint,
    sessionId: row.session_id,
    strategy: row.strategy,
    createdAt: row.created_at,
    state: row.state,
    updatedAt: row.updated_at,
    ...(row.finished_at === null ? {} : { finishedAt: row.finished_at }),
    ...(row.failure === null ? {} : { failure: JSON.parse(row.failure) as SendFailure }),
    events: row.events,
    progress: { total: row.total, delivered: row.delivered, failed: row.failed, remaining: row.remaining },
  };
}
