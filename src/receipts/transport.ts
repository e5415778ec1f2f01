/**
 * Tells the receipt book who each status went to, by watching the transport
 * the engine sends through: the engine itself knows nothing of receipts.
 */
import type { Logger } from '../log.js';
import type { LateOutcome, SendRequest, SendResult, Transport } from '../transport/port.js';
import type { ReceiptSink } from './types.js';

/**
 * `inner` with every successful call reported to `book`: its recipients less
 * those WhatsApp refused one by one, and calls given up on that `settle` later
 * learns were delivered. Results and errors pass through unchanged, and a book
 * that throws is logged, never felt by a send. The optional methods exist only
 * when `inner` has them, since the engine branches on their presence.
 */
export function withReceipts(inner: Transport, book: ReceiptSink, logger: Logger): Transport {
  const tell = (what: () => void) => {
    try {
      what();
    } catch (error) {
      logger.warn({ err: error }, 'receipt book failed to record a call: its receipts may be incomplete');
    }
  };

  const decorated: Transport = {
    prepare: (sessionId, story, signal) => inner.prepare(sessionId, story, signal),
    async send(request: SendRequest, signal: AbortSignal): Promise<SendResult> {
      const result = await inner.send(request, signal);
      tell(() => {
        const refused = new Set((result.refused ?? []).map((r) => r.recipient));
        const reached = refused.size ? request.recipients.filter((r) => !refused.has(r)) : request.recipients;
        book.sent(request.sessionId, request.messageId ?? result.messageId, reached, { created: request.messageId === undefined });
      });
      return result;
    },
  };
  if (inner.checkRecipients) {
    const check = inner.checkRecipients.bind(inner);
    decorated.checkRecipients = (sessionId, jids, signal) => check(sessionId, jids, signal);
  }
  if (inner.settle) {
    const settle = inner.settle.bind(inner);
    decorated.settle = async (sessionId: string, messageId: string, signal: AbortSignal): Promise<readonly LateOutcome[]> => {
      const outcomes = await settle(sessionId, messageId, signal);
      tell(() => {
        for (const outcome of outcomes) if (outcome.delivered) book.sent(sessionId, messageId, outcome.recipients);
      });
      return outcomes;
    };
  }
  // Passed through untouched: nothing in them reaches anyone.
  if (inner.warm) decorated.warm = inner.warm.bind(inner);
  if (inner.saveStory) decorated.saveStory = inner.saveStory.bind(inner);
  if (inner.restoreStory) decorated.restoreStory = inner.restoreStory.bind(inner);
  return decorated;
}
