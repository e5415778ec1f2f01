/**
 * Waiting for work that may outlive the wait: the caller stops waiting (an
 * abort, a deadline) while the work itself is left to settle on its own, so
 * its eventual rejection is always handled.
 */
import type { Clock } from '../clock.js';

/**
 * Settles with `work`, or rejects with the signal's reason as soon as it
 * aborts. `onAbort` runs just before that rejection (to stop the work, say),
 * and only when the wait is still on: never for an already-aborted signal.
 */
export function untilAborted<T>(work: Promise<T>, signal?: AbortSignal, onAbort?: () => void): Promise<T> {
  if (!signal) return work;
  work.catch(() => {});
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    // Removed in the same turn the work settles: a caller that aborts right after must not reach onAbort.
    const stopListening = () => signal.removeEventListener('abort', abort);
    const abort = () => {
      onAbort?.();
      reject(signal.reason);
    };
    signal.addEventListener('abort', abort, { once: true });
    work.then(
      (value) => {
        stopListening();
        resolve(value);
      },
      (error: unknown) => {
        stopListening();
        reject(error);
      },
    );
  });
}

/** Stops a deadline's timer; shared, as abort() without a reason makes a new DOMException (stack and all) each time. */
const WAIT_OVER = new DOMException('the wait is over', 'AbortError');

/**
 * Settles with `work`, or rejects with what `expired` gives once `ms` pass on
 * `clock` first. `expired` may be async, to hear the work out before it
 * decides; the work keeps running either way, and the timer never outlives
 * the wait.
 */
export async function withinDeadline<T>(clock: Clock, ms: number, work: Promise<T>, expired: () => unknown): Promise<T> {
  work.catch(() => {});
  const stop = new AbortController();
  const deadline = clock.sleep(ms, stop.signal).then(async () => {
    throw await expired();
  });
  deadline.catch(() => {});
  try {
    return await Promise.race([work, deadline]);
  } finally {
    stop.abort(WAIT_OVER);
  }
}
