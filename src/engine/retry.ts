/**
 * The retries of the calls a send cannot go on without (preparing the story,
 * sending the anchor): up to maxAttempts tries, none after a fatal error, none
 * started once the send is cancelled. What a try is, and what happens between
 * two, belongs to the caller.
 */
import type { TransportError } from '../transport/port.js';

export type Attempt<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: TransportError };

export interface RetryOptions<T> {
  /** At least 1 (the config's minimum). */
  readonly maxAttempts: number;
  readonly signal: AbortSignal;
  /** One try, numbered from 1; `undefined` stops the retries as cancelled. */
  attempt(n: number): Promise<Attempt<T> | undefined>;
  /** Runs before another try follows a failed one; false stops the retries as cancelled. */
  beforeRetry?(error: TransportError): Promise<boolean>;
}

/** The first success; the last failure when every try failed or one was fatal; `undefined` when cancelled. */
export async function retry<T>({ maxAttempts, signal, attempt, beforeRetry }: RetryOptions<T>): Promise<Attempt<T> | undefined> {
  let last: TransportError | undefined;
  for (let n = 1; n <= maxAttempts; n++) {
    if (signal.aborted) return undefined;
    const result = await attempt(n);
    if (!result) return undefined;
    if (result.ok) return result;
    last = result.error;
    if (last.fatal || n === maxAttempts) break;
    if (beforeRetry && !(await beforeRetry(last))) return undefined;
  }
  return { ok: false, error: last! };
}
