/** A promise resolved from outside, and a wait on one that a signal can cut short. */

export interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
}

export function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Waits for `changed`; false when the signal aborted first. */
export function until(changed: Promise<void>, signal?: AbortSignal): Promise<boolean> {
  if (!signal) return changed.then(() => true);
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => resolve(false);
    signal.addEventListener('abort', onAbort, { once: true });
    changed.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    });
  });
}
