import type { BatchRecord, SessionBatchHistory } from './history.js';

/**
 * Session memory as the engine sees it. Every method is safe to call with the
 * store down: reads give null, writes are dropped, both are logged. Learning
 * degrades; a send never fails because of memory.
 */
export interface SessionMemory {
  /** Whether memory is on at all (SMART_SEND_ENABLE_LEARNING). */
  readonly enabled: boolean;
  /** The session's unexpired history, or null (none, expired, learning off, or store down). */
  load(sessionId: string): Promise<SessionBatchHistory | null>;
  /** Starts recording one send's batches, starting from the history `load` returned. */
  begin(sessionId: string, loaded: SessionBatchHistory | null): SendRecorder;
  /** The session's unexpired history for an operator; unlike `load`, throws when the store is down. */
  inspect(sessionId: string): Promise<SessionBatchHistory | null>;
  /** Forgets a session. Resolves false when there was nothing to forget. Throws if the store is down. */
  reset(sessionId: string): Promise<boolean>;
  close(): Promise<void>;
}

/** Records one send. Writes go to the store in order, in the background. */
export interface SendRecorder {
  /** Applies a batch to the local view at once and queues the store write. Never throws. */
  record(batch: BatchRecord): void;
  /** The history as this send sees it after the batches recorded so far (null before any, without loaded history). */
  readonly history: SessionBatchHistory | null;
  /** Waits for every queued write. Never rejects. */
  flush(): Promise<void>;
}
