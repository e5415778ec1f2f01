/**
 * The receipt book: which recipients each status went to and what their
 * phones answered, kept for the status's 24 hours. It lives in memory and is
 * written behind to the Keyv store session memory uses, so it survives a
 * restart. Writes are per status and debounced (a 10,000-recipient status
 * brings ~20,000 receipts: a few writes, not one each), every store operation
 * is bounded in time, and a store that is down costs receipts, never a send.
 */
import type { Keyv } from 'keyv';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { createKeyv, sweepExpired } from '../memory/store.js';
import { StatusRecord } from './status-record.js';
import { serializeStatusesFast } from './serialize.js';
import { ReceiptStoreError, type ReceiptQueries, type ReceiptSink, type ReceiptsPage, type ReceiptTimes } from './types.js';

export const RECEIPTS_NAMESPACE = 'storycast:receipts';
/** WhatsApp shows a status for a day; its receipts are worth no more. */
export const STATUS_LIFETIME_MS = 24 * 60 * 60 * 1000;

export interface ReceiptBookOptions {
  readonly keyv: Keyv;
  readonly clock: Clock;
  readonly logger: Logger;
  /** From a status's creation. Default 24 h. */
  readonly ttlMs?: number;
  /** How long a status's changes gather before one write. Default 1000. */
  readonly flushDelayMs?: number;
  /** Real-time bound on each store operation. Default 2000. */
  readonly opTimeoutMs?: number;
  /** A written status untouched this long leaves memory (the store still has it). Default 10 min. */
  readonly idleMs?: number;
  /** How often expired and idle statuses are dropped and failed writes retried; 0 = never. Default 60 s. */
  readonly maintenanceIntervalMs?: number;
}

interface Entry {
  record: StatusRecord;
  /** Whether what the store held under this id (before a restart, say) has been folded in. */
  merged: boolean;
  /** Changes not yet written. */
  dirty: boolean;
  timer: NodeJS.Timeout | undefined;
  /** This status's store operations, one after another. */
  chain: Promise<void>;
  busy: number;
  touchedAt: number;
  warned: boolean;
}

export class ReceiptBook implements ReceiptSink, ReceiptQueries {
  private readonly keyv: Keyv;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly ttlMs: number;
  private readonly flushDelayMs: number;
  private readonly opTimeoutMs: number;
  private readonly idleMs: number;
  private readonly entries = new Map<string, Entry>();
  private readonly maintenance: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(options: ReceiptBookOptions) {
    this.keyv = options.keyv;
    this.clock = options.clock;
    this.logger = options.logger;
    this.ttlMs = options.ttlMs ?? STATUS_LIFETIME_MS;
    this.flushDelayMs = options.flushDelayMs ?? 1000;
    this.opTimeoutMs = options.opTimeoutMs ?? 2000;
    this.idleMs = options.idleMs ?? 10 * 60 * 1000;
    const every = options.maintenanceIntervalMs ?? 60_000;
    if (every > 0) {
      this.maintenance = setInterval(() => void this.maintain(), every);
      this.maintenance.unref();
    }
  }

  /** Statuses held in memory now. */
  get size(): number {
    return this.entries.size;
  }

  sent(sessionId: string, messageId: string, jids: readonly string[], options: { readonly created?: boolean } = {}): void {
    if (this.closed || !messageId || jids.length === 0) return;
    const entry = this.entryFor(sessionId, messageId, options.created === true);
    if (entry.record.markSent(jids)) this.changed(sessionId, messageId, entry);
  }

  receipt(sessionId: string, messageId: string, userJid: string, times: ReceiptTimes): void {
    if (this.closed || !messageId || !userJid) return;
    const entry = this.entryFor(sessionId, messageId, false);
    if (entry.record.markReceipt(userJid, times)) this.changed(sessionId, messageId, entry);
  }

  async page(sessionId: string, messageId: string, offset: number, limit: number): Promise<ReceiptsPage | null> {
    const key = keyOf(sessionId, messageId);
    let entry = this.live(key);
    if (entry && !entry.merged) {
      // Receipts that came in after a restart are only part of the story until the store's part is in.
      await this.serialize(entry, () => this.merge(sessionId, messageId, entry!)).catch((error: unknown) => {
        throw storeError(error);
      });
    }
    if (!entry) {
      const stored = await this.read(sessionId, messageId).catch((error: unknown) => {
        throw storeError(error);
      });
      if (!stored) return null;
      entry = this.live(key);
      if (entry && !entry.merged) {
        entry.record = entry.record.over(stored);
        entry.merged = true;
      } else if (!entry) {
        entry = this.newEntry(stored, true);
        this.entries.set(key, entry);
      }
    }
    entry.touchedAt = this.clock.now();
    const { record } = entry;
    const recipients = record.list(offset, limit);
    const next = offset + recipients.length;
    return {
      sessionId,
      messageId,
      createdAt: record.createdAt,
      expiresAt: record.createdAt + this.ttlMs,
      counts: record.counts,
      total: record.size,
      recipients,
      ...(next < record.size ? { nextOffset: next } : {}),
    };
  }

  /** Writes every pending change now. Never rejects. */
  async flush(): Promise<void> {
    const pending: Promise<void>[] = [];
    for (const [key, entry] of this.entries) {
      if (entry.dirty || entry.timer) pending.push(this.persist(key, entry));
      else pending.push(entry.chain);
    }
    await Promise.all(pending);
  }

  /** Drops expired and idle statuses from memory, retries failed writes, sweeps expired SQLite rows. */
  async maintain(): Promise<void> {
    const now = this.clock.now();
    for (const [key, entry] of this.entries) {
      if (this.expired(entry.record, now)) {
        clearTimeout(entry.timer);
        this.entries.delete(key);
      } else if (entry.dirty && !entry.timer && entry.busy === 0) {
        void this.persist(key, entry);
      } else if (!entry.dirty && entry.merged && entry.busy === 0 && !entry.timer && now - entry.touchedAt >= this.idleMs) {
        this.entries.delete(key);
      }
    }
    try {
      await this.op(sweepExpired(this.keyv), 'sweep');
    } catch (error) {
      this.logger.warn({ err: error }, 'receipts sweep failed');
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.maintenance);
    await this.flush();
    try {
      await this.op(this.keyv.disconnect(), 'disconnect');
    } catch (error) {
      this.logger.warn({ err: error }, 'receipts store did not disconnect cleanly');
    }
  }

  private entryFor(sessionId: string, messageId: string, created: boolean): Entry {
    const key = keyOf(sessionId, messageId);
    const now = this.clock.now();
    let entry = this.live(key, now);
    if (!entry) {
      entry = this.newEntry(new StatusRecord(sessionId, messageId, now), created);
      this.entries.set(key, entry);
    }
    // A receipt can beat the anchor's own answer here; the anchor still proves the id is new.
    if (created) entry.merged = true;
    entry.touchedAt = now;
    return entry;
  }

  private newEntry(record: StatusRecord, merged: boolean): Entry {
    return {
      record,
      merged,
      dirty: false,
      timer: undefined,
      chain: Promise.resolve(),
      busy: 0,
      touchedAt: this.clock.now(),
      warned: false,
    };
  }

  /** The entry in memory, unless its status has expired (then it is dropped). */
  private live(key: string, now = this.clock.now()): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry && this.expired(entry.record, now)) {
      clearTimeout(entry.timer);
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  private expired(record: StatusRecord, now: number): boolean {
    return record.createdAt + this.ttlMs <= now;
  }

  private changed(sessionId: string, messageId: string, entry: Entry): void {
    entry.dirty = true;
    if (entry.timer) return;
    // Unref'd: close() flushes, and a pending write must not keep a finished process alive.
    entry.timer = setTimeout(() => void this.persist(keyOf(sessionId, messageId), entry), this.flushDelayMs);
    entry.timer.unref();
  }

  private persist(key: string, entry: Entry): Promise<void> {
    clearTimeout(entry.timer);
    entry.timer = undefined;
    const { sessionId, messageId } = entry.record;
    return this.serialize(entry, () => this.write(entry)).catch((error: unknown) => {
      if (entry.warned) return;
      entry.warned = true;
      this.logger.warn(
        { err: error, sessionId, messageId, key },
        "receipts store write failed: this status's receipts may not survive a restart",
      );
    });
  }

  private serialize(entry: Entry, work: () => Promise<void>): Promise<void> {
    entry.busy++;
    const result = entry.chain.then(work).finally(() => entry.busy--);
    entry.chain = result.catch(() => undefined);
    return result;
  }

  private async write(entry: Entry): Promise<void> {
    if (!entry.merged) await this.merge(entry.record.sessionId, entry.record.messageId, entry);
    if (!entry.dirty) return;
    const { record } = entry;
    const ttl = record.createdAt + this.ttlMs - this.clock.now();
    entry.dirty = false;
    if (ttl <= 0) return;
    try {
      await this.op(this.keyv.set(keyOf(record.sessionId, record.messageId), record.toStored(), ttl), 'write');
    } catch (error) {
      entry.dirty = true;
      throw error;
    }
  }

  private async merge(sessionId: string, messageId: string, entry: Entry): Promise<void> {
    if (entry.merged) return;
    const stored = await this.read(sessionId, messageId);
    // Synchronous from here: whatever arrived while the store answered is in entry.record.
    if (stored) entry.record = entry.record.over(stored);
    entry.merged = true;
  }

  private async read(sessionId: string, messageId: string): Promise<StatusRecord | null> {
    const value: unknown = await this.op(this.keyv.get(keyOf(sessionId, messageId)), 'read');
    if (value === undefined || value === null) return null;
    const record = StatusRecord.fromStored(value);
    if (!record || record.sessionId !== sessionId || record.messageId !== messageId) {
      this.logger.warn({ sessionId, messageId }, 'ignoring malformed receipts in store');
      return null;
    }
    return this.expired(record, this.clock.now()) ? null : record;
  }

  private op<T>(work: Promise<T>, operation: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`receipts store: ${operation} did not complete within ${this.opTimeoutMs} ms`)),
        this.opTimeoutMs,
      );
    });
    return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
  }
}

/** Session ids are letters, digits, dot, dash and underscore: '/' cannot occur in one. */
function keyOf(sessionId: string, messageId: string): string {
  return `${sessionId}/${messageId}`;
}

function storeError(error: unknown): ReceiptStoreError {
  return new ReceiptStoreError(`receipts store unavailable: ${(error as Error).message}`, { cause: error });
}

/** The book over the store at `url` (the session memory's), under its own namespace. */
export function createReceiptBook(options: { url: string; clock: Clock; logger: Logger } & Partial<ReceiptBookOptions>): ReceiptBook {
  let keyv = options.keyv;
  if (!keyv) {
    keyv = createKeyv(options.url, { namespace: RECEIPTS_NAMESPACE, logger: options.logger });
    serializeStatusesFast(keyv);
  }
  return new ReceiptBook({ ...options, keyv });
}
