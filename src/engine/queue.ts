/**
 * Who is still to be sent, who got it and who failed. Every valid recipient is
 * in exactly one of pending, delivered or failed at any moment, which is what
 * makes the summary's counts add up by construction.
 */
import type { FailedRecipient } from './events.js';

export class RecipientQueue {
  private readonly fresh: readonly string[];
  private head = 0;
  /** Recipients of failed batches, sent before fresh ones. */
  private retry: string[] = [];
  private readonly attempts = new Map<string, number>();
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

  /** Takes up to n recipients, retries first. */
  take(n: number): string[] {
    const fromRetry = this.retry.splice(0, n);
    const more = Math.min(n - fromRetry.length, this.fresh.length - this.head);
    const batch = more > 0 ? fromRetry.concat(this.fresh.slice(this.head, this.head + more)) : fromRetry;
    this.head += Math.max(0, more);
    return batch;
  }

  succeeded(batch: readonly string[]): void {
    this.delivered += batch.length;
    for (const r of batch) this.attempts.delete(r);
  }

  /** A retryable failure: back to the front, unless a recipient has used up its attempts. */
  retryOrFail(batch: readonly string[], code: FailedRecipient['code'], reason: string): void {
    const again: string[] = [];
    for (const recipient of batch) {
      const attempts = (this.attempts.get(recipient) ?? 0) + 1;
      if (attempts >= this.maxAttempts) {
        this.attempts.delete(recipient);
        this.failed.push({ recipient, code, reason: `${reason} (after ${attempts} attempts)` });
      } else {
        this.attempts.set(recipient, attempts);
        again.push(recipient);
      }
    }
    this.retry = again.concat(this.retry);
  }

  /** Fails `batch` and everything still pending with one reason (fatal error, cancellation). */
  failAll(batch: readonly string[], code: FailedRecipient['code'], reason: string): void {
    for (const recipient of batch.concat(this.take(this.remaining))) {
      this.failed.push({ recipient, code, reason });
    }
  }
}
