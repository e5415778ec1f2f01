/**
 * Experiments in a SQLite file (STORYCAST_STORE=sqlite://PATH), the same
 * file the send journal and Keyv's session memory use, hence the prefixed
 * table names and the busy timeout (see src/sends/sqlite-store.ts).
 *
 * Layout:
 *   storycast_experiments             one row per experiment; its arms as JSON
 *   storycast_experiment_assignments  (experiment, unit) -> arm, the sticky
 *                                     assignments; the primary key makes the
 *                                     first insert win
 *   storycast_experiment_outcomes     (experiment, send_id) -> one outcome, a
 *                                     column per field, so a report can
 *                                     aggregate by arm in SQL
 */
import type Database from 'better-sqlite3';
import { openSqliteFile } from '../store/sqlite-file.js';
import { ExperimentExistsError, type ExperimentChanges, type ExperimentQuery, type ExperimentStore } from './store.js';
import type { Arm, Experiment, ExperimentState, ExperimentUnit, SendOutcome } from './types.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS storycast_experiments (
  key TEXT PRIMARY KEY,
  description TEXT NOT NULL,
  arms TEXT NOT NULL,
  unit TEXT NOT NULL,
  coverage REAL NOT NULL,
  state TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  stopped_at INTEGER,
  winner TEXT
);
CREATE INDEX IF NOT EXISTS storycast_experiments_newest ON storycast_experiments (created_at DESC, key DESC);
CREATE TABLE IF NOT EXISTS storycast_experiment_assignments (
  experiment TEXT NOT NULL,
  unit TEXT NOT NULL,
  arm TEXT NOT NULL,
  PRIMARY KEY (experiment, unit)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS storycast_experiment_outcomes (
  experiment TEXT NOT NULL,
  send_id TEXT NOT NULL,
  arm TEXT NOT NULL,
  unit TEXT NOT NULL,
  session_id TEXT NOT NULL,
  recipients INTEGER NOT NULL,
  delivered INTEGER NOT NULL,
  given_up INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL,
  calls INTEGER NOT NULL,
  failed_calls INTEGER NOT NULL,
  finished INTEGER NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY (experiment, send_id)
) WITHOUT ROWID;
`;

const COLUMNS = 'key, description, arms, unit, coverage, state, created_at, stopped_at, winner';

interface ExperimentRow {
  key: string;
  description: string;
  arms: string;
  unit: ExperimentUnit;
  coverage: number;
  state: ExperimentState;
  created_at: number;
  stopped_at: number | null;
  winner: string | null;
}

interface OutcomeRow {
  experiment: string;
  send_id: string;
  arm: string;
  unit: string;
  session_id: string;
  recipients: number;
  delivered: number;
  given_up: number;
  duration_ms: number;
  calls: number;
  failed_calls: number;
  finished: number;
  at: number;
}

export class SqliteExperimentStore implements ExperimentStore {
  private readonly db: Database.Database;
  private readonly stmt: ReturnType<typeof prepare>;

  /** Opens (creating if needed) the file and its tables; throws, naming the path, when it cannot. */
  constructor(readonly path: string) {
    this.db = openSqliteFile(path, 'experiment store', SCHEMA);
    this.stmt = prepare(this.db);
  }

  async create(experiment: Experiment): Promise<void> {
    const { changes } = this.stmt.insert.run({
      key: experiment.key,
      description: experiment.description,
      arms: JSON.stringify(experiment.arms),
      unit: experiment.unit,
      coverage: experiment.coverage,
      state: experiment.state,
      createdAt: experiment.createdAt,
      stoppedAt: experiment.stoppedAt ?? null,
      winner: experiment.winner ?? null,
    });
    if (changes === 0) throw new ExperimentExistsError(experiment.key);
  }

  async get(key: string): Promise<Experiment | undefined> {
    const row = this.stmt.get.get(key) as ExperimentRow | undefined;
    return row && toExperiment(row);
  }

  async list(query: ExperimentQuery): Promise<Experiment[]> {
    const rows = this.stmt.list.all({ state: query.state ?? null, after: query.after ?? null, limit: query.limit + 1 }) as ExperimentRow[];
    return rows.map(toExperiment);
  }

  async stop(key: string, end: { at: number; winner?: string }): Promise<Experiment | undefined> {
    return this.db.transaction(() => {
      this.stmt.stop.run({ key, at: end.at, winner: end.winner ?? null });
      const row = this.stmt.get.get(key) as ExperimentRow | undefined;
      return row && toExperiment(row);
    })();
  }

  async update(key: string, changes: ExperimentChanges): Promise<Experiment | undefined> {
    return this.db.transaction(() => {
      this.stmt.update.run({
        key,
        coverage: changes.coverage ?? null,
        arms: changes.arms ? JSON.stringify(changes.arms) : null,
        description: changes.description ?? null,
      });
      const row = this.stmt.get.get(key) as ExperimentRow | undefined;
      return row && toExperiment(row);
    })();
  }

  async assign(key: string, unitId: string, arm: string): Promise<string> {
    // One transaction: the insert (a no-op when the unit has an arm) and the read see the same row, and no
    // connection changes an assignment once written, so whoever inserted first is who every caller hears.
    return this.db.transaction(() => {
      this.stmt.assign.run(key, unitId, arm);
      return (this.stmt.assignment.get(key, unitId) as { arm: string }).arm;
    })();
  }

  async assignment(key: string, unitId: string): Promise<string | undefined> {
    return (this.stmt.assignment.get(key, unitId) as { arm: string } | undefined)?.arm;
  }

  async record(o: SendOutcome): Promise<void> {
    this.stmt.record.run({
      experiment: o.experiment,
      sendId: o.sendId,
      arm: o.arm,
      unit: o.unit,
      sessionId: o.sessionId,
      recipients: o.recipients,
      delivered: o.delivered,
      givenUp: o.givenUp,
      durationMs: o.durationMs,
      calls: o.calls,
      failedCalls: o.failedCalls,
      finished: o.finished ? 1 : 0,
      at: o.at,
    });
  }

  async outcomes(key: string): Promise<SendOutcome[]> {
    return (this.stmt.outcomes.all(key) as OutcomeRow[]).map(toOutcome);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

function prepare(db: Database.Database) {
  return {
    insert: db.prepare(
      `INSERT INTO storycast_experiments (${COLUMNS})
       VALUES (@key, @description, @arms, @unit, @coverage, @state, @createdAt, @stoppedAt, @winner)
       ON CONFLICT (key) DO NOTHING`,
    ),
    get: db.prepare(`SELECT ${COLUMNS} FROM storycast_experiments WHERE key = ?`),
    // Row-value comparison gives exactly newestFirst's (createdAt, key) order; an unknown cursor key compares NULL: no rows.
    list: db.prepare(
      `SELECT ${COLUMNS} FROM storycast_experiments
       WHERE (@state IS NULL OR state = @state)
         AND (@after IS NULL OR (created_at, key) < (SELECT created_at, key FROM storycast_experiments WHERE key = @after))
       ORDER BY created_at DESC, key DESC LIMIT @limit`,
    ),
    // Only a running experiment: a second stop leaves the first one's time and winner.
    stop: db.prepare(
      `UPDATE storycast_experiments SET state = 'STOPPED', stopped_at = @at, winner = @winner
       WHERE key = @key AND state = 'RUNNING'`,
    ),
    update: db.prepare(
      `UPDATE storycast_experiments SET coverage = coalesce(@coverage, coverage), arms = coalesce(@arms, arms),
         description = coalesce(@description, description)
       WHERE key = @key AND state = 'RUNNING'`,
    ),
    assign: db.prepare('INSERT INTO storycast_experiment_assignments (experiment, unit, arm) VALUES (?, ?, ?) ON CONFLICT DO NOTHING'),
    assignment: db.prepare('SELECT arm FROM storycast_experiment_assignments WHERE experiment = ? AND unit = ?'),
    record: db.prepare(
      `INSERT INTO storycast_experiment_outcomes
         (experiment, send_id, arm, unit, session_id, recipients, delivered, given_up, duration_ms, calls, failed_calls, finished, at)
       VALUES (@experiment, @sendId, @arm, @unit, @sessionId, @recipients, @delivered, @givenUp, @durationMs, @calls, @failedCalls,
         @finished, @at)
       ON CONFLICT DO NOTHING`,
    ),
    outcomes: db.prepare('SELECT * FROM storycast_experiment_outcomes WHERE experiment = ? ORDER BY at, send_id'),
  };
}

function toExperiment(row: ExperimentRow): Experiment {
  return {
    key: row.key,
    description: row.description,
    arms: JSON.parse(row.arms) as Arm[],
    unit: row.unit,
    coverage: row.coverage,
    state: row.state,
    createdAt: row.created_at,
    ...(row.stopped_at === null ? {} : { stoppedAt: row.stopped_at }),
    ...(row.winner === null ? {} : { winner: row.winner }),
  };
}

function toOutcome(row: OutcomeRow): SendOutcome {
  return {
    experiment: row.experiment,
    arm: row.arm,
    unit: row.unit,
    sendId: row.send_id,
    sessionId: row.session_id,
    recipients: row.recipients,
    delivered: row.delivered,
    givenUp: row.given_up,
    durationMs: row.duration_ms,
    calls: row.calls,
    failedCalls: row.failed_calls,
    finished: row.finished === 1,
    at: row.at,
  };
}
