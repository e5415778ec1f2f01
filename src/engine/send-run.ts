/**
 * The state of one send after the anchor: who is pending, what the strategy
 * decided, what has been sent; and the batch loop that moves it forward.
 * SendEngine validates, prepares and anchors, then hands over to a SendRun.
 */
import { MIN_CALL_TIMEOUT_MS, speedOf, type BatchErrorKind, type BatchOutcome, type Step, type StrategyContext } from '../../strategies/sdk.js';
import type { Clock } from '../clock.js';
import type { SmartSendConfig } from '../config.js';
import type { Logger } from '../log.js';
import type { SessionBatchHistory } from '../memory/history.js';
import type { SendRecorder } from '../memory/types.js';
import type { AnyStrategy } from '../../strategies/sdk.js';
import type { PreparedStory, Transport, TransportError, TransportErrorCode } from '../transport.js';
import { callWithTimeout } from './call.js';
import type { BatchEvent, SummaryEvent } from './events.js';
import type { SessionPacer } from './pacer.js';
import { RecipientQueue } from './queue.js';

export interface SendRunDeps {
  readonly transport: Transport;
  readonly clock: Clock;
  readonly config: SmartSendConfig;
  readonly pacer: SessionPacer;
  readonly log: Logger;
}

type StoppedBy = SummaryEvent['stoppedBy'];

function errorKind(code: TransportErrorCode): BatchErrorKind {
  return code === 'TIMEOUT' ? 'timeout' : code === 'RATE_LIMITED' ? 'rate_limited' : 'error';
}

export class SendRun {
  readonly queue: RecipientQueue;
  readonly batchSequence: number[] = [];
  private batchesOk = 0;
  /** Size of the last batch that worked: a failed batch larger than it was a size probe. */
  private lastOk = 0;
  private step: Step<unknown>;

  constructor(
    private readonly deps: SendRunDeps,
    readonly sessionId: string,
    private readonly strategy: AnyStrategy,
    /** Recipients that go out in batches (everyone but the anchor). */
    pending: readonly string[],
    readonly history: SessionBatchHistory | null,
    readonly recorder: SendRecorder,
  ) {
    this.queue = new RecipientQueue(pending, deps.config.maxAttempts);
    this.step = { state: undefined, size: deps.config.progressiveSequence[0]!, reason: 'not started' };
  }

  private anchorMs: number | undefined;

  /**
   * Asks the strategy for its first decision (smart sends only). Called once to
   * plan, before the anchor, and again once the anchor's round trip is known:
   * strategies are pure, so the second call simply decides with more to go on.
   */
  start(anchorMs?: number): void {
    this.anchorMs = anchorMs;
    this.step = this.decide(() => this.strategy.start(this.context()), this.step);
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
    let stoppedBy: StoppedBy;
    while (this.queue.remaining > 0 && !signal.aborted) {
      const size = this.nextSize;
      try {
        await pacer.acquire(this.sessionId, signal);
      } catch {
        break; // cancelled while waiting for a slot
      }
      const batch = this.queue.take(size);
      const timeoutMs = Math.min(config.batchTimeoutMs, Math.max(MIN_CALL_TIMEOUT_MS, this.step.timeoutMs ?? Infinity));
      const result = await callWithTimeout(clock, timeoutMs, (s) =>
        transport.send({ sessionId: this.sessionId, story, recipients: batch, messageId }, s),
      );
      this.batchSequence.push(batch.length);
      const error: TransportError | undefined = result.ok ? undefined : result.error;
      if (!error) {
        this.batchesOk++;
        this.lastOk = batch.length;
        this.queue.succeeded(batch);
      } else if (error.fatal) {
        stoppedBy = error.code;
        this.queue.failAll(batch, error.code, error.message);
      } else {
        const probe = error.code === 'RATE_LIMITED' || (this.lastOk > 0 && batch.length > this.lastOk);
        this.queue.retryOrFail(batch, error.code, error.message, !probe);
      }
      this.recorder.record({ size: batch.length, durationMs: result.durationMs, ok: result.ok, sizeRelated: error?.code !== 'RATE_LIMITED' });
      const more = this.queue.remaining > 0 && !stoppedBy;
      if (more) {
        const outcome: BatchOutcome = error
          ? { size: batch.length, durationMs: result.durationMs, ok: false, error: errorKind(error.code) }
          : { size: batch.length, durationMs: result.durationMs, ok: true };
        const previous = this.step;
        this.step = this.decide(() => this.strategy.next(previous.state, outcome, this.context()), previous);
      }
      const event: BatchEvent = {
        type: 'batch',
        index: this.batchSequence.length - 1,
        size: batch.length,
        durationMs: result.durationMs,
        ok: result.ok,
        ...(error ? { error: { code: error.code, message: error.message, retryable: !error.fatal } } : {}),
        speed: speedOf(result.durationMs, config),
        delivered: this.queue.delivered,
        failed: this.queue.failed.length,
        remaining: this.queue.remaining,
        nextSize: more ? this.nextSize : 0,
        reason: more ? this.step.reason : stoppedBy ? `stopped: ${error!.message}` : 'all recipients sent',
      };
      this.deps.log.debug({ index: event.index, size: event.size, durationMs: event.durationMs, ok: event.ok, code: error?.code }, 'batch');
      yield event;
      if (stoppedBy) return stoppedBy;
      if (more && error?.retryAfterMs) {
        try {
          await clock.sleep(error.retryAfterMs, signal);
        } catch {
          break;
        }
      }
    }
    if (this.queue.remaining === 0) return undefined;
    this.queue.failAll([], 'CANCELLED', 'the caller cancelled the send before these were sent');
    return 'CANCELLED';
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

/**
 * The size actually sent: the strategy's wish, whole and within [1, maxBatchSize],
 * and the seed's tail rule: when what remains is under 1.5x the size, send it
 * all at once (still never above maxBatchSize) rather than leave a small tail.
 */
export function planSize(wanted: number, remaining: number, maxBatchSize: number): number {
  const size = Math.max(1, Math.min(maxBatchSize, Math.floor(wanted)));
  if (remaining < size * 1.5) return Math.min(remaining, maxBatchSize);
  return size;
}
