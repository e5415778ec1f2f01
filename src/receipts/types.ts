/** The receipts vocabulary shared by the book, its adapters and the API handler. Times are ms since the epoch. */

export interface ReceiptTimes {
  /** When the status reached one of the recipient's devices. */
  readonly deliveredAt?: number;
  /** When the recipient viewed it (a read or, for a video, played receipt). */
  readonly readAt?: number;
}

/** What the transports' adapters tell the book; neither call may throw or wait. */
export interface ReceiptSink {
  /**
   * A successful call reached these recipients. `created` says the call made
   * the status (an anchor, or a plain send): nothing can be stored under its id yet.
   */
  sent(sessionId: string, messageId: string, jids: readonly string[], options?: { readonly created?: boolean }): void;
  /** A recipient's phone answered for a status. */
  receipt(sessionId: string, messageId: string, userJid: string, times: ReceiptTimes): void;
}

export interface ReceiptCounts {
  /** Recipients of successful calls. */
  readonly sent: number;
  /** Recipients with a delivery (or read) receipt. */
  readonly delivered: number;
  readonly read: number;
}

export interface RecipientReceipts extends ReceiptTimes {
  readonly recipient: string;
  /** False for a receipt from someone no successful call of this server included (see the book). */
  readonly sent: boolean;
}

/** One page of a status's receipts. */
export interface ReceiptsPage {
  readonly sessionId: string;
  readonly messageId: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly counts: ReceiptCounts;
  /** Recipients over all pages. */
  readonly total: number;
  readonly recipients: readonly RecipientReceipts[];
  /** Where the next page starts; absent on the last page. */
  readonly nextOffset?: number;
}

/** What the API asks of the book. */
export interface ReceiptQueries {
  /** Null when the book has nothing (unexpired) for this status; throws ReceiptStoreError when it cannot know. */
  page(sessionId: string, messageId: string, offset: number, limit: number): Promise<ReceiptsPage | null>;
}

/** The store could not be read and the status is not in memory: the answer is unknown, not empty. */
export class ReceiptStoreError extends Error {
  override readonly name = 'ReceiptStoreError';
}
