/**
 * The seam between the engine and WhatsApp. A transport prepares a story once
 * and sends it to lists of JIDs; the first call of a send creates the status
 * (and its message id), every later call reuses that id so all recipients see
 * one status. Implementations, each in its folder with its session directory:
 * the simulated network (sim/) and WhatsApp through Baileys (baileys/). The
 * engine knows nothing else about either.
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
  /** The engine's index for this call, echoed in a LateOutcome so the caller can say which call it was. */
  readonly batchIndex?: number;
}

/** What one call achieved: the status's id, and recipients WhatsApp refused one by one while taking the rest. */
export interface SendResult {
  readonly messageId: string;
  /** Refused individually (e.g. an error for that user in a prekey reply); everyone else in the call was delivered. */
  readonly refused?: readonly RecipientRefusal[];
  /**
   * Of the call's time, what went on one-off setup rather than sending: looking
   * up devices never sent to before, fetching their keys, committing them to
   * the store. It grows with how many recipients are new, not with what
   * WhatsApp can take, so strategies and memory are given the duration without it.
   */
  readonly setupMs?: number;
}

export interface RecipientRefusal {
  readonly recipient: string;
  readonly error: TransportError;
}

/**
 * The fate of a call the engine gave up on, learned later: its ack arrived
 * after all (`delivered`), or arrived with an error. A call presumed lost is
 * not reported: the engine already treated it as failed.
 */
export interface LateOutcome {
  readonly batchIndex?: number;
  readonly recipients: readonly string[];
  readonly delivered: boolean;
  /** How long after the call started its ack came. */
  readonly afterMs: number;
  readonly error?: TransportError;
}

export interface RecipientCheck {
  readonly notOnWhatsApp: ReadonlySet<string>;
  /** Who can see a status from this account, when that is fewer than the recipients (its privacy setting). */
  readonly audience?: string;
}

export interface Transport {
  /** Called once per send, before any recipient is sent; media is uploaded here, never per batch. */
  prepare(sessionId: string, story: Story, signal: AbortSignal): Promise<PreparedStory>;
  /** One call to WhatsApp. Resolves when WhatsApp accepted it; throws a TransportError on failure. */
  send(request: SendRequest, signal: AbortSignal): Promise<SendResult>;
  /**
   * Optional pre-flight: which of these JIDs are known not to be on WhatsApp
   * (the engine reports them invalid instead of sending to them), and anything
   * about the account that limits who will see the status.
   */
  checkRecipients?(sessionId: string, jids: readonly string[], signal: AbortSignal): Promise<RecipientCheck>;
  /**
   * Optional, for transports whose answers can arrive after the caller gave up
   * (an ack carries only the message id, shared by every call of a send).
   * Waits until no earlier call of this message id on this session is in
   * doubt, then returns the calls given up on whose fate became known since.
   * The engine calls it before taking the next batch, so recipients that were
   * delivered after all are never sent again.
   */
  settle?(sessionId: string, messageId: string, signal: AbortSignal): Promise<readonly LateOutcome[]>;
  /**
   * Optional: gets ready to send to these recipients soon (device lists,
   * encryption sessions), while another call is in flight, so that the call
   * that sends to them spends its time sending. Best effort: never throws.
   */
  warm?(sessionId: string, recipients: readonly string[], signal: AbortSignal): Promise<void>;
  /**
   * Optional, for durable sends: a prepared story as bytes a journal keeps, so
   * that a send resumed by another process sends it again without preparing
   * (for media: uploading) it again. A transport without it prepares again.
   */
  saveStory?(story: PreparedStory): Uint8Array;
  /**
   * The inverse of saveStory, in the process that resumes the send; with the
   * message id when an earlier process already created the status, which this
   * transport then treats as its own (answers retry requests for it, accepts
   * calls with it). Throws when the bytes are not a story it saved.
   */
  restoreStory?(sessionId: string, saved: Uint8Array, messageId?: string): PreparedStory;
}

/**
 * Machine-readable failure codes, UPPER_SNAKE so they travel unchanged into
 * API error details. Fatal ones stop a send: retrying cannot heal them.
 * - DISCONNECTED: the connection went while the call waited (for its ack, or
 *   for a reconnect). It says nothing about the batch or its recipients: no
 *   strike, no lesson about size, the same size goes again.
 * - STATUS_REJECTED: WhatsApp refuses every status from this account (an ack
 *   error that retrying cannot heal), so the send stops and says why.
 */
const FATAL_CODES = ['LOGGED_OUT', 'FORBIDDEN', 'SESSION_NOT_FOUND', 'SESSION_NOT_CONNECTED', 'STATUS_REJECTED'] as const;
const RETRYABLE_CODES = ['TIMEOUT', 'RATE_LIMITED', 'SEND_FAILED', 'DISCONNECTED'] as const;
type FatalCode = (typeof FATAL_CODES)[number];
type RetryableCode = (typeof RETRYABLE_CODES)[number];
export type TransportErrorCode = FatalCode | RetryableCode;

export interface TransportErrorOptions {
  readonly cause?: unknown;
  /** WhatsApp's own numeric code (an ack's `error`, a query's `<error code>`), when it gave one. */
  readonly whatsappCode?: number;
}

export class TransportError extends Error {
  override readonly name = 'TransportError';
  readonly whatsappCode?: number;

  constructor(
    readonly code: TransportErrorCode,
    message: string,
    /** A server's hint for when to try again, for RATE_LIMITED. */
    readonly retryAfterMs?: number,
    options: TransportErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    if (options.whatsappCode !== undefined) this.whatsappCode = options.whatsappCode;
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
