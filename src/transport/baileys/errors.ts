/**
 * Everything Baileys throws or acks, as a TransportError the engine and the
 * strategies understand. Pure: no socket, no clock.
 *
 * Shapes this reads (Baileys 6.17, lib/):
 * - Boom errors: `output.statusCode` (DisconnectReason values: 408 timed out /
 *   connection lost, 428 connection closed, 401 logged out, 403 forbidden) and
 *   `data`. Query errors from the server (WABinary assertNodeErrorFree) keep the
 *   default statusCode 500 and put the server's numeric code in `data`, with the
 *   server's text as the message: rate limiting is `Boom('rate-overlimit', { data: 429 })`.
 * - A stanza too large for the noise frame (3-byte length, < 16 MiB) fails in
 *   Utils/noise-handler encodeFrame with Node's RangeError ERR_OUT_OF_RANGE; the
 *   binary encoder throws 'string too large to encode'.
 * - Error acks: `<ack class="message" error="479" .../>`, the code as a string.
 */
import { TransportError, asTransportError } from '../port.js';

/** No hint ever comes with rate-overlimit, so wait long enough for WhatsApp's window to move. */
export const DEFAULT_RATE_LIMIT_RETRY_MS = 5_000;

interface BoomLike {
  readonly isBoom: true;
  readonly message: string;
  readonly data?: unknown;
  readonly output: { readonly statusCode: number; readonly headers?: Record<string, unknown> };
}

function isBoom(error: unknown): error is BoomLike {
  return typeof error === 'object' && error !== null && (error as { isBoom?: unknown }).isBoom === true;
}

/** Stanza too large. Reported as TIMEOUT on purpose: strategies read timeouts as "batch too big" and shrink. */
function isTooLarge(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return (error as { code?: unknown }).code === 'ERR_OUT_OF_RANGE' || /too large/i.test(error.message);
}

function retryAfterMs(boom: BoomLike): number {
  const header = boom.output.headers?.['retry-after'] ?? boom.output.headers?.['Retry-After'];
  const seconds = typeof header === 'string' || typeof header === 'number' ? Number(header) : Number.NaN;
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : DEFAULT_RATE_LIMIT_RETRY_MS;
}

/** The server's code: a query error's `data` when numeric, else the status code. */
function serverCode(boom: BoomLike): number {
  if (typeof boom.data === 'number' && Number.isFinite(boom.data)) return boom.data;
  return boom.output.statusCode;
}

export function classifyBaileysError(error: unknown): TransportError {
  if (error instanceof TransportError) return error;
  if (isTooLarge(error)) {
    return new TransportError('TIMEOUT', `stanza too large for one call: ${(error as Error).message}`, undefined, { cause: error });
  }
  if (!isBoom(error)) return asTransportError(error);
  const status = error.output.statusCode;
  const code = serverCode(error);
  const text = error.message || 'baileys error';
  // Only a query error's `data` is WhatsApp's own code; a bare status code is Baileys' DisconnectReason.
  const opts = { cause: error, ...(typeof error.data === 'number' ? { whatsappCode: code } : {}) };
  if (code === 429 || status === 429 || /rate-overlimit/i.test(text)) {
    return new TransportError('RATE_LIMITED', `rate limited by WhatsApp (${text})`, retryAfterMs(error), opts);
  }
  if (status === 401 || code === 401) return new TransportError('LOGGED_OUT', `logged out (${text})`, undefined, opts);
  if (status === 403 || code === 403) return new TransportError('FORBIDDEN', `forbidden (${text})`, undefined, opts);
  // 408 is both "timed out" and "connection lost" in DisconnectReason. A lost connection reaches a
  // waiting call as a close (acks.ts: DISCONNECTED); a 408 thrown by relayMessage is a query or a
  // write that took too long, which may well be the batch's size.
  if (status === 408 || code === 408) return new TransportError('TIMEOUT', `timed out (${text})`, undefined, opts);
  if (status === 428) {
    // The socket is gone: nothing about the batch. The session manager reconnects and the batch goes again.
    return new TransportError('DISCONNECTED', `connection closed, retry after reconnect (${text})`, undefined, opts);
  }
  return new TransportError('SEND_FAILED', `${text} (${code})`, undefined, opts);
}

/**
 * An `<ack error=…>` for a relayed status. 479 and friends mean the server
 * refused this stanza: the batch failed but may be retried. A 429 ack is
 * treated as rate limiting, in case the server ever answers that way.
 *
 * 479 from an account WhatsApp has moved to LID addressing, before any status
 * from it was accepted on this connection, is different: the server refuses
 * every status Baileys 6.17 addresses by phone number there
 * (WhiskeySockets/Baileys#2794), so retrying only spends attempts. It stops
 * the send and says why. Once a status went through, a 479 is this stanza's.
 */
export function classifyAckError(code: string, account: { lid?: string | undefined; statusAccepted?: boolean } = {}): TransportError {
  const numeric = Number(code.trim());
  const whatsappCode = Number.isInteger(numeric) ? numeric : undefined;
  const opts = whatsappCode === undefined ? {} : { whatsappCode };
  if (whatsappCode === 429) {
    return new TransportError('RATE_LIMITED', 'rate limited by WhatsApp (ack error 429)', DEFAULT_RATE_LIMIT_RETRY_MS, opts);
  }
  if (whatsappCode === 479 && account.lid && !account.statusAccepted) {
    return new TransportError(
      'STATUS_REJECTED',
      'WhatsApp rejected the status (ack error 479): this account uses LID addressing, and statuses addressed by phone number are refused for it; retrying cannot help',
      undefined,
      opts,
    );
  }
  return new TransportError('SEND_FAILED', `WhatsApp rejected the status (ack error ${code})`, undefined, opts);
}
