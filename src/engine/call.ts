/**
 * One transport call under the batch timeout. The call gets its own signal,
 * aborted when the timeout fires; the caller's cancellation is deliberately
 * not wired in, because a batch already on the wire is allowed to finish.
 */
import type { Clock } from '../clock.js';
import { asTransportError, TransportError } from '../transport/port.js';
import { withinDeadline } from '../util/abort.js';

export type CallResult<T> =
  | { readonly ok: true; readonly value: T; readonly durationMs: number }
  | { readonly ok: false; readonly error: TransportError; readonly durationMs: number };

/**
 * Why a call's signal aborts once the call has settled (what it set up on the
 * signal can go). One for all calls: abort() without a reason makes a new
 * DOMException, stack and all, every time.
 */
const CALL_OVER = new DOMException('the call has settled', 'AbortError');

export async function callWithTimeout<T>(
  clock: Clock,
  timeoutMs: number,
  call: (signal: AbortSignal) => Promise<T>,
): Promise<CallResult<T>> {
  const controller = new AbortController();
  const started = clock.now();
  // Made only when the deadline passes: an Error's stack costs more than most simulated calls.
  let timeout: TransportError | undefined;
  let work: Promise<T>;
  try {
    work = call(controller.signal);
  } catch (error) {
    work = Promise.reject(error);
  }
  try {
    const value = await withinDeadline(clock, timeoutMs, work, () => {
      timeout = new TransportError('TIMEOUT', `no answer within ${timeoutMs} ms`);
      controller.abort(timeout);
      return ownReason(work, timeout);
    });
    return { ok: true, value, durationMs: clock.now() - started };
  } catch (error) {
    const failure = error !== undefined && error === timeout ? timeout : asTransportError(error);
    return { ok: false, error: failure, durationMs: clock.now() - started };
  } finally {
    if (!controller.signal.aborted) controller.abort(CALL_OVER);
  }
}

/**
 * What the call itself says once told to stop. A transport that knows why it
 * was still waiting (for a reconnect, say: DISCONNECTED) answers the abort at
 * once with that; its word beats a bare TIMEOUT, which strategies read as
 * "batch too big". One event-loop turn is all it gets.
 */
async function ownReason(work: Promise<unknown>, timeout: TransportError): Promise<TransportError> {
  const turn = new Promise<undefined>((resolve) => setImmediate(() => resolve(undefined)));
  const said = await Promise.race([
    work.then(
      () => undefined,
      (error: unknown) => error,
    ),
    turn,
  ]);
  return said instanceof TransportError && said.code !== 'TIMEOUT' ? said : timeout;
}
