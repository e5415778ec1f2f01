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

/** Draws each recipient's receipts for one delivered call, sorted by when they are due. */
export function drawReceipts(
  shares: { readonly delivered: number; readonly read: number },
  rng: Rng,
  now: number,
  call: { readonly sessionId: string; readonly messageId: string; readonly recipients: readonly string[] },
): SimReceipt[] {
  const after = (from: number, [lo, hi]: readonly [number, number], u: number) =>
    Math.ceil((from + lo + (hi - lo) * u) / RECEIPT_TICK_MS) * RECEIPT_TICK_MS;
  const { sessionId, messageId } = call;
  const due: SimReceipt[] = [];
  for (const recipient of call.recipients) {
    const [fate, toDeliver, toRead] = [rng.next(), rng.next(), rng.next()];
    if (fate >= shares.delivered) continue;
    const deliveredAt = after(now, DELIVERY_DELAY_MS, toDeliver);
    due.push({ sessionId, messageId, recipient, deliveredAt });
    if (fate < shares.read) due.push({ sessionId, messageId, recipient, readAt: after(deliveredAt, READ_DELAY_MS, toRead) });
  }
  return due.sort((a, b) => dueAt(a) - dueAt(b));
}

/** Plays receipts out on the clock, one timer per tick that has any; stops when `stop` aborts. */
export function playReceipts(clock: Clock, due: readonly SimReceipt[], listener: (r: SimReceipt) => void, stop: AbortSignal): void {
  void (async () => {
    for (let i = 0; i < due.length; ) {
      const at = dueAt(due[i]!);
      if (
        !(await clock.sleep(at - clock.now(), stop).then(
          () => true,
          () => false,
        ))
      )
        return;
      for (; i < due.length && dueAt(due[i]!) === at; i++) listener(due[i]!);
    }
  })();
}

function dueAt(r: SimReceipt): number {
  return r.readAt ?? r.deliveredAt!;
}
