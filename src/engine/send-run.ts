/**
 * The state of one send after the anchor: who is pending, what the strategy
 * decided, what has been sent; and the batch loop that moves it forward.
 * SendEngine validates, prepares and anchors, then hands over to a SendRun.
 */
import {
  MIN_CALL_TIMEOUT_MS,
  planSize,
  speedOf,
  type BatchErrorKind,
  type BatchOutcome,
  type Step,
  type StrategyContext,
} from '../../strategies/sdk.js';
import type { Clock } from '../clock.js';
import type { SmartSendConfig } from '../config.js';
import type { Logger } from '../log.js';
import type { SessionBatchHistory } from '../memory/history.js';
import type { SendRecorder } from '../memory/types.js';
import type { AnyStrategy } from '../../strategies/sdk.js';
import type {
  LateOutcome,
  PreparedStory,
  RecipientRefusal,
  SendResult,
  Transport,
  TransportError,
  TransportErrorCode,
} from '../transport/port.js';
import { callWithTimeout, type CallResult } from './call.js';
import type { FailedAt } from './checkpoint.js';
import type { BatchError, BatchEvent, SummaryEvent } from './events.js';
import type { PaceSlot, SessionPacer } from './pacer.js';
import { RecipientQueue, type Pending } from './queue.js';

export interface SendRunDeps {
  readonly transport: Transport;
  readonly clock: Clock;
  readonly config: SmartSendConfig;
  readonly pacer: SessionPacer;
  readonly log: Logger;
}

type StoppedBy = SummaryEvent['stoppedBy'];

function batchError(error: TransportError): BatchError {
  return {
    code: error.code,
    message: error.message,
    retryable: !error.fatal,
    ...(error.whatsappCode !== undefined ? { whatsappCode: error.whatsappCode } : {}),
  };
}

function callsPerSecond(rate: number): string {
  return rate >= 1 ? `${Number(rate.toFixed(2))} calls/s` : `one call every ${Number((1 / rate).toFixed(1))} s`;
}

/** A RATE_LIMITED call never reaches a strategy (see apply): the pacer deals with the rate. */
function errorKind(code: TransportErrorCode): BatchErrorKind {
  return code === 'TIMEOUT' ? 'timeout' : 'error';
}

/** Where a resumed send's batches stood: see ResumePoint. */
export interface RunSoFar {
  readonly settled: { readonly total: number; readonly delivered: number; readonly failed: readonly FailedAt[] };
  readonly calls: readonly { readonly size: number; readonly ok: boolean }[];
  readonly step?: Step<unknown>;
  readonly anchorMs?: number;
}

export class SendRun {
  readonly queue: RecipientQueue;
  readonly batchSequence: number[] = [];
  private batchesOk = 0;
  /** Size of the last batch that worked: a failed batch larger than it was a size probe. */
  private lastOk = 0;
  private step: Step<unknown>;
  /** Whether the strategy has decided yet (a resumed run may carry its decision over). */
  private decided = false;

  constructor(
    private readonly deps: SendRunDeps,
    readonly sessionId: string,
    private readonly strategy: AnyStrategy,
    /** The send's recipient list; the queue holds positions in it. */
    list: readonly string[],
    /** Who goes out in batches (everyone but the anchor), or is still to be sent on a resume. */
    pending: Pending,
    readonly history: SessionBatchHistory | null,
    readonly recorder: SendRecorder,
    soFar?: RunSoFar,
  ) {
    // A session this process has not paced yet starts at the rate its memory learned, not at the maximum.
    deps.pacer.prime(sessionId, history?.learnedCallsPerSecond);
    this.queue = new RecipientQueue(list, pending, deps.config.maxAttempts, soFar?.settled);
    this.step = soFar?.step ?? { state: undefined, size: deps.config.progressiveSequence[0]!, reason: 'not started' };
    this.decided = soFar?.step !== undefined;
    this.anchorMs = soFar?.anchorMs;
    for (const call of soFar?.calls ?? []) {
      this.batchSequence.push(call.size);
      if (call.ok) {
        this.batchesOk++;
        this.lastOk = call.size;
      }
    }
  }

  private anchorMs: number | undefined;

  /** The strategy's current decision, once it has made one. */
  get decision(): Step<unknown> | undefined {
    return this.decided ? this.step : undefined;
  }

  /**
   * Asks the strategy for its first decision (smart sends only). Called once to
   * plan, before the anchor, and again once the anchor's round trip is known:
   * strategies are pure, so the second call simply decides with more to go on.
   */
  start(anchorMs?: number): void {
    this.anchorMs = anchorMs;
    this.step = this.decide(() => this.strategy.start(this.context()), this.step);
    this.decided = true;
  }

  /** The size the next batch will have, after the engine's clamps and tail rule. */
  get nextSize(): number {
    return planSize(this.step.size, this.queue.remaining, this.deps.config.maxBatchSize);
  }

  get reason(): string {
    return this.step.reason;
  }

  /**
   * Sends batches until nobody is pending, a fatal error stops the send, or
   * `signal` aborts (the call in flight finishes; nothing starts after it).
   * Returns why it stopped early, if it did; whoever is left is failed with it.
   */
  async *batches(story: PreparedStory, messageId: string, signal: AbortSignal): AsyncGenerator<BatchEvent, StoppedBy> {
    const { clock, config, pacer, transport } = this.deps;
    while (this.queue.remaining > 0 && !signal.aborted) {
      yield* this.settle(messageId, signal);
      if (this.queue.remaining === 0 || signal.aborted) break;
      const size = this.nextSize;
      let slot: PaceSlot;
      try {
        slot = await pacer.acquire(this.sessionId, signal);
      } catch {
        break; // cancelled while waiting for a slot
      }
      const batch = this.queue.take(size);
      this.warmNext(signal);
      const batchIndex = this.batchSequence.length;
      const timeoutMs = Math.min(config.batchTimeoutMs, Math.max(MIN_CALL_TIMEOUT_MS, this.step.timeoutMs ?? Infinity));
      const recipients = this.queue.jids(batch);
      const result = await callWithTimeout(clock, timeoutMs, (s) =>
        transport.send({ sessionId: this.sessionId, story, recipients, messageId, batchIndex }, s),
      );
      pacer.observe(slot, result);
      this.batchSequence.push(batch.length);
      const event = this.apply(batch, batchIndex, result);
      this.deps.log.debug(
        { index: event.index, size: event.size, durationMs: event.durationMs, ok: event.ok, code: event.error?.code },
        'batch',
      );
      yield event;
      const error = result.ok ? undefined : result.error;
      if (error?.fatal) {
        // Everyone left is failed with it now; an earlier call's late ack may still prove some delivered.
        if (!signal.aborted) yield* this.settle(messageId, signal);
        return error.code;
      }
    }
    // The last call may still be in doubt: its late ack would move recipients from failed to delivered.
    if (!signal.aborted) yield* this.settle(messageId, signal);
    if (this.queue.remaining === 0) return undefined;
    this.queue.failAll([], 'CANCELLED', 'the caller cancelled the send before these were sent');
    return 'CANCELLED';
  }

  private warming = false;

  /**
   * Lets the transport get the recipients of the next call ready while this one
   * (or, before the first, the prepare and the anchor) is in flight: one
   * warm-up at a time; the size is today's guess.
   */
  warmNext(signal: AbortSignal): void {
    const { transport, log } = this.deps;
    if (!transport.warm || this.warming || this.queue.remaining === 0) return;
    const next = this.queue.jids(this.queue.peek(this.nextSize));
    this.warming = true;
    transport
      .warm(this.sessionId, next, signal)
      .catch((error: unknown) => log.debug({ err: error }, 'warm-up failed; the call will set up its own recipients'))
      .finally(() => (this.warming = false));
  }

  /** Books one call's result: queue, memory, strategy; returns its event. */
  private apply(batch: readonly number[], index: number, result: CallResult<SendResult>): BatchEvent {
    const { config } = this.deps;
    const error: TransportError | undefined = result.ok ? undefined : result.error;
    const refused = result.ok ? (result.value.refused ?? []) : [];
    // One-off setup for new recipients says nothing about what WhatsApp can take.
    const setupMs = result.ok ? Math.min(result.durationMs, Math.max(0, result.value.setupMs ?? 0)) : 0;
    const sendingMs = result.durationMs - setupMs;
    let reason: string | undefined;
    if (!error) {
      this.batchesOk++;
      this.lastOk = batch.length;
      this.settleRefused(batch, refused);
    } else if (error.fatal) {
      this.queue.failAll(batch, error.code, error.message);
    } else if (error.code === 'DISCONNECTED') {
      // Nothing learned: no strike, no size lesson, and the strategy is not asked, so the same size goes again.
      this.queue.retryOrFail(batch, error.code, error.message, false);
      reason = `connection lost; ${this.nextSize} again once it is back`;
    } else if (error.code === 'RATE_LIMITED') {
      // The account's call rate, not this batch: the pacer has slowed the session down and holds its
      // next call for the server's hint. No strike, no size lesson, and the strategy is not asked,
      // so no strategy, built in or not, mistakes it for a batch too big.
      this.queue.retryOrFail(batch, error.code, error.message, false);
      reason = `rate limited: ${callsPerSecond(this.deps.pacer.rateOf(this.sessionId))} on this session from now on; ${this.nextSize} again`;
    } else {
      const probe = this.lastOk > 0 && batch.length > this.lastOk;
      this.queue.retryOrFail(batch, error.code, error.message, !probe);
    }
    if (error?.code !== 'DISCONNECTED') {
      this.recorder.record({
        size: batch.length,
        durationMs: sendingMs,
        ok: result.ok,
        sizeRelated: error?.code !== 'RATE_LIMITED',
        callsPerSecond: this.deps.pacer.learned(this.sessionId),
      });
    }
    const more = this.queue.remaining > 0 && !error?.fatal;
    // Calls that say nothing about the batch (a lost connection, the account's call rate) are not the strategy's to judge.
    const judged = error?.code !== 'DISCONNECTED' && error?.code !== 'RATE_LIMITED';
    if (more && judged) {
      const outcome: BatchOutcome = error
        ? { size: batch.length, durationMs: result.durationMs, ok: false, error: errorKind(error.code) }
        : { size: batch.length, durationMs: sendingMs, ok: true };
      const previous = this.step;
      this.step = this.decide(() => this.strategy.next(previous.state, outcome, this.context()), previous);
    }
    return {
      type: 'batch',
      index,
      size: batch.length,
      ...(refused.length ? { refused: refused.length } : {}),
      durationMs: result.durationMs,
      ...(setupMs > 0 ? { setupMs } : {}),
      ok: result.ok,
      ...(error ? { error: batchError(error) } : {}),
      // As the strategy judged it: the sending, without the setup.
      speed: speedOf(sendingMs, config),
      delivered: this.queue.delivered,
      failed: this.queue.failedCount,
      remaining: this.queue.remaining,
      nextSize: more ? this.nextSize : 0,
      reason: more ? (reason ?? this.step.reason) : error?.fatal ? `stopped: ${error.message}` : 'all recipients sent',
    };
  }

  /**
   * A call that worked, less the recipients WhatsApp refused one by one: those
   * go back as a failed batch's would (the anchor's too).
   */
  settleRefused(batch: readonly number[], refused: readonly RecipientRefusal[]): void {
    if (refused.length === 0) {
      this.queue.succeeded(batch);
      return;
    }
    const why = new Map(refused.map((r) => [r.recipient, r.error]));
    this.queue.succeeded(batch.filter((p) => !why.has(this.queue.list[p]!)));
    for (const p of batch) {
      const error = why.get(this.queue.list[p]!);
      if (error) this.queue.retryOrFail([p], error.code, error.message);
    }
  }

  /**
   * Asks the transport to settle what earlier calls of this message id left in
   * doubt, and reports calls given up on that were delivered after all.
   * Cancelling stops the wait; what stays in doubt is retried or reported.
   */
  private async *settle(messageId: string, signal: AbortSignal): AsyncGenerator<BatchEvent> {
    const { transport, config, log } = this.deps;
    if (!transport.settle) return;
    let outcomes: readonly LateOutcome[];
    try {
      outcomes = await transport.settle(this.sessionId, messageId, signal);
    } catch (error) {
      if (!signal.aborted) log.warn({ err: error }, 'could not settle earlier calls; going on');
      return;
    }
    for (const outcome of outcomes) {
      if (!outcome.delivered) {
        log.info({ index: outcome.batchIndex, code: outcome.error?.code }, 'a call given up on was refused after all');
        continue;
      }
      const moved = this.queue.confirmLate(outcome.recipients);
      log.info(
        { index: outcome.batchIndex, recipients: outcome.recipients.length, moved, afterMs: outcome.afterMs },
        'a call given up on was delivered after all',
      );
      if (moved === 0) continue;
      const more = this.queue.remaining > 0;
      yield {
        type: 'batch',
        index: outcome.batchIndex ?? this.batchSequence.length - 1,
        late: true,
        size: moved,
        durationMs: outcome.afterMs,
        ok: true,
        speed: speedOf(outcome.afterMs, config),
        delivered: this.queue.delivered,
        failed: this.queue.failedCount,
        remaining: this.queue.remaining,
        nextSize: more ? this.nextSize : 0,
        reason: `WhatsApp acknowledged batch ${outcome.batchIndex ?? '?'} ${outcome.afterMs} ms after it started: ${moved} delivered after all, not sent again`,
      };
    }
  }

  private context(): StrategyContext {
    return {
      config: this.deps.config,
      history: this.history,
      total: this.queue.total,
      remaining: this.queue.remaining,
      batchesSent: this.batchSequence.length,
      batchesOk: this.batchesOk,
      ...(this.anchorMs !== undefined ? { anchorMs: this.anchorMs } : {}),
      callsPerSecond: this.deps.pacer.rateOf(this.sessionId),
    };
  }

  /** Runs a strategy step; a strategy that throws or answers nonsense must not break a send. */
  private decide(step: () => Step<unknown>, fallback: Omit<Step<unknown>, 'reason'>): Step<unknown> {
    try {
      const next = step();
      if (Number.isFinite(next.size) && next.size >= 1) return next;
      this.deps.log.error({ size: next.size }, 'strategy returned an invalid size; keeping the previous one');
    } catch (error) {
      this.deps.log.error({ err: error }, 'strategy threw; keeping the previous size');
    }
    return { state: fallback.state, size: fallback.size, reason: 'strategy error: keeping the previous size' };
  }
}
