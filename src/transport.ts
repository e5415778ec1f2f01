/**
 * The seam between the engine and WhatsApp. A transport prepares a story once
 * and sends it to lists of JIDs; the first call of a send creates the status
 * (and its message id), every later call reuses that id so all recipients see
 * one status. Implementations: the simulated network (src/sim) and, later,
 * Baileys. The engine knows nothing else about either.
 */

export type Story =
  | { readonly kind: 'text'; readonly text: string; readonly backgroundColor?: string; readonly font?: number }
  | {
      readonly kind: 'image' | 'video';
      /** Exactly one of data and url. */
      readonly data?: Uint8Array;
      readonly url?: string;
      readonly caption?: string;
      readonly mimeType?: string;
    };

/** A story ready to send: media uploaded, message built. Opaque to the engine. */
export interface PreparedStory {
  readonly story: Story;
  /** Transport-specific payload (e.g. a built Baileys message). */
  readonly payload?: unknown;
}

export interface SendRequest {
  readonly sessionId: string;
  readonly story: PreparedStory;
  readonly recipients: readonly string[];
  /** Absent on the first call of a send (the anchor); the anchor's id afterwards. */
  readonly messageId?: string;
}

export interface Transport {
  /** Called once per send, before any recipient is sent; media is uploaded here, never per batch. */
  prepare(sessionId: string, story: Story, signal: AbortSignal): Promise<PreparedStory>;
  /** One call to WhatsApp. Resolves with the status's message id; throws a TransportError on failure. */
  send(request: SendRequest, signal: AbortSignal): Promise<{ messageId: string }>;
  /**
   * Optional pre-flight: which of these JIDs are known not to be on WhatsApp.
   * The engine reports them as invalid instead of sending to them.
   */
  checkRecipients?(sessionId: string, jids: readonly string[], signal: AbortSignal): Promise<ReadonlySet<string>>;
}

/**
 * Machine-readable failure codes, UPPER_SNAKE so they travel unchanged into
 * API error details. Fatal ones stop a send: retrying cannot heal them.
 */
export const FATAL_CODES = ['LOGGED_OUT', 'FORBIDDEN', 'SESSION_NOT_FOUND', 'SESSION_NOT_CONNECTED'] as const;
export const RETRYABLE_CODES = ['TIMEOUT', 'RATE_LIMITED', 'SEND_FAILED'] as const;
export type FatalCode = (typeof FATAL_CODES)[number];
export type RetryableCode = (typeof RETRYABLE_CODES)[number];
export type TransportErrorCode = FatalCode | RetryableCode;

export class TransportError extends Error {
  override readonly name = 'TransportError';
  constructor(
    readonly code: TransportErrorCode,
    message: string,
    /** A server's hint for when to try again, for RATE_LIMITED. */
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  get fatal(): boolean {
    return (FATAL_CODES as readonly string[]).includes(this.code);
  }
}

/** Any thrown value as a TransportError; unknown errors count as retryable SEND_FAILED. */
export function asTransportError(error: unknown): TransportError {
  if (error instanceof TransportError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new TransportError('SEND_FAILED', message || 'send failed', undefined, { cause: error });
}
