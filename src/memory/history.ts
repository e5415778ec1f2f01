/**
 * What a WhatsApp session has proven (the seed's SessionBatchHistory) and the
 * pure rules that update it after each transport call. Storage lives in
 * keyv-memory.ts and store.ts; this file has no I/O so the rules are testable alone.
 */

export interface SessionBatchHistory {
  readonly sessionId: string;
  /** Largest batch that succeeded (lowered after a failure at or above it: see recordBatch). */
  readonly maxProvenBatchSize: number;
  /** When a batch last succeeded, ms on the memory's clock. The TTL counts from here. */
  readonly lastSuccessfulSend: number;
  /** Successful transport calls (batches) on this session. */
  readonly totalSuccessfulSends: number;
  /** All transport calls recorded, successful or not: the denominator of successRate. */
  readonly totalAttempts: number;
  /** EMA of successful batch durations (0.8 old, 0.2 new), ms. */
  readonly averageBatchTime: number;
  /** totalSuccessfulSends / totalAttempts. */
  readonly successRate: number;
  /**
   * Smallest batch that failed on size at or above the proven size of its time,
   * 0 when none: the limit a send ran into, kept apart from what succeeded. Without it a proven
   * size cannot tell "the most this session takes" from "the most it was sent"
   * (a short list proves only its own length). Cleared when a batch at or above
   * it succeeds. Stored entries from before it existed read as 0.
   */
  readonly minFailedBatchSize: number;
  /**
   * The call rate (calls per second) the engine's rate control settled on
   * below maxBatchesPerSecond after WhatsApp refused calls for their rate; the
   * next send starts there instead of running into the limit again. Absent
   * when none was learned or the rate recovered to the maximum; entries stored
   * before it existed have none.
   */
  readonly learnedCallsPerSecond?: number;
  /** When learnedCallsPerSecond was last set, ms on the memory's clock; absent with it. */
  readonly callRateLearnedAt?: number;
}

/** One transport call, as memory needs it. */
export interface BatchRecord {
  readonly size: number;
  readonly durationMs: number;
  readonly ok: boolean;
  /**
   * False for failures that say nothing about size (a rate limit): those count
   * against successRate but never lower the proven size.
   */
  readonly sizeRelated: boolean;
  /**
   * The session's call rate after this call, as the engine's rate control left
   * it: 0 when at the configured maximum (nothing learned below it), absent
   * when the caller does not know (the rate stays as remembered).
   */
  readonly callsPerSecond?: number;
}

/** Per-send state of the downgrade rule. */
export interface SendLearning {
  /** A failure at or above the proven size happened and no batch has succeeded since. */
  readonly downgradePending: boolean;
}

export const freshSendLearning: SendLearning = { downgradePending: false };

export function emptyHistory(sessionId: string, now: number): SessionBatchHistory {
  return {
    sessionId,
    maxProvenBatchSize: 0,
    lastSuccessfulSend: now,
    totalSuccessfulSends: 0,
    totalAttempts: 0,
    averageBatchTime: 0,
    successRate: 1,
    minFailedBatchSize: 0,
  };
}

/** True when history is older than the TTL (counted from the last success) and must be ignored. */
export function isExpired(history: SessionBatchHistory, now: number, ttlMs: number): boolean {
  return now - history.lastSuccessfulSend > ttlMs;
}

/**
 * Applies one batch to the history.
 * - A success raises maxProvenBatchSize; a failure never raises it.
 * - A size-related failure at or above the proven size is a limit found:
 *   minFailedBatchSize keeps the smallest; a success at or above it clears it.
 * - A size-related failure at or above the proven size marks a downgrade: the
 *   next success in this send sets the proven size to its own size, and later
 *   successes raise it again as usual. So after the send the proven size is the
 *   largest size that succeeded after the failure (seed scenario 3: 5000 fails,
 *   2000 and 4000 succeed, proven becomes 4000).
 * - The EMA starts from the first sample rather than from 0, which the seed's
 *   sketch would have dragged toward zero for its first few batches.
 */
export function recordBatch(
  previous: SessionBatchHistory,
  learning: SendLearning,
  batch: BatchRecord,
  now: number,
): { history: SessionBatchHistory; learning: SendLearning } {
  const totalAttempts = previous.totalAttempts + 1;
  if (!batch.ok) {
    const totalSuccessfulSends = previous.totalSuccessfulSends;
    const atOrAbove = batch.sizeRelated && batch.size >= previous.maxProvenBatchSize;
    const marks = atOrAbove && previous.maxProvenBatchSize > 0;
    const minFailedBatchSize = atOrAbove
      ? previous.minFailedBatchSize > 0
        ? Math.min(previous.minFailedBatchSize, batch.size)
        : batch.size
      : previous.minFailedBatchSize;
    return {
      history: withCallRate(
        { ...previous, totalAttempts, successRate: totalSuccessfulSends / totalAttempts, minFailedBatchSize },
        batch.callsPerSecond,
        now,
      ),
      learning: marks ? { downgradePending: true } : learning,
    };
  }
  const totalSuccessfulSends = previous.totalSuccessfulSends + 1;
  const maxProvenBatchSize = learning.downgradePending ? batch.size : Math.max(previous.maxProvenBatchSize, batch.size);
  const averageBatchTime =
    previous.totalSuccessfulSends === 0 ? batch.durationMs : previous.averageBatchTime * 0.8 + batch.durationMs * 0.2;
  const cleared = previous.minFailedBatchSize > 0 && batch.size >= previous.minFailedBatchSize;
  return {
    history: withCallRate(
      {
        ...previous,
        maxProvenBatchSize,
        minFailedBatchSize: cleared ? 0 : previous.minFailedBatchSize,
        lastSuccessfulSend: now,
        totalSuccessfulSends,
        totalAttempts,
        averageBatchTime,
        successRate: totalSuccessfulSends / totalAttempts,
      },
      batch.callsPerSecond,
      now,
    ),
    learning: freshSendLearning,
  };
}

/** The learned call rate after a call: kept when unknown, set when it moved, dropped once back at the maximum. */
function withCallRate(history: SessionBatchHistory, callsPerSecond: number | undefined, now: number): SessionBatchHistory {
  if (callsPerSecond === undefined || callsPerSecond === history.learnedCallsPerSecond) return history;
  const { learnedCallsPerSecond: _rate, callRateLearnedAt: _at, ...rest } = history;
  return callsPerSecond > 0 ? { ...rest, learnedCallsPerSecond: callsPerSecond, callRateLearnedAt: now } : rest;
}

/**
 * A value read from a store as history, or null when it is not one (treated as
 * no history). Entries written before minFailedBatchSize existed read as 0,
 * and before learnedCallsPerSecond as having none. A learned rate that is not
 * a positive number is dropped rather than costing the rest of the history.
 */
export function parseSessionBatchHistory(value: unknown): SessionBatchHistory | null {
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Record<string, unknown>;
  const valid =
    typeof v.sessionId === 'string' &&
    ['maxProvenBatchSize', 'lastSuccessfulSend', 'totalSuccessfulSends', 'totalAttempts', 'averageBatchTime', 'successRate'].every(
      (k) => typeof v[k] === 'number' && Number.isFinite(v[k]),
    ) &&
    (v.minFailedBatchSize === undefined || (typeof v.minFailedBatchSize === 'number' && Number.isFinite(v.minFailedBatchSize)));
  if (!valid) return null;
  const { learnedCallsPerSecond: rate, callRateLearnedAt: at, ...rest } = v;
  const learned =
    typeof rate === 'number' && Number.isFinite(rate) && rate > 0
      ? { learnedCallsPerSecond: rate, callRateLearnedAt: typeof at === 'number' && Number.isFinite(at) ? at : 0 }
      : {};
  return { minFailedBatchSize: 0, ...rest, ...learned } as unknown as SessionBatchHistory;
}
