/**
 * What a send reports, in order: one `planned`, one `anchor`, one `batch` per
 * transport call after the anchor, one `summary`. The gRPC layer translates
 * these one to one; the CLI and the benchmark read them directly.
 */
import type { Speed } from '../../strategies/sdk.js';
import type { InvalidRecipient } from '../recipients.js';
import type { TransportErrorCode } from '../transport/port.js';

interface RecipientSources {
  readonly request: number;
  readonly list: number;
  readonly contacts: number;
}

export interface PlannedEvent {
  readonly type: 'planned';
  readonly sendId: string;
  readonly sessionId: string;
  readonly strategy: string;
  /** `single`: fewer than minRecipientsForSmartSend, one plain call; `smart`: anchor + adaptive batches. */
  readonly mode: 'single' | 'smart';
  /** Valid, unique recipients. */
  readonly total: number;
  /** How many valid, unique recipients the request, the saved list and the contacts each named (absent in journals from before them). */
  readonly sources?: RecipientSources;
  readonly invalid: readonly InvalidRecipient[];
  readonly duplicates: number;
  /** The session had unexpired history with a proven size. */
  readonly usedHistory: boolean;
  readonly provenSize: number;
  /** Size of the first call after the anchor (in `single` mode: of the one call). */
  readonly firstBatchSize: number;
  readonly reason: string;
  /** Why this strategy: named by the request, an experiment's arm, the default... */
  readonly strategyReason?: string;
  /** The experiment and arm the send is counted for, when an experiment chose the strategy. */
  readonly experiment?: string;
  readonly arm?: string;
  /** The experiment's unit the send was assigned by. */
  readonly unit?: string;
  /** Where its session memory lives when not under the session id (see StrategyChoice). */
  readonly memoryKey?: string;
}

export interface AnchorEvent {
  readonly type: 'anchor';
  readonly messageId: string;
  /** 1 in smart mode; everyone in single mode. */
  readonly recipients: number;
  readonly durationMs: number;
  /** Calls it took (retries included). */
  readonly attempts: number;
}

export interface BatchError {
  readonly code: TransportErrorCode;
  readonly message: string;
  readonly retryable: boolean;
  /** WhatsApp's own code (e.g. 479 from an error ack), when it gave one. */
  readonly whatsappCode?: number;
}

export interface BatchEvent {
  readonly type: 'batch';
  /** 0-based, counting calls after the anchor. */
  readonly index: number;
  /**
   * True on a second event for an earlier index: that call was given up on,
   * then its ack came after all. `size` recipients were delivered by it and
   * are not sent again; `durationMs` is from the call's start to that ack.
   */
  readonly late?: boolean;
  readonly size: number;
  /** Recipients WhatsApp refused one by one in a call that otherwise worked; they are retried. */
  readonly refused?: number;
  /** Of durationMs, one-off setup for recipients never sent to before; strategies and memory were given the rest. */
  readonly setupMs?: number;
  readonly durationMs: number;
  readonly ok: boolean;
  readonly error?: BatchError;
  readonly speed: Speed;
  readonly delivered: number;
  readonly failed: number;
  readonly remaining: number;
  /** The strategy's next size after the engine's clamps; 0 when nothing remains. */
  readonly nextSize: number;
  readonly reason: string;
}

export interface FailedRecipient {
  readonly recipient: string;
  readonly code: TransportErrorCode | 'CANCELLED';
  readonly reason: string;
}

export interface SummaryEvent {
  readonly type: 'summary';
  readonly sendId: string;
  /** Empty only when the send was cancelled before the anchor went out. */
  readonly messageId: string;
  readonly total: number;
  readonly delivered: number;
  readonly failed: readonly FailedRecipient[];
  readonly invalid: number;
  /** Calls after the anchor. */
  readonly batches: number;
  /** Size of every call after the anchor, failed ones included. */
  readonly batchSequence: readonly number[];
  readonly totalDurationMs: number;
  /** Why the send stopped early: a fatal transport code, or CANCELLED. */
  readonly stoppedBy?: TransportErrorCode | 'CANCELLED';
  readonly learning: {
    readonly maxProvenBatchSize: number;
    readonly usedHistoricalData: boolean;
    readonly willSkipRampingNextTime: boolean;
  };
}

export type SendEvent = PlannedEvent | AnchorEvent | BatchEvent | SummaryEvent;
