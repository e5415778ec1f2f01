/**
 * bracket's phases, and every move between them. What a failure means depends
 * on where the strategy stands: the same fast error is a blip when cruising, a
 * sign of an outage when it hits the check below a size that worked, and one
 * more wait when the outage is being ridden out. Keeping the phase explicit and
 * its moves in one function makes those readings visible side by side; what
 * each move teaches about sizes (good, bad, the odds) is bracket.ts's business.
 */
import type { BatchOutcome } from './sdk.js';

/** What an outage has shown since the last blip, to tell it from a capacity that fell and is rejected fast. */
interface OutageSigns {
  /** One-recipient calls that failed in it: where they are common, size is not the cause. */
  readonly failuresAtOne: number;
  /** Times one recipient went through at once after the check failed fast. */
  readonly quickOk: number;
}

const NO_OUTAGE_SIGNS: OutageSigns = Object.freeze({ failuresAtOne: 0, quickOk: 0 });

/**
 * Why a check is under way, which decides what it working means:
 * - `blip`: a fast error after a clean run, or an outage that may be over:
 *   size was not the cause, so straight back to the size that worked;
 * - `hang`: a timeout at a size that worked: random, or the capacity fell;
 *   bracket again, with odds from how earlier hangs turned out;
 * - `error`: a second fast error soon after a blip: about size after all.
 */
type CheckCause = 'blip' | 'hang' | 'error';

export type Phase =
  /** Growing, bracketing or cruising: the evidence decides which (bracket.ts `decide`). */
  | { readonly kind: 'steady' }
  /** The next batch is a probe above the size that worked (chosen by `decide`). */
  | { readonly kind: 'probing' }
  /**
   * The next batch retries a size that worked and then failed once: random failures (a few
   * percent of calls) rarely strike twice in a row, a capacity that fell below it always does.
   */
  | { readonly kind: 'retrying'; readonly size: number }
  /** The next batch is a check well below a size that worked and then failed. */
  | { readonly kind: 'checking'; readonly cause: CheckCause; readonly outage: OutageSigns }
  /** Fast errors at a size that worked and at the check below it: one recipient at a time until one gets through. */
  | { readonly kind: 'outage'; readonly outage: OutageSigns };

export const STEADY: Phase = Object.freeze({ kind: 'steady' });
export const PROBING: Phase = Object.freeze({ kind: 'probing' });

/** What an outcome turned out to be; bracket.ts learns from each in its own way. */
export type Move =
  /** Nothing learned: the server limits the call rate, not the size. */
  | 'rate-limited'
  /** Into (or still in) an outage. */
  | 'outage'
  /** One recipient got through: the outage may be over; check again. */
  | 'outage-over'
  /** One recipient got through at once again, far more often than one failed: a capacity that fell below the check and is rejected fast. */
  | 'rejected-fast'
  /** A failure before anything worked. */
  | 'cold-failure'
  /** A failure above the size that worked: a ceiling. */
  | 'ceiling'
  /** A first failure at a size that worked: most likely random; the same size again tells. */
  | 'retry'
  /** The retry worked: the failure was random, and what was known before it stands. */
  | 'retried'
  /** A failure at a size that worked (again, after a retry): the capacity fell, or an outage; a check tells them apart. */
  | 'suspect'
  /** The check hung too: the capacity fell (or, where hangs have been random, both were). */
  | 'fell'
  /** The check worked after a blip: back to the size that worked. */
  | 'blip-over'
  /** The check worked after a hang or a repeated error: bracket again below the failed size. */
  | 'checked'
  /** A success in the steady phase or a probe. */
  | 'ok';

/** What the moves read besides the phase and the outcome. */
export interface MoveFacts {
  /** The largest size that succeeded in this send (0 when none yet). */
  readonly good: number;
  /** No blip was taken back within the blip spacing: a fast error now may be one. */
  readonly blipAllowed: boolean;
  /** A first failure at a size that worked can be retried at no recipient's expense (false: checked below at once). */
  readonly retryAllowed?: boolean;
}

/**
 * Every transition of bracket: given the phase and the outcome of the batch
 * it chose, the next phase and what the outcome was. `decide` then sizes the
 * next batch from the phase; the one choice it makes itself is between
 * `steady` and `probing`, since whether a probe is worth it is a sizing question.
 */
export function transition(phase: Phase, outcome: BatchOutcome, facts: MoveFacts): { phase: Phase; move: Move } {
  const { good } = facts;
  if (outcome.ok) {
    if (phase.kind === 'outage') {
      const { failuresAtOne } = phase.outage;
      const quickOk = phase.outage.quickOk + 1;
      // Again and again the check failed fast and one recipient went through at once, far more
      // often than one failed: not an outage (where any call may fail), a capacity below the check
      // that is rejected fast. One failure at one is not enough to say otherwise: networks drop a
      // few percent of calls at random, and holding on would send the check into the wall for ever.
      if (quickOk >= 2 && quickOk > 2 * failuresAtOne) return { phase: STEADY, move: 'rejected-fast' };
      // One call through may be luck in a partial outage: check before going back up.
      return { phase: { kind: 'checking', cause: 'blip', outage: { failuresAtOne, quickOk } }, move: 'outage-over' };
    }
    if (phase.kind === 'checking') return { phase: STEADY, move: phase.cause === 'blip' ? 'blip-over' : 'checked' };
    if (phase.kind === 'retrying') return { phase: STEADY, move: 'retried' };
    return { phase: STEADY, move: 'ok' };
  }
  if (outcome.error === 'rate_limited') return { phase, move: 'rate-limited' };
  if (phase.kind === 'outage')
    return { phase: { kind: 'outage', outage: { ...phase.outage, failuresAtOne: phase.outage.failuresAtOne + 1 } }, move: 'outage' };
  // The network fails well below a size that worked, and fast: not a size.
  if (phase.kind === 'checking' && outcome.error !== 'timeout') return { phase: { kind: 'outage', outage: phase.outage }, move: 'outage' };
  if (good === 0) return { phase: STEADY, move: 'cold-failure' };
  // A retry may go one above the size that worked (see bracket.ts); failing, it is still a second failure there.
  if (outcome.size > good && phase.kind !== 'retrying') return { phase: STEADY, move: 'ceiling' };
  if (phase.kind === 'checking') return { phase: STEADY, move: 'fell' };
  // At a size that worked, for the first time: most likely random (a capacity that fell fails again).
  if (phase.kind !== 'retrying' && facts.retryAllowed) return { phase: { kind: 'retrying', size: outcome.size }, move: 'retry' };
  // Again after a retry, or where a retry would cost its recipients an attempt: a check well
  // below tells random, a capacity that fell and an outage apart.
  // After a retry failed too, a fast error is no blip: two in a row at a size that worked.
  const blip = facts.blipAllowed && phase.kind !== 'retrying';
  const cause: CheckCause = outcome.error === 'timeout' ? 'hang' : blip ? 'blip' : 'error';
  return { phase: { kind: 'checking', cause, outage: NO_OUTAGE_SIGNS }, move: 'suspect' };
}
