/** What the send registry (registry.ts) is given and gives back. */
import type { AnyStrategy } from '../../strategies/sdk.js';
import type { Clock } from '../clock.js';
import type { SendEngine, SendInput } from '../engine/engine.js';
import type { PlannedEvent, SendEvent } from '../engine/events.js';
import type { Logger } from '../log.js';
import type { Fence, SendRecord, SendStore } from './store.js';

/** What keeps count of running sends for shutdown (the server's RunningSends). */
interface SendTracker {
  start(signal: AbortSignal): { signal: AbortSignal; done: () => void };
}

export interface StartRequest {
  readonly input: Omit<SendInput, 'signal'>;
  /** '' for none: every such start is a new send. */
  readonly requestId: string;
  readonly fingerprint: string;
}

/**
 * CANCEL: the send is cancelled once every CANCEL caller attached to it has gone
 * away, unless some caller asked for CONTINUE. CONTINUE: the send outlives its callers.
 */
export type DisconnectMode = 'cancel' | 'continue';

export interface Attachment {
  readonly sendId: string;
  /** Ends this caller's hold on the send; `gone` when it left before the end. Idempotent. */
  release(gone: boolean): void;
}

export interface RegistryOptions {
  readonly engine: Pick<SendEngine, 'journaled' | 'resume'>;
  /** The strategy a resumed send goes on with, by the name its journal gives; undefined when not offered any more. */
  readonly strategyNamed?: (name: string) => AnyStrategy | undefined;
  readonly store: SendStore;
  readonly clock: Clock;
  readonly retentionMs: number;
  readonly tracker?: SendTracker;
  readonly logger?: Logger;
  /**
   * Told once when a send has ended and its end is in the journal, with its
   * whole log (experiments record their outcome here). Never throws into the
   * send: a rejection is logged.
   */
  readonly onEnd?: (send: { record: SendRecord; events: readonly SendEvent[] }) => Promise<void>;
  /**
   * Replicas on one journal: a session's sends run only where its lease is
   * held (claim: false when another replica holds it), and every journal
   * write carries that lease's fence. Absent for one process.
   */
  readonly ownership?: {
    claim(sessionId: string): Promise<boolean>;
    fence(sessionId: string): Fence | undefined;
  };
  /**
   * Told of each event as a send in this process makes it (not those replayed
   * from the journal when a send resumes here): metrics and traces watch sends
   * through it. Synchronous and must not throw: it runs in the send's path.
   */
  readonly observe?: SendObserver;
  /** Real-time period of the background sweep (unref'd); 0 for none. Default: min(retention, 1 h). */
  readonly sweepEveryMs?: number;
  /** Sends given an id before they start (scheduled ones): read, cancelled and waited for through here. */
  readonly pending?: PendingSends;
}

/**
 * Sends known by id before the journal has them: a scheduled send is
 * SCHEDULED until it starts, then the journal's; one cancelled or failed
 * before it started stays here, ended, with no events.
 */
export interface PendingSends {
  get(sendId: string): Promise<SendRecord | undefined>;
  /** Cancels it if it has not started; the record as it is after. */
  cancel(sendId: string): Promise<SendRecord | undefined>;
  /** Resolves when it may have started or ended (or the signal aborts): the caller reads it again. */
  waitForStart(sendId: string, signal?: AbortSignal): Promise<void>;
}

/** What an observer knows of the send an event belongs to. */
export interface ObservedSend {
  readonly sendId: string;
  /** Its first event: session, strategy, experiment and arm. */
  readonly planned: PlannedEvent;
  /** Resumed in this process from the journal (a crash, a restart, a failover). */
  readonly resumed: boolean;
}

export type SendObserver = (send: ObservedSend, event: SendEvent) => void;
