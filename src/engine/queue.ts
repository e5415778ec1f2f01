/**
 * Who is still to be sent, who got it and who failed. Every valid recipient is
 * in exactly one of pending, delivered or failed at any moment, which is what
 * makes the summary's counts add up by construction. Recipients are held by
 * their position in the send's recipient list: that is how a journal names
 * them, and numbers cost less to hold and look up than 100,000 JIDs.
 */
import type { FailedAt } from './checkpoint.js';
import type { FailedRecipient } from './events.js';

/**
 * Failures of any kind a recipient may see before it is given up, as a multiple
 * of maxAttempts. The bound is only there so that a send always ends: a
 * strategy closing in on the capacity from above fails several probes in a row
 * with the same front-of-queue recipients (six on the benchmark's cheap-failures
 * profile), and they did nothing wrong.
 */
const ANY_FAILURE_FACTOR = 4;

/** Still to be sent: explicit positions, or every position from `from` to the end of the list. */
export type Pending = readonly number[] | { readonly from: number };

export class RecipientQueue {
  private readonly fresh: Pending;
  private readonly freshCount: number;
  private head = 0;
  /**
   * Recipients of failed batches, sent before fresh ones; kept reversed (the
   * next to go is last) so putting a batch back and taking one cost only the
   * batch, not the whole list, on a 100k send.
   */
  private readonly retry: number[] = [];
  private readonly attempts = new Map<number, { strikes: number; failures: number }>();
  delivered = 0;
  private readonly failedAt: FailedAt[] = [];
  /** Who became delivered or failed since the last changes(), for a journal; kept only once asked for. */
  private changed: { delivered: number[]; failed: FailedAt[] } | undefined;
  private readonly startedWith: number;

  /**
   * A resumed send passes what its journal says was already settled, so its
   * counts go on from there; a recipient's earlier strikes are not journaled,
   * so it starts afresh.
   */
  constructor(
    /** The send's whole recipient list: positions index it. */
    readonly list: readonly string[],
    pending: Pending,
    private readonly maxAttempts: number,
    settled?: { readonly total: number; readonly delivered: number; readonly failed: readonly FailedAt[] },
  ) {
    this.fresh = pending;
    this.freshCount = 'from' in pending ? Math.max(0, list.length - pending.from) : pending.length;
    this.startedWith = settled?.total ?? this.freshCount;
    if (settled) {
      this.delivered = settled.delivered;
      for (const entry of settled.failed) this.failedAt.push(entry);
    }
  }

  /** Everyone the send's batches are for, settled before a resume included. */
  get total(): number {
    return this.startedWith;
  }

  get remaining(): number {
    return this.retry.length + this.freshCount - this.head;
  }

  /** Failed so far, with the recipient spelled out (for the summary). */
  get failed(): FailedRecipient[] {
    return this.failedAt.map((f) => ({ recipient: this.list[f.index]!, code: f.code, reason: f.reason }));
  }

  get failedCount(): number {
    return this.failedAt.length;
  }

  /** The recipients at these positions. */
  jids(positions: readonly number[]): string[] {
    return positions.map((p) => this.list[p]!);
  }

  /** Starts keeping who changed state, for changes(). */
  track(): void {
    this.changed ??= { delivered: [], failed: [] };
  }

  /** Who was delivered or failed since the last call (oldest first); empty unless track() was called. */
  changes(): { delivered: number[]; failed: FailedAt[] } {
    const changed = this.changed ?? { delivered: [], failed: [] };
    if (this.changed) this.changed = { delivered: [], failed: [] };
    return changed;
  }

  /** The next n positions `take` would return, left in place. */
  peek(n: number): number[] {
    return this.front(n, false);
  }

  /** Takes up to n positions, retries first. */
  take(n: number): number[] {
    return this.front(n, true);
  }

  private front(n: number, remove: boolean): number[] {
    const from = Math.max(0, this.retry.length - n);
    const batch = (remove ? this.retry.splice(from) : this.retry.slice(from)).reverse();
    const more = Math.min(n - batch.length, this.freshCount - this.head);
    for (let i = 0; i < more; i++) batch.push(this.freshAt(this.head + i));
    if (remove) this.head += Math.max(0, more);
    return batch;
  }

  private freshAt(i: number): number {
    const fresh = this.fresh;
    return 'from' in fresh ? fresh.from + i : fresh[i]!;
  }

  succeeded(batch: readonly number[]): void {
    this.delivered += batch.length;
    for (const p of batch) this.attempts.delete(p);
    if (this.changed) for (const p of batch) this.changed.delivered.push(p);
  }

  private fail(entry: FailedAt): void {
    this.failedAt.push(entry);
    this.changed?.failed.push(entry);
  }

  /**
   * A retryable failure: back to the front, unless a recipient has used up its
   * attempts. A failure that says nothing about the recipient (a batch larger
   * than the last one that worked, or a rate limit) does not count as a
   * strike: strategies probe sizes with whoever is at the front of the queue,
   * and those recipients must not be given up for the probing. Every failure
   * still counts toward a hard bound of ANY_FAILURE_FACTOR x maxAttempts, so a send always ends.
   */
  retryOrFail(batch: readonly number[], code: FailedRecipient['code'], reason: string, strike = true): void {
    const again: number[] = [];
    for (const index of batch) {
      let tally = this.attempts.get(index);
      if (!tally) {
        tally = { strikes: 0, failures: 0 };
        this.attempts.set(index, tally);
      }
      if (strike) tally.strikes++;
      tally.failures++;
      if (tally.strikes >= this.maxAttempts || tally.failures >= ANY_FAILURE_FACTOR * this.maxAttempts) {
        this.attempts.delete(index);
        this.fail({ index, code, reason: `${reason} (after ${tally.failures} attempts)` });
      } else {
        again.push(index);
      }
    }
    for (let i = again.length - 1; i >= 0; i--) this.retry.push(again[i]!);
  }

  /**
   * Recipients of a call given up on whose ack came after all: delivered. They
   * wait in the retry list (or, attempts used up, among the failed) and leave
   * it for delivered, so nobody is sent twice or counted twice. Returns how
   * many moved.
   */
  confirmLate(recipients: readonly string[]): number {
    const late = new Set(recipients);
    const moved: number[] = [];
    const kept: number[] = [];
    for (const p of this.retry) (late.has(this.list[p]!) ? moved : kept).push(p);
    this.retry.length = 0;
    for (const p of kept) this.retry.push(p);
    for (let i = this.failedAt.length - 1; i >= 0; i--) {
      const { index } = this.failedAt[i]!;
      if (late.has(this.list[index]!)) {
        moved.push(index);
        this.failedAt.splice(i, 1);
      }
    }
    this.delivered += moved.length;
    for (const p of moved) this.attempts.delete(p);
    if (this.changed) for (const p of moved) this.changed.delivered.push(p);
    return moved.length;
  }

  /** Fails `batch` and everything still pending with one reason (fatal error, cancellation). */
  failAll(batch: readonly number[], code: FailedRecipient['code'], reason: string): void {
    for (const index of batch.concat(this.take(this.remaining))) this.fail({ index, code, reason });
  }
}
