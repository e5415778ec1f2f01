/**
 * Where sends are kept: the journal. A send's record (state and counts), its
 * append-only event log, and what a resume needs: the recipient list (written
 * once), the prepared story (written once), and with each event a checkpoint
 * (who it delivered or failed, by position in that list, and the strategy's
 * state). The registry (registry.ts) writes through this interface only; the
 * in-memory store below, the SQLite one and the Redis one keep the same
 * contract (test/support/send-store-contract.ts). Every method may be
 * asynchronous, and a rejection means the write did not land.
 */
import type { SendEvent } from '../engine/events.js';

/** SCHEDULED: accepted to start later; the journal never holds it (the schedule store does, see PendingSends). */
export type SendState = 'RUNNING' | 'SUCCEEDED' | 'CANCELLED' | 'FAILED' | 'SCHEDULED';
/** How a send can end. */
export type EndState = 'SUCCEEDED' | 'CANCELLED' | 'FAILED';

/** Why a send ended before its summary: what the caller of SendStory would have seen. */
export interface SendFailure {
  /** An ErrorInfo-style reason such as ANCHOR_FAILED, or INTERNAL. */
  readonly reason: string;
  readonly message: string;
  /** The transport's code, when a transport failure caused it. */
  readonly transportCode?: string;
  /** The request field at fault, for input errors found once the send had started (the story's media). */
  readonly field?: string;
}

export interface SendProgress {
  readonly total: number;
  readonly delivered: number;
  readonly failed: number;
  readonly remaining: number;
}

export interface SendRecord {
  readonly sendId: string;
  /** The client's idempotency key; '' when none. */
  readonly requestId: string;
  /** Opaque: equal fingerprints mean the same request. */
  readonly fingerprint: string;
  readonly sessionId: string;
  readonly strategy: string;
  readonly createdAt: number;
  readonly state: SendState;
  readonly updatedAt: number;
  /** Set when the send ended: when the retention starts counting. */
  readonly finishedAt?: number;
  readonly failure?: SendFailure;
  /** How many events the log holds (the next one's index). */
  readonly events: number;
  readonly progress: SendProgress;
  /** A scheduled send's start time. */
  readonly startAt?: number;
  /** The schedule that started it, or will. */
  readonly scheduleId?: string;
}

/**
 * One event, with what it changed for a resume. The checkpoint is the
 * engine's, opaque here: any JSON value, given back as it was written.
 */
export interface JournalEntry {
  readonly event: SendEvent;
  readonly checkpoint?: unknown;
}

/** Everything a resume starts from. */
export interface SendJournal {
  readonly record: SendRecord;
  readonly recipients: readonly string[];
  /** The prepared story as the transport encoded it; absent when it was never prepared. */
  readonly story?: Uint8Array;
  /** Every entry, in order: entries[i].event is event i. */
  readonly entries: readonly JournalEntry[];
}

export interface SendQuery {
  readonly sessionId?: string;
  readonly state?: SendState;
  /** Newest first; only sends strictly after this (createdAt, sendId) in that order. */
  readonly after?: { readonly createdAt: number; readonly sendId: string };
  readonly limit: number;
}

/**
 * The writer's lease (src/replicas/leases.ts): a store that can check it
 * refuses the write when a newer owner exists; stores of one process ignore it.
 */
export interface Fence {
  /** Where the session's current owner's token is kept. */
  readonly key: string;
  readonly token: number;
}

/**
 * The four writes take an optional fence: with it, a store shared by replicas
 * rejects with FencedError, having written nothing, when the writer's lease
 * has passed to a newer owner. Without it the write is unconditional.
 */
export interface SendStore {
  /** A new send: its record (events: 1), its first entry (planned) and the recipient list a resume starts from. */
  create(record: SendRecord, first: JournalEntry, recipients: readonly string[], fence?: Fence): Promise<void>;
  /** The prepared story, once per send, before anything is sent. */
  saveStory(sendId: string, story: Uint8Array, fence?: Fence): Promise<void>;
  /** One entry at index record.events, with the counts after it, in one write. */
  append(
    sendId: string,
    entry: JournalEntry,
    update: { readonly at: number; readonly progress: SendProgress },
    fence?: Fence,
  ): Promise<void>;
  /** The end: state, time and failure; the recipient list, story and checkpoints are dropped (no resume needs them). */
  finish(
    sendId: string,
    end: { readonly state: EndState; readonly at: number; readonly failure?: SendFailure },
    fence?: Fence,
  ): Promise<void>;
  get(sendId: string): Promise<SendRecord | undefined>;
  /** Events from index `from` on; [] when unknown. */
  events(sendId: string, from: number): Promise<SendEvent[]>;
  findByRequestId(requestId: string): Promise<SendRecord | undefined>;
  /** Matching sends, newest first, up to limit + 1 (so the caller knows whether there is more). */
  list(query: SendQuery): Promise<SendRecord[]>;
  /** Forgets sends that finished at or before `finishedBy`; returns how many. */
  sweep(finishedBy: number): Promise<number>;
  /** Ids of the sends still RUNNING, oldest first: those a starting process resumes. */
  unfinished(): Promise<string[]>;
  /** What a resume needs; undefined when the send is unknown or has finished. */
  journal(sendId: string): Promise<SendJournal | undefined>;
  close(): Promise<void>;
}

interface MemorySend {
  record: SendRecord;
  entries: JournalEntry[];
  recipients: readonly string[] | undefined;
  story: Uint8Array | undefined;
}

/**
 * The store for one process (STORYCAST_STORE=memory://): nothing outlives it,
 * so nothing resumes. Finished sends beyond `maxFinished` are forgotten
 * oldest-finished first, so a burst of sends cannot hold memory for the whole
 * retention. Its writes leave out the fence parameter (TypeScript lets a
 * method take fewer parameters than its interface): with one process there is
 * no other owner to fence off.
 */
export class MemorySendStore implements SendStore {
  private readonly sends = new Map<string, MemorySend>();
  private readonly requestIds = new Map<string, string>();
  /** Finished send ids in the order they finished (a Map keeps insertion order). */
  private readonly finished = new Map<string, true>();

  constructor(private readonly maxFinished = 10_000) {}

  async create(record: SendRecord, first: JournalEntry, recipients: readonly string[]): Promise<void> {
    this.sends.set(record.sendId, { record, entries: [first], recipients, story: undefined });
    if (record.requestId) this.requestIds.set(record.requestId, record.sendId);
  }

  async saveStory(sendId: string, story: Uint8Array): Promise<void> {
    const send = this.sends.get(sendId);
    if (send) send.story = story;
  }

  async append(sendId: string, entry: JournalEntry, update: { at: number; progress: SendProgress }): Promise<void> {
    const send = this.sends.get(sendId);
    if (!send) return;
    send.entries.push(entry);
    send.record = { ...send.record, updatedAt: update.at, progress: update.progress, events: send.entries.length };
  }

  async finish(sendId: string, end: { state: EndState; at: number; failure?: SendFailure }): Promise<void> {
    const send = this.sends.get(sendId);
    if (!send) return;
    send.record = {
      ...send.record,
      state: end.state,
      updatedAt: end.at,
      finishedAt: end.at,
      ...(end.failure ? { failure: end.failure } : {}),
    };
    send.recipients = undefined;
    send.story = undefined;
    send.entries = send.entries.map((e) => ({ event: e.event }));
    this.finished.set(sendId, true);
    for (const id of this.finished.keys()) {
      if (this.finished.size <= this.maxFinished) break;
      this.forget(id);
    }
  }

  async get(sendId: string): Promise<SendRecord | undefined> {
    return this.sends.get(sendId)?.record;
  }

  async events(sendId: string, from: number): Promise<SendEvent[]> {
    return (this.sends.get(sendId)?.entries ?? []).slice(from).map((e) => e.event);
  }

  async findByRequestId(requestId: string): Promise<SendRecord | undefined> {
    const sendId = this.requestIds.get(requestId);
    return sendId === undefined ? undefined : this.sends.get(sendId)?.record;
  }

  async list(query: SendQuery): Promise<SendRecord[]> {
    const { sessionId, state, after, limit } = query;
    return [...this.sends.values()]
      .map((s) => s.record)
      .filter((r) => (sessionId === undefined || r.sessionId === sessionId) && (state === undefined || r.state === state))
      .sort(newestFirst)
      .filter((r) => !after || newestFirst(r, after) > 0)
      .slice(0, limit + 1);
  }

  async sweep(finishedBy: number): Promise<number> {
    let swept = 0;
    for (const id of this.finished.keys()) {
      const at = this.sends.get(id)?.record.finishedAt ?? 0;
      // Finish order is time order on one clock, so the first one still in retention ends the sweep.
      if (at > finishedBy) break;
      this.forget(id);
      swept++;
    }
    return swept;
  }

  async unfinished(): Promise<string[]> {
    return [...this.sends.values()]
      .filter((s) => s.record.state === 'RUNNING')
      .sort((a, b) => -newestFirst(a.record, b.record))
      .map((s) => s.record.sendId);
  }

  async journal(sendId: string): Promise<SendJournal | undefined> {
    const send = this.sends.get(sendId);
    if (send?.record.state !== 'RUNNING' || !send.recipients) return undefined;
    return { record: send.record, recipients: send.recipients, entries: [...send.entries], ...(send.story ? { story: send.story } : {}) };
  }

  async close(): Promise<void> {}

  private forget(sendId: string): void {
    const record = this.sends.get(sendId)?.record;
    this.sends.delete(sendId);
    this.finished.delete(sendId);
    if (record?.requestId && this.requestIds.get(record.requestId) === sendId) this.requestIds.delete(record.requestId);
  }
}

/** Newest first by (createdAt, sendId): the order of list() and of its page tokens. */
export function newestFirst(a: { createdAt: number; sendId: string }, b: { createdAt: number; sendId: string }): number {
  return b.createdAt - a.createdAt || (a.sendId < b.sendId ? 1 : a.sendId > b.sendId ? -1 : 0);
}
