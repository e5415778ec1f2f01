/**
 * The receipts recipients' phones send back for a status on the simulated
 * network: a share of recipients confirm delivery a little after the call, a
 * smaller share read it later. Drawn from their own random stream, so
 * listening for receipts never changes a send.
 */
import type { Clock } from '../../clock.js';
import type { Rng } from './rng.js';

/** A recipient's phone answering for a status, at a time on the network's clock. */
export interface SimReceipt {
  readonly sessionId: string;
  readonly messageId: string;
  readonly recipient: string;
  readonly deliveredAt?: number;
  readonly readAt?: number;
}

/** Delivery comes this long after the call (a phone online), a read this long after delivery. */
const DELIVERY_DELAY_MS = [300, 3_000] as const;
const READ_DELAY_MS = [2_000, 60_000] as const;
/** Receipts due within one tick go out together: a batch costs a bounded number of timers, not one per recipient. */
const RECEIPT_TICK_MS = 250;

/**
 * One call's receipts, by tick, in the order they are due: per tick, who
 * answers and whether with a read (else a delivery), in drawing order. Kept
 * as lists of the recipients' own strings rather than a receipt object each:
 * a 1,000-recipient call holds about 1,550 receipts for up to a minute, and
 * that many objects living that long is old-generation garbage for the whole
 * server; each receipt object is made as it goes out, and dies young.
 */
export interface DueReceipts {
  readonly sessionId: string;
  readonly messageId: string;
  readonly ticks: readonly { readonly at: number; readonly recipients: string[]; readonly reads: boolean[] }[];
}

/** Draws each recipient's receipts for one delivered call. */
export function drawReceipts(
  shares: { readonly delivered: number; readonly read: number },
  rng: Rng,
  now: number,
  call: { readonly sessionId: string; readonly messageId: string; readonly recipients: readonly string[] },
): DueReceipts {
  const after = (from: number, [lo, hi]: readonly [number, number], u: number) =>
    Math.ceil((from + lo + (hi - lo) * u) / RECEIPT_TICK_MS) * RECEIPT_TICK_MS;
  // Indexed by tick from the earliest one a delivery can fall on: whole numbers, where a Map keyed by timestamps would hash doubles.
  const first = after(now, DELIVERY_DELAY_MS, 0);
  const byTick: { at: number; recipients: string[]; reads: boolean[] }[] = [];
  const add = (at: number, recipient: string, read: boolean) => {
    const i = (at - first) / RECEIPT_TICK_MS;
    let tick = byTick[i];
    if (!tick) {
      tick = { at, recipients: [], reads: [] };
      byTick[i] = tick;
    }
    tick.recipients.push(recipient);
    tick.reads.push(read);
  };
  for (const recipient of call.recipients) {
    const fate = rng.next();
    const toDeliver = rng.next();
    const toRead = rng.next();
    if (fate >= shares.delivered) continue;
    const deliveredAt = after(now, DELIVERY_DELAY_MS, toDeliver);
    add(deliveredAt, recipient, false);
    if (fate < shares.read) add(after(deliveredAt, READ_DELAY_MS, toRead), recipient, true);
  }
  const ticks = byTick.filter((tick) => tick !== undefined);
  return { sessionId: call.sessionId, messageId: call.messageId, ticks };
}

/** Plays receipts out on the clock, one timer per tick that has any; stops when `stop` aborts. Resolves when done or stopped. */
export function playReceipts(clock: Clock, due: DueReceipts, listener: (r: SimReceipt) => void, stop: AbortSignal): Promise<void> {
  const { sessionId, messageId } = due;
  return (async () => {
    for (const { at, recipients, reads } of due.ticks) {
      if (
        !(await clock.sleep(at - clock.now(), stop).then(
          () => true,
          () => false,
        ))
      )
        return;
      recipients.forEach((recipient, i) => {
        listener(reads[i] ? { sessionId, messageId, recipient, readAt: at } : { sessionId, messageId, recipient, deliveredAt: at });
      });
    }
  })();
}
