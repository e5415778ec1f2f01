/**
 * Where experiments are kept: each experiment, the arm each unit was given
 * (sticky: once a unit has an arm it keeps it, whatever the weights become),
 * and the outcome of every send run in it. The in-memory store below, the
 * SQLite one and the Redis one keep the same contract
 * (test/support/experiment-store-contract.ts). Every method may be
 * asynchronous, and a rejection means the write did not land.
 */
import type { Experiment, ExperimentState, SendOutcome } from './types.js';

/** create() of a key that is already taken: keys are unique on the server and never reused. */
export class ExperimentExistsError extends Error {
  constructor(readonly key: string) {
    super(`experiment "${key}" already exists`);
    this.name = 'ExperimentExistsError';
  }
}

export interface ExperimentQuery {
  readonly state?: ExperimentState;
  /**
   * Only experiments strictly after this one, newest first: the key of the
   * last one of the previous page. Experiments are never deleted, so a key
   * the store handed out always resolves; an unknown one gives [].
   */
  readonly after?: string;
  readonly limit: number;
}

export interface ExperimentChanges {
  readonly coverage?: number;
  readonly arms?: Experiment['arms'];
  readonly description?: string;
}

export interface ExperimentStore {
  /** Rejects with ExperimentExistsError when the key is taken (the stored experiment is left as it was). */
  create(experiment: Experiment): Promise<void>;
  get(key: string): Promise<Experiment | undefined>;
  /** Matching experiments, newest first by (createdAt, key), up to limit + 1 (so the caller knows whether there is more). */
  list(query: ExperimentQuery): Promise<Experiment[]>;
  /**
   * Stops a RUNNING experiment at `at`, naming the arm new sends get from now
   * on (none: the caller decides). Returns the experiment as stored
   * afterwards, undefined when unknown. Stopping is once: a stopped
   * experiment is returned as it was (a retried stop changes nothing), with
   * its assignments and outcomes.
   */
  stop(key: string, end: { readonly at: number; readonly winner?: string }): Promise<Experiment | undefined>;
  /**
   * Changes a RUNNING experiment's coverage, arms (the caller keeps names,
   * strategies and the control; only weights differ) or description; what is
   * not given stays. Returns the experiment as stored afterwards (a stopped one
   * unchanged), undefined when unknown. Assignments are untouched: a unit keeps its arm.
   */
  update(key: string, changes: ExperimentChanges): Promise<Experiment | undefined>;
  /**
   * Sticky assignment: stores `arm` for the unit only if it has none yet,
   * and returns the arm the unit has (the one stored first, whoever stored
   * it). Atomic: concurrent calls for one unit, from any replica, all get
   * the same arm. Does not check that the experiment exists.
   */
  assign(key: string, unitId: string, arm: string): Promise<string>;
  assignment(key: string, unitId: string): Promise<string | undefined>;
  /** Appends; once per (experiment, sendId): a resumed send may record again, and the first record stands. */
  record(outcome: SendOutcome): Promise<void>;
  /** Every outcome of the experiment, by (at, sendId); [] when unknown. */
  outcomes(key: string): Promise<SendOutcome[]>;
  close(): Promise<void>;
}

/** The store for one process (STORYCAST_STORE=memory://): nothing outlives it. */
export class MemoryExperimentStore implements ExperimentStore {
  private readonly experiments = new Map<string, Experiment>();
  /** experiment key -> unit id -> arm. */
  private readonly assignments = new Map<string, Map<string, string>>();
  /** experiment key -> send id -> outcome. */
  private readonly recorded = new Map<string, Map<string, SendOutcome>>();

  async create(experiment: Experiment): Promise<void> {
    if (this.experiments.has(experiment.key)) throw new ExperimentExistsError(experiment.key);
    this.experiments.set(experiment.key, experiment);
  }

  async get(key: string): Promise<Experiment | undefined> {
    return this.experiments.get(key);
  }

  async list(query: ExperimentQuery): Promise<Experiment[]> {
    const { state, after, limit } = query;
    let cursor: Experiment | undefined;
    if (after !== undefined) {
      cursor = this.experiments.get(after);
      if (!cursor) return [];
    }
    return [...this.experiments.values()]
      .filter((e) => state === undefined || e.state === state)
      .sort(newestFirst)
      .filter((e) => !cursor || newestFirst(e, cursor) > 0)
      .slice(0, limit + 1);
  }

  async stop(key: string, end: { at: number; winner?: string }): Promise<Experiment | undefined> {
    const experiment = this.experiments.get(key);
    if (experiment?.state !== 'RUNNING') return experiment;
    const stopped: Experiment = {
      ...experiment,
      state: 'STOPPED',
      stoppedAt: end.at,
      ...(end.winner === undefined ? {} : { winner: end.winner }),
    };
    this.experiments.set(key, stopped);
    return stopped;
  }

  async update(key: string, changes: ExperimentChanges): Promise<Experiment | undefined> {
    const experiment = this.experiments.get(key);
    if (experiment?.state !== 'RUNNING') return experiment;
    const updated: Experiment = { ...experiment, ...changes };
    this.experiments.set(key, updated);
    return updated;
  }

  async assign(key: string, unitId: string, arm: string): Promise<string> {
    let units = this.assignments.get(key);
    if (!units) {
      units = new Map();
      this.assignments.set(key, units);
    }
    const existing = units.get(unitId);
    if (existing !== undefined) return existing;
    units.set(unitId, arm);
    return arm;
  }

  async assignment(key: string, unitId: string): Promise<string | undefined> {
    return this.assignments.get(key)?.get(unitId);
  }

  async record(outcome: SendOutcome): Promise<void> {
    let sends = this.recorded.get(outcome.experiment);
    if (!sends) {
      sends = new Map();
      this.recorded.set(outcome.experiment, sends);
    }
    if (!sends.has(outcome.sendId)) sends.set(outcome.sendId, outcome);
  }

  async outcomes(key: string): Promise<SendOutcome[]> {
    return [...(this.recorded.get(key)?.values() ?? [])].sort(byTime);
  }

  async close(): Promise<void> {}
}

/** Newest first by (createdAt, key): the order of list() and of its cursor. */
export function newestFirst(a: Pick<Experiment, 'createdAt' | 'key'>, b: Pick<Experiment, 'createdAt' | 'key'>): number {
  return b.createdAt - a.createdAt || (a.key < b.key ? 1 : a.key > b.key ? -1 : 0);
}

/** The order of outcomes(): when each send ended, ties by send id. */
export function byTime(a: SendOutcome, b: SendOutcome): number {
  return a.at - b.at || (a.sendId < b.sendId ? -1 : a.sendId > b.sendId ? 1 : 0);
}
