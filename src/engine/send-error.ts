import type { TransportError, TransportErrorCode } from '../transport/port.js';

/** Why a send could not run at all. The API maps `reason` to a status code and an ErrorInfo. */
export type SendErrorReason =
  | 'MISSING_SESSION_ID'
  | 'TOO_MANY_RECIPIENTS'
  | 'NO_VALID_RECIPIENTS'
  | 'BAD_MEDIA_URL'
  | 'MEDIA_TOO_LARGE'
  | 'PREPARE_FAILED'
  | 'ANCHOR_FAILED'
  | 'LOGGED_OUT'
  | 'FORBIDDEN'
  | 'SESSION_NOT_FOUND'
  | 'SESSION_NOT_CONNECTED'
  | 'STATUS_REJECTED';

export class SendError extends Error {
  override readonly name = 'SendError';
  constructor(
    readonly reason: SendErrorReason,
    message: string,
    /** The request field at fault, for input errors. */
    readonly field?: string,
    /** The transport's code when a transport failure caused this. */
    readonly transportCode?: TransportErrorCode,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** A fatal transport code becomes the reason itself (the caller must act on it); others keep `reason`. */
  static fromTransport(reason: 'PREPARE_FAILED' | 'ANCHOR_FAILED', what: string, error: TransportError): SendError {
    const why = error.fatal ? (error.code as SendErrorReason) : reason;
    return new SendError(why, `${what}: ${error.message} (${error.code})`, undefined, error.code, { cause: error });
  }
}
