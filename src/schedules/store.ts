/**
 * Where schedules are kept: each schedule's record (when it runs next, what it
 * last did) and, apart, the SendStory request each of its sends starts from,
 * written once and read only when an occurrence fires. The in-memory store
 * below, the SQLite one and the redis one keep one contract
 * (test/support/schedule-store-contract.ts).
 *
 * The request holds recipients, so schedules are personal data: they belong
 * to their session and go when it is logged out (deleteSession).
 */

/** Why an occurrence started no send, or why a one-off ended without one. */
export interface ScheduleError {
  /** An ErrorInfo reason, such as RECIPIENT_LIST_NOT_FOUND. */
  readonly reason: string;
  readonly message: string;
}

/** What each send of a schedule names, for listings that do not decode the request. */
interface ScheduleTarget {
  readonly strategy: string;
  readonly experiment: string;
  readonly recipientList: string;
  readonly allContacts: boolean;
  /** How many explicit recipients the request holds. */
  readonly recipients: number;
}

export interface ScheduleRecord {
  readonly scheduleId: string;
  readonly sessionId: string;
  /** The creating request's request_id; '' when none. */
  readonly requestId: string;
  /** Opaque: equal fingerprints mean the same creating request. */
  readonly fingerprint: string;
  readonly target: ScheduleTarget;
  /** The cron expression; absent for a one-off. */
  readonly repeat?: string;
  /** IANA zone for `repeat`; '' for UTC. */
  readonly timeZone?: string;
  /** The request's start_time, when it gave one. */
  readonly startAt?: number;
  readonly createdAt: number;
  /** A one-off's send id, given out when it was accepted. */
  readonly sendId?: string;
  /** When the next occurrence fires; absent once the schedule has ended. */
  readonly nextRunAt?: number;
  readonly runs: number;
  readonly lastRunAt?: number;
  readonly lastSendId?: string;
  readonly lastError?: ScheduleError;
  /** A one-off that will never start: cancelled (CancelSend, DeleteSchedule) or failed to start. */
  readonly ended?: { readonly state: 'CANCELLED' | 'FAILED'; readonly at: number; readonly failure?: ScheduleError };
}

export interface ScheduleQuery {
  readonly sessionId?: string;
  /** Only schedules strictly after this one in (createdAt, scheduleId) order. */
  readonly after?: { readonly createdAt: number; readonly scheduleId: string };
  readonly limit: number;
}

export interface ScheduleStore {
  /** A new schedule with the request its sends start from; false (and nothing written) when its id is taken. */
  create(record: ScheduleRecord, request: Uint8Array): Promise<boolean>;
  /** Replaces the record (the request stays); nothing when it was deleted meanwhile. */
  update(record: ScheduleRecord): Promise<void>;
  get(scheduleId: string): Promise<ScheduleRecord | undefined>;
  /** The one-off whose send id this is. */
  bySendId(sendId: string): Promise<ScheduleRecord | undefined>;
  request(scheduleId: string): Promise<Uint8Array | undefined>;
  /** Schedules that have not ended, oldest first by (createdAt, scheduleId), at most `limit`. */
  list(query: ScheduleQuery): Promise<ScheduleRecord[]>;
  /** Every schedule still to fire: what the scheduler watches. */
  pending(): Promise<ScheduleRecord[]>;
  /** Whether there was such a schedule. */
  delete(scheduleId: string): Promise<boolean>;
  /** Every schedule of the session (a logout); how many there were. */
  deleteSession(sessionId: string): Promise<number>;
  /** Forgets one-offs that ended at or before `endedBy`; how many. */
  sweep(endedBy: number): Promise<number>;
  close(): Promise<void>;
}

/** Oldest first by (createdAt, scheduleId): the order of list() and of its page tokens. */
function oldestFirst(a: { createdAt: number; scheduleId: string }, b: { createdAt: number; scheduleId: string }): number {
  return a.createdAt - b.createdAt || (a.scheduleId < b.scheduleId ? -1 : a.scheduleId > b.scheduleId ? 1 : 0);
}

/** What list() returns from a set of records: shared by the stores that filter in memory. */
export function listed(records: Iterable<ScheduleRecord>, { sessionId, after, limit }: ScheduleQuery): ScheduleRecord[] {
  return [...records]
    .filter((r) => !r.ended && (sessionId === undefined || r.sessionId === sessionId) && (!after || oldestFirst(r, after) > 0))
    .sort(oldestFirst)
    .slice(0, limit);
}

/** What pending() returns: a schedule with an occurrence to come that has not ended. */
export const stillToFire = (r: ScheduleRecord): boolean => r.nextRunAt !== undefined && !r.ended;

/** The store for one process (STORYCAST_STORE=memory://): schedules go with it. */
export class MemoryScheduleStore implements ScheduleStore {
  private readonly records = new Map<string, ScheduleRecord>();
  private readonly requests = new Map<string, Uint8Array>();

  async create(record: ScheduleRecord, request: Uint8Array): Promise<boolean> {
    if (this.records.has(record.scheduleId)) return false;
    this.records.set(record.scheduleId, record);
    // A copy, as the SQLite and redis stores keep: the caller may reuse its buffer.
    this.requests.set(record.scheduleId, request.slice());
    return true;
  }

  async update(record: ScheduleRecord): Promise<void> {
    if (this.records.has(record.scheduleId)) this.records.set(record.scheduleId, record);
  }

  async get(scheduleId: string): Promise<ScheduleRecord | undefined> {
    return this.records.get(scheduleId);
  }

  async bySendId(sendId: string): Promise<ScheduleRecord | undefined> {
    for (const record of this.records.values()) if (record.sendId === sendId) return record;
    return undefined;
  }

  async request(scheduleId: string): Promise<Uint8Array | undefined> {
    return this.requests.get(scheduleId)?.slice();
  }

  async list(query: ScheduleQuery): Promise<ScheduleRecord[]> {
    return listed(this.records.values(), query);
  }

  async pending(): Promise<ScheduleRecord[]> {
    return [...this.records.values()].filter(stillToFire);
  }

  async delete(scheduleId: string): Promise<boolean> {
    this.requests.delete(scheduleId);
    return this.records.delete(scheduleId);
  }

  async deleteSession(sessionId: string): Promise<number> {
    let deleted = 0;
    for (const record of [...this.records.values()]) {
      if (record.sessionId === sessionId && (await this.delete(record.scheduleId))) deleted++;
    }
    return deleted;
  }

  async sweep(endedBy: number): Promise<number> {
    let swept = 0;
    for (const record of [...this.records.values()]) {
      if (record.ended && record.ended.at <= endedBy && (await this.delete(record.scheduleId))) swept++;
    }
    return swept;
  }

  async close(): Promise<void> {}
}
