/**
 * maxBatchesPerSecond, per WhatsApp session. One pacer is shared by every send
 * of a process, so two sends on one session share the session's budget.
 * Calls are spaced 1000/rate ms apart rather than counted per window: spacing
 * never bursts, and it guarantees at most `rate` starts in any 1 s window.
 */
import type { Clock } from '../clock.js';

const PRUNE_ABOVE = 10_000;

export class SessionPacer {
  private readonly nextSlot = new Map<string, number>();
  private readonly intervalMs: number;

  constructor(
    private readonly clock: Clock,
    ratePerSecond: number,
  ) {
    if (!(ratePerSecond > 0)) throw new RangeError(`ratePerSecond must be > 0, got ${ratePerSecond}`);
    this.intervalMs = 1000 / ratePerSecond;
  }

  /** Waits for this session's next slot and takes it. Rejects if `signal` aborts first (the slot is then spent). */
  async acquire(sessionId: string, signal?: AbortSignal): Promise<void> {
    const now = this.clock.now();
    const slot = Math.max(now, this.nextSlot.get(sessionId) ?? now);
    this.nextSlot.set(sessionId, slot + this.intervalMs);
    if (this.nextSlot.size > PRUNE_ABOVE) this.prune(now);
    if (slot > now) await this.clock.sleep(slot - now, signal);
  }

  private prune(now: number): void {
    for (const [session, next] of this.nextSlot) if (next <= now) this.nextSlot.delete(session);
  }
}
