/**
 * Who is still to be sent, who got it and who failed. Every valid recipient is
 * in exactly one of pending, delivered or failed at any moment, which is what
 * makes the summary's counts add up by construction.
 */
import type { FailedRecipient } from './events.js';

/**
 * Failures of any kind a recipient may see before it is given up, as a multiple
 * of maxAttempts. The bound is only there so that a send always ends: a
 * strategy closing in on the capacity from above fails several probes in a row
 * with the same front-of-queue recipients (six on the benchmark's cheap-failures
 * profile), and they did nothing wrong.
 */
const ANY_FAILURE_FACTOR = 4;

export class RecipientQueue {
  private readonly fresh: readonly string[];
  private head = 0;
  /**
   * Recipients of failed batches, sent before fresh ones; kept reversed (the
   * next to go is last) so putting a batch back and taking one cost only the
   * batch, not the whole list, on a 100k send.
   */
  private readonly retry: string[] = [];
  private readonly attempts = new Map<string, { strikes: number; failures: number }>();
  delivered = 0;
  readonly failed: FailedRecipient[] = [];

  constructor(
    recipients: readonly string[],
    private readonly maxAttempts: number,
  ) {
    this.fresh = recipients;
  }

  /** Everyone the queue started with. */
  get total(): number {
    return this.fresh.length;
  }

  get remaining(): number {
    return this.retry.length + this.fresh.length - this.head;
  }

  /** The next n recipients `take` would return, left in place. */
  peek(n: number): string[] {
    const fromRetry = this.retry.slice(Math.max(0, this.retry.length - n)).reverse();
    const more = Math.min(n - fromRetry.length, this.fresh.length - this.head);
    return more > 0 ? fromRetry.concat(this.fresh.slice(this.head, this.head + more)) : fromRetry;
  }

  /** Takes up to n recipients, retries first. */
  take(n: number): string[] {
    const fromRetry = this.retry.splice(Math.max(0, this.retry.length - n)).reverse();
    const more = Math.min(n - fromRetry.length, this.fresh.length - this.head);
    const batch = more > 0 ? fromRetry.concat(this.fresh.slice(this.head, this.head + more)) : fromRetry;
    this.head += Math.max(0, more);
    return batch;
  }

  succeeded(batch: readonly string[]): void {
    this.delivered += batch.length;
    for (const r of batch) this.attempts.delete(r);
  }

  /**
   * A retryable failure: back to the front, unless a recipient has used up its
   * attempts. A failure that says nothing about the recipient (a batch larger
   * than the last one that worked, or a rate limit) does not count as a
   * strike: strategies probe sizes with whoever is at the front of the queue,
   * and those recipients must not be given up for the probing. Every failure
   * still counts toward a hard bound of ANY_FAILURE_FACTOR x maxAttempts, so a send always ends.
   */
  retryOrFail(batch: readonly string[], code: FailedRecipient['code'], reason: string, strike = true): void {
    const again: string[] = [];
    for (const recipient of batch) {
      let tally = this.attempts.get(recipient);
      if (!tally) {
        tally = { strikes: 0, failures: 0 };
        this.attempts.set(recipient, tally);
      }
      if (strike) tally.strikes++;
      tally.failures++;
      if (tally.strikes >= this.maxAttempts || tally.failures >= ANY_FAILURE_FACTOR * this.maxAttempts) {
        this.attempts.delete(recipient);
        this.failed.push({ recipient, code, reason: `${reason} (after ${tally.failures} attempts)` });
      } else {
        again.push(recipient);
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
    const kept = this.retry.filter((r) => !late.has(r));
    let moved = this.retry.length - kept.length;
    this.retry.length = 0;
    for (const r of kept) this.retry.push(r);
    for (let i = this.failed.length - 1; i >= 0; i--) {
      if (late.has(this.failed[i]!.recipient)) {
        this.failed.splice(i, 1);
        moved++;
      }
    }
    this.delivered += moved;
    for (const r of recipients) this.attempts.delete(r);
    return moved;
  }

  /** Fails `batch` and everything still pending with one reason (fatal error, cancellation). */
  failAll(batch: readonly string[], code: FailedRecipient['code'], reason: string): void {
    for (const recipient of batch.concat(this.take(this.remaining))) {
      this.failed.push({ recipient, code, reason });
    }
  }
}
