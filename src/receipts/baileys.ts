/**
 * Baileys' receipts, for the book. A socket emits `message-receipt.update`
 * for group and status messages (messages-recv.js handleReceipt): one entry
 * per message id, the viewer normalised to a user JID, and WhatsApp's time in
 * unix seconds under `receiptTimestamp` (delivered) or `readTimestamp` (read,
 * and played for a video).
 */
import type { MessageUserReceiptUpdate } from '@whiskeysockets/baileys';
import type { SocketFactory } from '../transport/baileys/sessions.js';
import type { ReceiptSink } from './types.js';

const STATUS_BROADCAST = 'status@broadcast';

/** Numbers from protobufjs may be Longs; nothing else. */
type WireTime = number | { toNumber(): number } | null | undefined;

/**
 * The listener to subscribe on each of a session's sockets:
 * `sock.ev.on('message-receipt.update', receiptsFromBaileys(book, sessionId))`.
 * It keeps receipts of this account's own statuses and ignores the rest
 * (groups, and other people's statuses this account's devices viewed).
 */
export function receiptsFromBaileys(book: ReceiptSink, sessionId: string): (updates: readonly MessageUserReceiptUpdate[]) => void {
  return (updates) => {
    for (const { key, receipt } of updates) {
      // fromMe: Baileys sets it for receipts to our messages; a status we viewed on another device has it false.
      if (key.remoteJid !== STATUS_BROADCAST || key.fromMe !== true || !key.id || !receipt?.userJid) continue;
      const deliveredAt = millis(receipt.receiptTimestamp);
      const readAt = millis(receipt.readTimestamp) ?? millis(receipt.playedTimestamp);
      if (deliveredAt === undefined && readAt === undefined) continue;
      book.receipt(sessionId, key.id, receipt.userJid, { ...(deliveredAt ? { deliveredAt } : {}), ...(readAt ? { readAt } : {}) });
    }
  };
}

/** A socket factory whose every socket reports its status receipts to the book from its first frame. */
export function withStatusReceipts(makeSocket: SocketFactory, book: ReceiptSink): SocketFactory {
  return (options) => {
    const socket = makeSocket(options);
    socket.ev.on('message-receipt.update', receiptsFromBaileys(book, options.sessionId) as (arg: never) => void);
    return socket;
  };
}

function millis(t: WireTime): number | undefined {
  const seconds = typeof t === 'number' ? t : t ? t.toNumber() : undefined;
  return seconds !== undefined && Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : undefined;
}
