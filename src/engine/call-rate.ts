/**
 * How fast one WhatsApp session may make calls, learned from the server's
 * answers: additive increase, multiplicative decrease, the rule TCP and
 * Netflix's concurrency-limits (AIMDLimit) use. The rule and its defaults are
 * all here; the pacer (pacer.ts) applies the rate, this class only holds it.
 *
 * A rate limit is the account's, not a batch's: cutting the rate by a share
 * sheds load at once, whatever the cause, and creeping back up a little per
 * clean call finds the ceiling again without hammering it. Recovery counts only calls the rate
 * actually held back (the pacer says which): a call that waited for its
 * previous one, not for the rate, proves nothing about a faster rate, as
 * AIMDLimit grows only while its limit is in use.
 */

export interface CallRateTuning {
  /** RATE_LIMITED: the rate is multiplied by this. */
  readonly backoffRatio: number;
  /** Each clean call the rate held back adds this share of the ceiling, in calls per second. */
  readonly recoveryShare: number;
  /** The rate never goes below this many calls per second (nor above the ceiling). */
  readonly minPerSecond: number;
}

export const callRateDefaults: CallRateTuning = {
  // As TCP CUBIC's: settled at a limit, the rate saws between it and 0.7 of it, so calls wait 19%
  // longer on average than at the limit, where halving costs 39%; from 2 calls/s two refusals get
  // under 1. In the strategy lab it did better than 0.5 on both rate-limited profiles.
  backoffRatio: 0.7,
  // At 2 calls/s, 0.02 per clean call: settled at 1 call/s, about one call in sixteen is refused.
  // 0.025 finished no sooner in the lab, and at a steady limit it is refused 2.5 times as often.
  recoveryShare: 0.01,
  // One call a minute: slower than any limit WhatsApp is known to set, and a send still moves.
  minPerSecond: 1 / 60,
};

export class AimdCallRate {
  private rate: number;
  private readonly floor: number;

  constructor(
    /** The ceiling: SMART_SEND_MAX_BATCHES_PER_SECOND. */
    readonly maxPerSecond: number,
    /** Where to start, e.g. what session memory learned; the ceiling when absent. */
    initial: number = maxPerSecond,
    private readonly tuning: CallRateTuning = callRateDefaults,
  ) {
    if (!(maxPerSecond > 0)) throw new RangeError(`maxPerSecond must be > 0, got ${maxPerSecond}`);
    if (!(tuning.backoffRatio > 0 && tuning.backoffRatio < 1)) throw new RangeError(`backoffRatio must be in (0, 1)`);
    this.floor = Math.min(tuning.minPerSecond, maxPerSecond);
    this.rate = this.clamp(Number.isFinite(initial) && initial > 0 ? initial : maxPerSecond);
  }

  /** Calls per second allowed now. */
  get perSecond(): number {
    return this.rate;
  }

  /** The spacing between two call starts at this rate. */
  get intervalMs(): number {
    return 1000 / this.rate;
  }

  /** Whether nothing below the configured maximum has been learned (or it was all recovered). */
  get atCeiling(): boolean {
    return this.rate >= this.maxPerSecond;
  }

  /** The server refused a call for its rate. */
  backOff(): void {
    this.rate = this.clamp(this.rate * this.tuning.backoffRatio);
  }

  /** A call the rate held back went through. */
  recover(): void {
    this.rate = this.clamp(this.rate + this.maxPerSecond * this.tuning.recoveryShare);
  }

  private clamp(rate: number): number {
    return Math.min(this.maxPerSecond, Math.max(this.floor, rate));
  }
}
