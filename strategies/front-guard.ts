/**
 * Keeping the recipients at the front of the engine's queue from being given up.
 *
 * The engine puts the recipients of a failed call back at the front of its
 * queue, so the next call carries them first, and gives a recipient up once
 * ENGINE_ATTEMPTS calls it was in failed. A failure does not count against its
 * recipients when the call was larger than the last one that worked (the
 * engine takes it for a size probe), nor when it was rate limited. So a
 * strategy that fails the same front three times at sizes it already got
 * through (a capacity that fell, a run of chance refusals) loses those
 * recipients, however well it does otherwise.
 *
 * The rule (bracket's, see bracket.ts): before a call that would give up
 * recipients who already failed twice, send one recipient first. The network
 * carries one recipient (the anchor was one), and once that call works it is
 * the last that worked, so a failure of the bigger call after it costs nobody
 * an attempt. `followQueue` and `givesUpFront` mirror the engine's count for
 * any strategy; `guardFront` wraps a strategy with the rule, so its own
 * decisions never see the one-recipient calls.
 */
import { callBoundMs } from './adaptive-timeout.js';
import { type BatchOutcome, MIN_CALL_TIMEOUT_MS, planSize, type Step, type Strategy, type StrategyContext } from './sdk.js';

/**
 * The engine's default attempts per recipient (SMART_SEND_MAX_ATTEMPTS, not in
 * a strategy's view): a recipient whose calls failed this many times is given up.
 */
export const ENGINE_ATTEMPTS = 3;

/**
 * Failures of any kind (probes and rate limits too) after which the engine
 * gives a recipient up whatever its attempts: ANY_FAILURE_FACTOR x
 * ENGINE_ATTEMPTS in src/engine/queue.ts.
 */
export const ENGINE_FAILURES = 12;

/** Recipients next to each other at the front of the engine's queue that failed alike. */
interface Run {
  readonly count: number;
  /** Failed calls that counted against them (an attempt). */
  readonly strikes: number;
  /** Failed calls of any kind. */
  readonly failures: number;
}

/** The runs at the front of the engine's queue, front first; everyone after them has failed nothing. */
type Front = readonly Run[];

/** What a strategy needs to mirror the engine's count of failed attempts. */
export interface QueueView {
  /** The size of the engine's last call that worked (0 before any): a failure at or under it costs its recipients an attempt. */
  readonly lastOk: number;
  /** The largest call that worked in this send. */
  readonly top: number;
  readonly front: Front;
}

/** The view before the first batch: nothing has worked, nobody has failed. */
export const FRESH_QUEUE: QueueView = { lastOk: 0, top: 0, front: [] };

/**
 * The view after a call, as the engine books it: a call of n takes the first
 * n; if it works they leave; if it fails they go back first, each with one
 * failure more, and one failed attempt more unless the call was larger than
 * the last that worked or rate limited; whoever reaches ENGINE_ATTEMPTS or
 * ENGINE_FAILURES is given up.
 */
export function followQueue(queue: QueueView, outcome: BatchOutcome): QueueView {
  const out: Run[] = [];
  let left = outcome.size;
  if (outcome.ok) {
    for (const run of queue.front) {
      const taken = Math.min(left, run.count);
      left -= taken;
      if (run.count > taken) out.push({ ...run, count: run.count - taken });
    }
    return { lastOk: outcome.size, top: Math.max(queue.top, outcome.size), front: out };
  }
  const strike = outcome.error !== 'rate_limited' && (queue.lastOk === 0 || outcome.size <= queue.lastOk) ? 1 : 0;
  for (const run of queue.front) {
    const taken = Math.min(left, run.count);
    left -= taken;
    const strikes = run.strikes + strike;
    const failures = run.failures + 1;
    if (taken > 0 && strikes < ENGINE_ATTEMPTS && failures < ENGINE_FAILURES) out.push({ count: taken, strikes, failures });
    if (run.count > taken) out.push({ ...run, count: run.count - taken });
  }
  if (left > 0) out.push({ count: left, strikes: strike, failures: 1 });
  return { ...queue, front: out };
}

/** How far into the first n recipients the last one `worn` holds for reaches (0: nobody). */
function reach(front: Front, n: number, worn: (run: Run) => boolean): number {
  let last = 0;
  let seen = 0;
  for (const run of front) {
    if (seen >= n) break;
    seen += run.count;
    if (worn(run)) last = Math.min(seen, n);
  }
  return last;
}

/**
 * What to send before a call that really carries `sent` recipients, so that
 * its failure gives nobody up: nothing (0); one recipient, when some of them
 * would use up their attempts, since after one that works the bigger call's
 * failure costs nobody an attempt; or, when some would reach the engine's
 * bound on failures of any kind, those recipients alone in a call no larger
 * than one that worked.
 */
export function sendFirst(queue: QueueView, sent: number): number {
  if (sent <= 1) return 0;
  const struck = queue.lastOk === 0 || sent <= queue.lastOk;
  const worn = reach(queue.front, sent, (run) => run.failures >= ENGINE_FAILURES - 1);
  const flush = Math.min(worn, Math.max(1, queue.top));
  if (worn > 0 && flush < sent) return flush;
  return struck && reach(queue.front, sent, (run) => run.strikes >= ENGINE_ATTEMPTS - 1) > 0 ? 1 : 0;
}

/**
 * Calls sent first for one decision before it goes out anyway. One recipient
 * fails by chance as any call does (up to 10% of calls on the lab's random
 * family), and costs only that recipient; three in a row is an outage.
 */
const FIRST_TRIES = 3;

/** A strategy's state under guardFront: its own, the engine's queue as mirrored, and a decision held back. */
export interface Guarded<S> {
  readonly inner: S;
  readonly queue: QueueView;
  /** The engine's count of calls when this state was made (ctx.batchesSent): calls it made since without asking are failures. */
  readonly calls: number;
  /** The decision a smaller call went before: it goes out next. */
  readonly held?: { readonly size: number; readonly reason: string; readonly timeoutMs?: number };
  /** Calls sent first for the held decision that failed. */
  readonly failedFirst?: number;
}

/**
 * How long the one recipient sent first may take: the anchor's round trip
 * bounds it as it bounds any call of one (adaptive-timeout.ts); the full
 * timeout before the anchor is known.
 */
function oneRecipientTimeoutMs(ctx: StrategyContext): number | undefined {
  if (ctx.anchorMs === undefined) return undefined;
  const ms = Math.ceil(2 * callBoundMs(1, { size: 1, ms: ctx.anchorMs }, ctx.anchorMs));
  return ms >= ctx.config.batchTimeoutMs ? undefined : Math.max(MIN_CALL_TIMEOUT_MS, ms);
}

/** The step for the inner decision, or a smaller call first when the decision's failure would give up recipients. */
function guarded<S>(inner: Step<S>, queue: QueueView, ctx: StrategyContext, before = '', failedFirst = 0): Step<Guarded<S>> {
  const sent = planSize(inner.size, ctx.remaining, ctx.config.maxBatchSize);
  const first = sendFirst(queue, sent);
  if (first === 0) {
    const step: Step<Guarded<S>> = {
      state: { inner: inner.state, queue, calls: ctx.batchesSent },
      size: inner.size,
      reason: before + inner.reason,
    };
    return inner.timeoutMs === undefined ? step : { ...step, timeoutMs: inner.timeoutMs };
  }
  const held = { size: inner.size, reason: inner.reason, ...(inner.timeoutMs === undefined ? {} : { timeoutMs: inner.timeoutMs }) };
  const why =
    first === 1
      ? `one recipient first, so that a failure of ${sent} does not give up those who failed twice`
      : `first the ${first} at the front who failed ${ENGINE_FAILURES - 1} times, in a call no larger than one that worked`;
  const step: Step<Guarded<S>> = {
    state: { inner: inner.state, queue, calls: ctx.batchesSent, held, failedFirst },
    size: first,
    reason: `${before}${inner.reason}; ${why}`,
  };
  const timeoutMs = first === 1 ? oneRecipientTimeoutMs(ctx) : undefined;
  return timeoutMs === undefined ? step : { ...step, timeoutMs };
}

/**
 * `strategy` with the rule: it decides as before, from the outcomes of its own
 * calls only; the calls sent before some of them are the wrapper's. If
 * FIRST_TRIES such calls fail in a row, the held decision goes out all the same.
 */
export function guardFront<S>(strategy: Strategy<S>): Strategy<Guarded<S>> {
  return {
    name: strategy.name,
    description: strategy.description,
    start(ctx) {
      return guarded(strategy.start(ctx), FRESH_QUEUE, ctx);
    },
    next(state, outcome, ctx) {
      // Calls the engine did not ask about (rate limited, connection lost) went before this one, at its size: they
      // count no attempt, but they count towards the bound on failures of any kind.
      const unseen: BatchOutcome = { size: outcome.size, durationMs: 0, ok: false, error: 'rate_limited' };
      let queue = state.queue;
      for (let i = state.calls + 1; i < ctx.batchesSent; i++) queue = followQueue(queue, unseen);
      queue = followQueue(queue, outcome);
      if (state.held) {
        const inner: Step<S> = { ...state.held, state: state.inner };
        const what = outcome.size === 1 ? 'one recipient' : `${outcome.size} sent first`;
        if (outcome.ok) return guarded(inner, queue, ctx, `${what} ok; then as decided before it: `);
        const failedFirst = (state.failedFirst ?? 0) + 1;
        if (failedFirst < FIRST_TRIES) {
          return guarded(inner, queue, ctx, `${what} failed (${outcome.error ?? 'error'}); again before: `, failedFirst);
        }
        // Not one of them got through (an outage): the decision goes out as it is, or a send whose every
        // call fails would go on one recipient at a time.
        const reason = `${what} failed (${outcome.error ?? 'error'}); then as decided before it: ${inner.reason}`;
        return { ...inner, state: { inner: inner.state, queue, calls: ctx.batchesSent }, reason };
      }
      return guarded(strategy.next(state.inner, outcome, ctx), queue, ctx);
    },
  };
}
