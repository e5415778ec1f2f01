/**
 * Where sends are kept: their request, state and append-only event log. The
 * registry (registry.ts) owns the running sends of this process and writes
 * through this interface only, so a durable journal (SQLite, Redis) can stand
 * in for the in-memory one to let sends be watched across restarts and resumed.
 * Every method may be asynchronous for that reason; the registry never assumes
 * a write has landed before its promise settles.
 */
import type { SendEvent } from '../engine/events.js';

export type SendState = 'RUNNING' | 'SUCCEEDED' | 'CANCELLED' | 'FAILED';

/** Why a send ended before its summary: what the caller of SendStory would have seen. */
export interface SendFailure {
  /** An ErrorInfo-style reason such as ANCHOR_FAILED. */
  readonly reason: string;
  readonly message: string;
  /** The error itself, to surface unchanged to watchers; a durable journal rebuilds one from reason and message. */
  readonly error: unknown;
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
  state: SendState;
  updatedAt: number;
  /** Set when the send ended: when the retention starts counting. */
  finishedAt?: number;
  failure?: SendFailure;
  /** Every event, numbered from 0 (planned) by position; only ever appended to. */
  readonly events: SendEvent[];
}

export interface SendQuery {
  readonly sessionId?: string;
  readonly state?: SendState;
  /** Newest first; only sends strictly after this (createdAt, sendId) in that order. */
  readonly after?: { readonly createdAt: number; readonly sendId: string };
  readonly limit: number;
}

export interface SendStore {
  /** A new send with its first event already in `events`. */
  create(record: SendRecord): Promise<void>;
  append(sendId: string, event: SendEvent, at: number): Promise<void>;
  finish(sendId: string, end: { state: Exclude<SendState, 'RUNNING'>; at: number; failure?: SendFailure }): Promise<void>;
  get(sendId: string): Promise<SendRecord | undefined>;
  findByRequestId(requestId: string): Promise<SendRecord | undefined>;
  /** Matching sends, newest first, up to limit + 1 (so the caller knows whether there is more). */
  list(query: SendQuery): Promise<SendRecord[]>;
  /** Forgets sends that finished at or before `finishedBy`; returns how many. */
  sweep(finishedBy: number): Promise<number>;
}

/**
 * The store for one process: records (events included) live in a Map until the
 * sweep. Finished sends beyond `maxFinished` are forgotten oldest-finished first,
 * so a burst of sends cannot hold memory for the whole retention.
 */
export class MemorySendStore implements SendStore {
  private readonly records = new Map<string, SendRecord>();
  private readonly requestIds = new Map<string, string>();
  /** Finished send ids in the order they finished (a Map keeps insertion order). */
  private readonly finished = new Map<string, true>();

  constructor(private readonly maxFinished = 10_000) {}

  async create(record: SendRecord): Promise<void> {
    this.records.set(record.sendId, record);
    if (record.requestId) this.requestIds.set(record.requestId, record.sendId);
  }

  async append(sendId: string, event: SendEvent, at: number): Promise<void> {
    const record = this.records.get(sendId);
    if (!record) return;
    record.events.push(event);
    record.updatedAt = at;
  }

  async finish(sendId: string, end: { state: Exclude<SendState, 'RUNNING'>; at: number; failure?: SendFailure }): Promise<void> {
    const record = this.records.get(sendId);
    if (!record) return;
    record.state = end.state;
    record.updatedAt = end.at;
    record.finishedAt = end.at;
    if (end.failure) record.failure = end.failure;
    this.finished.set(sendId, true);
    for (const id of this.finished.keys()) {
      if (this.finished.size <= this.maxFinished) break;
      this.forget(id);
    }
  }

  async get(sendId: string): Promise<SendRecord | undefined> {
    return this.records.get(sendId);
  }

  async findByRequestId(requestId: string): Promise<SendRecord | undefined> {
    const sendId = this.requestIds.get(requestId);
    return sendId === undefined ? undefined : this.records.get(sendId);
  }

  async list(query: SendQuery): Promise<SendRecord[]> {
    const { sessionId, state, after, limit } = query;
    return [...this.records.values()]
      .filter((r) => (sessionId === undefined || r.sessionId === sessionId) && (state === undefined || r.state === state))
      .sort(newestFirst)
      .filter((r) => !after || newestFirst(r, after) > 0)
      .slice(0, limit + 1);
  }

  async sweep(finishedBy: number): Promise<number> {
    let swept = 0;
    for (const id of this.finished.keys()) {
      const at = this.records.get(id)?.finishedAt ?? 0;
      // Finish order is time order on one clock, so the first one still in retention ends the sweep.
      if (at > finishedBy) break;
      this.forget(id);
      swept++;
    }
    return swept;
  }

  private forget(sendId: string): void {
    const record = this.records.get(sendId);
    this.records.delete(sendId);
    this.finished.delete(sendId);
    if (record?.requestId && this.requestIds.get(record.requestId) === sendId) this.requestIds.delete(record.requestId);
  }
}

function newestFirst(a: { createdAt: number; sendId: string }, b: { createdAt: number; sendId: string }): number {
  return b.createdAt - a.createdAt || (a.sendId < b.sendId ? 1 : a.sendId > b.sendId ? -1 : 0);
}
