/**
 * A send running in this process, as the registry keeps it, and how its
 * journal writes are made: tried again while the store is down (the send
 * waits meanwhile), never again once a newer owner fenced the session.
 */
import type { Clock } from '../clock.js';
import type { SendEvent } from '../engine/events.js';
import type { Logger } from '../log.js';
import { FencedError } from '../replicas/leases.js';
import type { Deferred } from '../util/deferred.js';
import type { SendProgress } from './store.js';
import type { ObservedSend } from './registry-types.js';

export interface LiveSend {
  /** From its planned event: whose lease its writes carry. */
  readonly sessionId: string;
  readonly controller: AbortController;
  /** What the send runs on: aborted by its controller, and by the drain of a shutdown. */
  readonly signal: AbortSignal;
  holders: number;
  continueAsked: boolean;
  /** Stopping for a restart: what follows the call in flight is left in the journal for the next process. */
  suspended: boolean;
  changed: Deferred;
  /** The whole log, in memory while it runs here, so watchers do not read the store per event. */
  readonly events: SendEvent[];
  /** What observers are told of it (see RegistryOptions.observe). */
  readonly observed: ObservedSend;
  progress: SendProgress;
}

/** Between attempts at a journal write that failed: the send waits (sends nothing) meanwhile. */
const WRITE_RETRY_MS = [250, 1000, 5000, 15_000] as const;

/**
 * A journal write, tried again while the store is down: the send waits
 * meanwhile, since going on would send what the journal cannot record. A
 * stopped send gives up after a few attempts (the write is then lost, and
 * the send resumes from before it).
 */
export async function writeJournal(live: LiveSend, deps: { clock: Clock; logger: Logger }, write: () => Promise<void>): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await write();
    } catch (error) {
      if (error instanceof FencedError) {
        // A newer owner has the session: nothing more of this send is ours to send or to record.
        live.suspended = true;
        live.controller.abort(error);
        throw error;
      }
      if (live.signal.aborted && attempt >= WRITE_RETRY_MS.length) throw error;
      const waitMs = WRITE_RETRY_MS[Math.min(attempt, WRITE_RETRY_MS.length - 1)]!;
      deps.logger.warn({ err: error, attempt: attempt + 1, waitMs }, 'send journal write failed; the send waits for it');
      await deps.clock.sleep(waitMs);
    }
  }
}
