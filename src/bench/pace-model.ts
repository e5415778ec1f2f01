/**
 * The engine's pacer (src/engine/pacer.ts) and the server's rate limiter
 * (src/transport/sim/model.ts RateLimiter) for one session, played forward
 * without a clock: when each of the oracle's calls will start, and whether the
 * server will refuse it for its rate. A refusal spends its call's draws and
 * slows the pacer, and the engine then sends the same batch again, so a plan
 * that did not follow them would meet other draws at other times than it
 * counted on. The pacer's state is rebuilt from the network's call log: every
 * call took a slot at its start, from where the call before it ended.
 */
import { AimdCallRate, callRateDefaults } from '../engine/call-rate.js';
import type { RateWindow } from '../transport/sim/model.js';
import type { SimCall } from '../transport/sim/oracle.js';

/** A call's place in the pace, as the pacer gives it out. */
export interface Slot {
  readonly at: number;
  /** The rate, not an earlier call or a hint, decided when (a clean call then lets the rate recover). */
  readonly held: boolean;
}

/** How a call ended, for the pacer and the limiter: refused for the rate (with the server's hint), or not. */
export type PaceOutcome = { readonly refused: true; readonly hintMs: number } | { readonly refused: false; readonly ok: boolean };

export class PaceModel {
  private last = Number.NEGATIVE_INFINITY;
  private spacedFrom = Number.NEGATIVE_INFINITY;
  private notBefore = Number.NEGATIVE_INFINITY;
  private loweredAt = Number.NEGATIVE_INFINITY;
  private rate: AimdCallRate;
  /** Starts of the calls the server's windows counted, ascending (older than the longest window dropped). */
  private accepted: number[] = [];
  private readonly longestMs: number;

  constructor(
    private readonly maxPerSecond: number,
    private readonly windows: readonly RateWindow[],
  ) {
    this.rate = new AimdCallRate(maxPerSecond, maxPerSecond, callRateDefaults);
    this.longestMs = Math.max(0, ...windows.map((w) => w.windowMs));
  }

  /** Replays a session's calls (anchors included), in the order they started. */
  static replay(maxPerSecond: number, windows: readonly RateWindow[], calls: readonly SimCall[]): PaceModel {
    const pace = new PaceModel(maxPerSecond, windows);
    let now: number | undefined;
    for (const call of calls) {
      if (call.endedAt === undefined) break;
      const slot = pace.take(call.startedAt, now ?? call.startedAt);
      const freesAt = pace.refusal(slot.at);
      if (call.cause === 'rate-limit') {
        // Refused: the server's hint is when its fullest window frees; a refusal given up on by the timeout teaches nothing.
        const refused = call.outcome === 'RATE_LIMITED';
        pace.observe(
          slot,
          refused ? { refused, hintMs: Math.max(0, (freesAt ?? call.endedAt) - call.endedAt) } : { refused, ok: false },
          call.endedAt,
        );
      } else {
        pace.count(slot.at);
        pace.observe(slot, { refused: false, ok: call.outcome === 'ok' });
      }
      now = call.endedAt;
    }
    return pace;
  }

  clone(): PaceModel {
    const copy = new PaceModel(this.maxPerSecond, this.windows);
    copy.last = this.last;
    copy.spacedFrom = this.spacedFrom;
    copy.notBefore = this.notBefore;
    copy.loweredAt = this.loweredAt;
    copy.rate = new AimdCallRate(this.maxPerSecond, this.rate.perSecond, callRateDefaults);
    copy.accepted = [...this.accepted];
    return copy;
  }

  /** When the pacer would start a call asked for at `now`, without taking the slot. */
  peek(now: number): number {
    const interval = this.rate.atCeiling ? 1000 / this.maxPerSecond : Math.ceil(this.rate.intervalMs);
    return Math.max(now, this.spacedFrom + interval, this.notBefore, this.last + 1000 / this.maxPerSecond);
  }

  /** Whether the server limits the rate at all (else no call is ever refused). */
  get limited(): boolean {
    return this.windows.length > 0;
  }

  /** The slot the pacer gives a call asked for at `now` (SessionPacer.acquire), taken. */
  slot(now: number): Slot {
    const interval = this.rate.atCeiling ? 1000 / this.maxPerSecond : Math.ceil(this.rate.intervalMs);
    const paced = Math.max(now, this.spacedFrom + interval);
    const at = Math.max(paced, this.notBefore, this.last + 1000 / this.maxPerSecond);
    const held = paced > now && at === paced && this.last > this.loweredAt;
    this.last = at;
    this.spacedFrom = at;
    return { at, held };
  }

  private take(at: number, now: number): Slot {
    const slot = this.slot(now);
    // The log is the truth: where a reading of `now` differs from the engine's, its start wins.
    if (slot.at !== at) {
      this.last = at;
      this.spacedFrom = at;
      return { at, held: slot.held };
    }
    return slot;
  }

  /** When the server's fullest window frees if a call starting at `at` is refused for its rate; undefined if it is accepted. */
  refusal(at: number): number | undefined {
    let freesAt: number | undefined;
    for (const w of this.windows) {
      const inside = this.accepted.filter((s) => s > at - w.windowMs);
      if (inside.length >= w.calls) freesAt = Math.max(freesAt ?? Number.NEGATIVE_INFINITY, inside[inside.length - w.calls]! + w.windowMs);
    }
    return freesAt;
  }

  /** When each of the server's windows has room again once a call starting at `at` is counted. */
  roomAfter(at: number): number[] {
    const starts = [...this.accepted, at];
    return this.windows.map((w) => (starts.length >= w.calls ? starts[starts.length - w.calls]! + w.windowMs : at));
  }

  /** The server counts a call starting at `at` (it was not refused). */
  count(at: number): void {
    if (this.windows.length === 0) return;
    while (this.accepted.length > 0 && this.accepted[0]! <= at - this.longestMs) this.accepted.shift();
    this.accepted.push(at);
  }

  /** What the call in `slot` came to (SessionPacer.observe), `end` being when it ended. */
  observe(slot: Slot, outcome: PaceOutcome, end?: number): void {
    if (!outcome.refused) {
      if (outcome.ok && slot.held) this.rate.recover();
      return;
    }
    const now = end ?? slot.at;
    if (slot.at >= this.loweredAt) {
      this.rate.backOff();
      this.loweredAt = now;
    }
    this.notBefore = Math.max(this.notBefore, now + outcome.hintMs);
    if (this.last === slot.at) this.spacedFrom = Number.NEGATIVE_INFINITY;
  }
}
