/**
 * Session memory over Keyv. The store is an optimisation: every operation is
 * bounded in time and its failure only costs learning, never a send.
 */
import type { Keyv } from 'keyv';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import {
  emptyHistory,
  freshSendLearning,
  isExpired,
  parseSessionBatchHistory,
  recordBatch,
  type BatchRecord,
  type SendLearning,
  type SessionBatchHistory,
} from './history.js';
import { createKeyv, sweepExpired } from './store.js';
import type { SendRecorder, SessionMemory } from './types.js';

export interface KeyvSessionMemoryOptions {
  keyv: Keyv;
  ttlMs: number;
  clock: Clock;
  logger: Logger;
  /** Real-time bound on each store operation. Default 2000. */
  opTimeoutMs?: number;
  /** How often expired SQLite rows are swept; 0 disables the timer. Default 1 h. */
  sweepIntervalMs?: number;
}

class StoreTimeoutError extends Error {
  constructor(operation: string, ms: number) {
    super(`session memory store: ${operation} did not complete within ${ms} ms`);
    this.name = 'StoreTimeoutError';
  }
}

/**
 * The timer is deliberately ref'd: it is short and always cleared, and an
 * unref'd one could let a one-shot process exit in the middle of a flush.
 */
function withTimeout<T>(work: Promise<T>, ms: number, operation: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StoreTimeoutError(operation, ms)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

export class KeyvSessionMemory implements SessionMemory {
  readonly enabled = true;
  private readonly keyv: Keyv;
  private readonly ttlMs: number;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly opTimeoutMs: number;
  /** Tail of the write queue per session: writes to one key never interleave within this process. */
  private readonly locks = new Map<string, Promise<void>>();
  private sweeper: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(options: KeyvSessionMemoryOptions) {
    if (!(options.ttlMs > 0)) throw new RangeError(`ttlMs must be > 0, got ${options.ttlMs}`);
    this.keyv = options.keyv;
    this.ttlMs = options.ttlMs;
    this.clock = options.clock;
    this.logger = options.logger;
    this.opTimeoutMs = options.opTimeoutMs ?? 2000;
    const sweepIntervalMs = options.sweepIntervalMs ?? 60 * 60 * 1000;
    void this.sweep();
    if (sweepIntervalMs > 0) {
      this.sweeper = setInterval(() => void this.sweep(), sweepIntervalMs);
      this.sweeper.unref();
    }
  }

  async load(sessionId: string): Promise<SessionBatchHistory | null> {
    try {
      return await this.read(sessionId, 'load');
    } catch (error) {
      this.logger.warn({ err: error, sessionId }, 'session memory unavailable: sending without history');
      return null;
    }
  }

  begin(sessionId: string, loaded: SessionBatchHistory | null): SendRecorder {
    return new KeyvSendRecorder(this, sessionId, loaded);
  }

  inspect(sessionId: string): Promise<SessionBatchHistory | null> {
    return this.read(sessionId, 'inspect');
  }

  async reset(sessionId: string): Promise<boolean> {
    return this.withLock(sessionId, () => this.op(this.keyv.delete(sessionId), 'delete'));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    await Promise.allSettled([...this.locks.values()]);
    try {
      await this.op(this.keyv.disconnect(), 'disconnect');
    } catch (error) {
      this.logger.warn({ err: error }, 'session memory store did not disconnect cleanly');
    }
  }

  /** Removes expired rows now (SQLite only); resolves with how many. Never rejects. */
  async sweep(): Promise<number> {
    try {
      const removed = await this.op(sweepExpired(this.keyv), 'sweep');
      if (removed > 0) this.logger.debug({ removed }, 'swept expired session histories');
      return removed;
    } catch (error) {
      this.logger.warn({ err: error }, 'session memory sweep failed');
      return 0;
    }
  }

  /** @internal The stored, valid, unexpired history; throws on store failure or timeout. */
  async read(sessionId: string, operation: string): Promise<SessionBatchHistory | null> {
    const stored: unknown = await this.op(this.keyv.get(sessionId), operation);
    if (stored === undefined || stored === null) return null;
    const value = parseSessionBatchHistory(stored);
    if (!value || value.sessionId !== sessionId) {
      this.logger.warn({ sessionId }, 'ignoring malformed session history in store');
      return null;
    }
    if (isExpired(value, this.clock.now(), this.ttlMs)) return null;
    return value;
  }

  /** @internal Writes with a TTL counted from the last success, so failures never extend it. */
  async write(history: SessionBatchHistory): Promise<void> {
    const ttl = Math.max(1, history.lastSuccessfulSend + this.ttlMs - this.clock.now());
    await this.op(this.keyv.set(history.sessionId, history, ttl), 'write');
  }

  /** @internal Runs `fn` after every earlier locked operation on this session has settled. */
  withLock<T>(sessionId: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(sessionId) ?? Promise.resolve();
    const result = previous.then(fn);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.locks.set(sessionId, tail);
    void tail.then(() => {
      if (this.locks.get(sessionId) === tail) this.locks.delete(sessionId);
    });
    return result;
  }

  /** @internal */
  now(): number {
    return this.clock.now();
  }

  /** @internal */
  warn(obj: object, message: string): void {
    this.logger.warn(obj, message);
  }

  private op<T>(work: Promise<T>, operation: string): Promise<T> {
    return withTimeout(work, this.opTimeoutMs, operation);
  }
}

interface QueuedBatch {
  batch: BatchRecord;
  at: number;
}

/**
 * One send's batches. The local view follows the send alone; the store gets a
 * read-modify-write of the current stored value, so concurrent sends on the
 * same session add up instead of overwriting each other.
 */
class KeyvSendRecorder implements SendRecorder {
  private view: SessionBatchHistory | null;
  private viewLearning: SendLearning = freshSendLearning;
  /** The downgrade rule against the stored history, which may differ from the view. */
  private storeLearning: SendLearning = freshSendLearning;
  private queued: QueuedBatch[] = [];
  private drainScheduled = false;
  private drained: Promise<void> = Promise.resolve();
  private warned = false;

  constructor(
    private readonly memory: KeyvSessionMemory,
    private readonly sessionId: string,
    loaded: SessionBatchHistory | null,
  ) {
    this.view = loaded;
  }

  get history(): SessionBatchHistory | null {
    return this.view;
  }

  record(batch: BatchRecord): void {
    const at = this.memory.now();
    const applied = recordBatch(this.view ?? emptyHistory(this.sessionId, at), this.viewLearning, batch, at);
    this.view = applied.history;
    this.viewLearning = applied.learning;
    this.queued.push({ batch, at });
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    // Batches recorded while a write waits for the lock join it: one
    // read-modify-write per drain, so a slow store costs a few timeouts per
    // send rather than one per batch.
    // The session lock orders this drain after this recorder's earlier ones,
    // so waiting for the latest is waiting for all.
    this.drained = this.memory.withLock(this.sessionId, () => this.drain()).catch((error: unknown) => this.fail(error));
  }

  flush(): Promise<void> {
    return this.drained;
  }

  private async drain(): Promise<void> {
    this.drainScheduled = false;
    const batches = this.queued;
    this.queued = [];
    if (batches.length === 0) return;
    const first = batches[0]!;
    let history = (await this.memory.read(this.sessionId, 'read-before-write')) ?? emptyHistory(this.sessionId, first.at);
    let learning = this.storeLearning;
    for (const { batch, at } of batches) {
      ({ history, learning } = recordBatch(history, learning, batch, at));
    }
    // Kept even if the write fails: it may have landed (a timeout), and the
    // next drain re-reads the store anyway.
    this.storeLearning = learning;
    await this.memory.write(history);
  }

  private fail(error: unknown): void {
    if (this.warned) return;
    this.warned = true;
    this.memory.warn(
      { err: error, sessionId: this.sessionId },
      'session memory write failed: this send will not update the session history',
    );
  }
}

/** Learning off (SMART_SEND_ENABLE_LEARNING=false): remembers nothing. */
export class DisabledMemory implements SessionMemory {
  readonly enabled = false;

  async load(): Promise<SessionBatchHistory | null> {
    return null;
  }

  begin(): SendRecorder {
    return { record: () => undefined, history: null, flush: async () => undefined };
  }

  async inspect(): Promise<SessionBatchHistory | null> {
    return null;
  }

  async reset(): Promise<boolean> {
    return false;
  }

  async close(): Promise<void> {}
}

export interface CreateSessionMemoryOptions {
  url: string;
  enabled: boolean;
  ttlMs: number;
  clock: Clock;
  logger: Logger;
  namespace?: string;
  opTimeoutMs?: number;
  sweepIntervalMs?: number;
}

export function createSessionMemory(options: CreateSessionMemoryOptions): SessionMemory {
  if (!options.enabled) return new DisabledMemory();
  const keyv = createKeyv(options.url, {
    namespace: options.namespace ?? 'storycast:session-history',
    logger: options.logger,
  });
  return new KeyvSessionMemory({
    keyv,
    ttlMs: options.ttlMs,
    clock: options.clock,
    logger: options.logger,
    opTimeoutMs: options.opTimeoutMs,
    sweepIntervalMs: options.sweepIntervalMs,
  });
}
