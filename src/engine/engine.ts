/**
 * The send engine: one status to many recipients, as DESIGN.md "The send, step
 * by step" describes. It knows a Transport, a Clock, a SessionMemory and a
 * Strategy, and nothing of gRPC or Baileys; the server, the CLI and the
 * benchmark all run this same code.
 */
import { randomUUID } from 'node:crypto';
import { speedOf, type BatchOutcome, type DefinedStrategy, type Step, type StrategyContext } from '../../strategies/sdk.js';
import type { Clock } from '../clock.js';
import type { SmartSendConfig } from '../config.js';
import { silentLogger, type Logger } from '../log.js';
import type { SessionBatchHistory } from '../memory/history.js';
import type { SendRecorder, SessionMemory } from '../memory/types.js';
import { normalizeRecipients } from '../recipients.js';
import type { PreparedStory, Story, Transport, TransportError } from '../transport.js';
import { callWithTimeout } from './call.js';
import type { AnchorEvent, BatchEvent, PlannedEvent, SendEvent, SummaryEvent } from './events.js';
import { SessionPacer } from './pacer.js';
import { RecipientQueue } from './queue.js';
import { SendError } from './send-error.js';

export interface EngineOptions {
  readonly transport: Transport;
  readonly clock: Clock;
  readonly memory: SessionMemory;
  readonly config: SmartSendConfig;
  readonly logger?: Logger;
  /** Largest recipient list accepted per send (raw inputs, before normalisation). */
  readonly maxRecipients?: number;
  readonly newSendId?: () => string;
}

export interface SendInput {
  readonly sessionId: string;
  readonly story: Story;
  readonly recipients: readonly string[];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly strategy: DefinedStrategy<any>;
  /** Cancels the send: the call in flight finishes, nothing starts after it. */
  readonly signal?: AbortSignal;
}

/** The engine's own view of the default limits (the server passes config values). */
export const DEFAULT_MAX_RECIPIENTS = 100_000;

export class SendEngine {
  private readonly pacer: SessionPacer;
  private readonly logger: Logger;

  constructor(private readonly options: EngineOptions) {
    this.pacer = new SessionPacer(options.clock, options.config.maxBatchesPerSecond);
    this.logger = options.logger ?? silentLogger;
  }

  /** Runs one send. Input errors surface as a SendError from the first `next()`. */
  send(input: SendInput): AsyncIterable<SendEvent> {
    return this.run(input);
  }

  private async *run(input: SendInput): AsyncGenerator<SendEvent> {
    const { clock, config, memory, transport } = this.options;
    const started = clock.now();
    const signal = input.signal ?? new AbortController().signal;
    const sendId = (this.options.newSendId ?? randomUUID)();
    const log = this.logger.child({ sendId, sessionId: input.sessionId, strategy: input.strategy.name });

    if (input.sessionId.trim() === '') throw new SendError('MISSING_SESSION_ID', 'session_id is required', 'session_id');
    const maxRecipients = this.options.maxRecipients ?? DEFAULT_MAX_RECIPIENTS;
    if (input.recipients.length > maxRecipients) {
      throw new SendError(
        'TOO_MANY_RECIPIENTS',
        `recipients has ${input.recipients.length} entries; the limit is ${maxRecipients}`,
        'recipients',
      );
    }
    const { valid, invalid, duplicates } = normalizeRecipients(input.recipients);
    if (valid.length === 0) {
      const sample = invalid.slice(0, 3).map((i) => `"${i.input}": ${i.reason}`).join('; ');
      throw new SendError('NO_VALID_RECIPIENTS', `recipients has no valid recipient${sample ? ` (${sample})` : ''}`, 'recipients');
    }

    const history = memory.enabled ? await memory.load(input.sessionId) : null;
    const recorder = memory.begin(input.sessionId, history);
    // A list too big for one call goes in batches even when under the smart-send threshold.
    const smart = valid.length >= config.minRecipientsForSmartSend || valid.length > config.maxBatchSize;
    // The anchor goes to the first recipient alone; the rest go in batches.
    const queue = new RecipientQueue(smart ? valid.slice(1) : [], config.maxAttempts);
    const batchesSoFar = { sent: 0, ok: 0 };
    const context = (): StrategyContext => ({
      config,
      history,
      total: valid.length - 1,
      remaining: queue.remaining,
      batchesSent: batchesSoFar.sent,
      batchesOk: batchesSoFar.ok,
    });
    let step: Step<unknown> = smart
      ? this.decide(log, () => input.strategy.start(context()), { state: undefined, size: config.progressiveSequence[0]! })
      : { state: undefined, size: valid.length, reason: `${valid.length} recipients is under ${config.minRecipientsForSmartSend}: one plain send` };

    const planned: PlannedEvent = {
      type: 'planned',
      sendId,
      sessionId: input.sessionId,
      strategy: input.strategy.name,
      mode: smart ? 'smart' : 'single',
      total: valid.length,
      invalid,
      duplicates,
      usedHistory: (history?.maxProvenBatchSize ?? 0) > 0,
      provenSize: history?.maxProvenBatchSize ?? 0,
      firstBatchSize: smart ? planSize(step.size, queue.remaining, config.maxBatchSize) : valid.length,
      reason: step.reason,
    };
    log.info({ total: valid.length, invalid: invalid.length, mode: planned.mode, provenSize: planned.provenSize }, 'send planned');
    yield planned;

    const summary = (messageId: string, stoppedBy?: SummaryEvent['stoppedBy']): SummaryEvent =>
      this.summarize(sendId, messageId, valid.length, invalid.length, queue, recorder, history, started, batchSequence, stoppedBy);
    const batchSequence: number[] = [];

    const anchorRecipients = smart ? valid.slice(0, 1) : valid;
    const prepared = signal.aborted ? undefined : await this.prepare(input, signal);
    const cancelledBeforeStart = async (): Promise<SummaryEvent> => {
      queue.failAll(anchorRecipients, 'CANCELLED', 'the caller cancelled the send before it started');
      await recorder.flush();
      return summary('', 'CANCELLED');
    };
    if (!prepared || signal.aborted) {
      yield await cancelledBeforeStart();
      return;
    }
    const anchor = await this.sendAnchor(input.sessionId, prepared, anchorRecipients, recorder, smart, signal);
    if (!anchor) {
      yield await cancelledBeforeStart();
      return;
    }
    yield anchor;
    const messageId = anchor.messageId;
    if (!smart) {
      queue.delivered = valid.length;
      await recorder.flush();
      yield summary(messageId);
      return;
    }
    queue.delivered = 1;

    let stoppedBy: SummaryEvent['stoppedBy'];
    while (queue.remaining > 0) {
      if (signal.aborted) break;
      const size = planSize(step.size, queue.remaining, config.maxBatchSize);
      try {
        await this.pacer.acquire(input.sessionId, signal);
      } catch {
        break; // cancelled while waiting for a slot
      }
      const batch = queue.take(size);
      const result = await callWithTimeout(clock, config.batchTimeoutMs, (s) =>
        transport.send({ sessionId: input.sessionId, story: prepared, recipients: batch, messageId }, s),
      );
      batchesSoFar.sent++;
      batchSequence.push(batch.length);
      let error: TransportError | undefined;
      if (result.ok) {
        batchesSoFar.ok++;
        queue.succeeded(batch);
      } else {
        error = result.error;
        if (error.fatal) {
          stoppedBy = error.code;
          queue.failAll(batch, error.code, error.message);
        } else {
          queue.retryOrFail(batch, error.code, error.message);
        }
      }
      recorder.record({ size: batch.length, durationMs: result.durationMs, ok: result.ok, sizeRelated: error?.code !== 'RATE_LIMITED' });
      const outcome: BatchOutcome = {
        size: batch.length,
        durationMs: result.durationMs,
        ok: result.ok,
        ...(error ? { error: error.code === 'TIMEOUT' ? 'timeout' : error.code === 'RATE_LIMITED' ? 'rate_limited' : 'error' } : {}),
      } as BatchOutcome;
      const more = queue.remaining > 0 && !stoppedBy;
      if (more) step = this.decide(log, () => input.strategy.next(step.state, outcome, context()), step);
      const event: BatchEvent = {
        type: 'batch',
        index: batchesSoFar.sent - 1,
        size: batch.length,
        durationMs: result.durationMs,
        ok: result.ok,
        ...(error ? { error: { code: error.code, message: error.message, retryable: !error.fatal } } : {}),
        speed: speedOf(result.durationMs, config),
        delivered: queue.delivered,
        failed: queue.failed.length,
        remaining: queue.remaining,
        nextSize: more ? planSize(step.size, queue.remaining, config.maxBatchSize) : 0,
        reason: more ? step.reason : stoppedBy ? `stopped: ${error!.message}` : 'all recipients sent',
      };
      log.debug({ index: event.index, size: event.size, durationMs: event.durationMs, ok: event.ok, code: error?.code }, 'batch');
      yield event;
      if (stoppedBy) break;
      if (error?.retryAfterMs && more) {
        try {
          await clock.sleep(error.retryAfterMs, signal);
        } catch {
          break;
        }
      }
    }
    if (!stoppedBy && queue.remaining > 0) {
      stoppedBy = 'CANCELLED';
      queue.failAll([], 'CANCELLED', 'the caller cancelled the send before these were sent');
    }
    await recorder.flush();
    const done = summary(messageId, stoppedBy);
    log.info({ delivered: done.delivered, failed: done.failed.length, batches: done.batches, stoppedBy }, 'send finished');
    yield done;
  }

  /** Runs a strategy step; a strategy that throws or answers nonsense must not break a send. */
  private decide(log: Logger, step: () => Step<unknown>, fallback: Omit<Step<unknown>, 'reason'>): Step<unknown> {
    try {
      const next = step();
      if (Number.isFinite(next.size) && next.size >= 1) return next;
      log.error({ size: next.size }, 'strategy returned an invalid size; keeping the previous one');
    } catch (error) {
      log.error({ err: error }, 'strategy threw; keeping the previous size');
    }
    return { ...fallback, reason: 'strategy error: keeping the previous size' };
  }

  /** Prepares the story once per send (media uploads happen here, never per batch). */
  private async prepare(input: SendInput, signal: AbortSignal): Promise<PreparedStory | undefined> {
    const { clock, config, transport } = this.options;
    let last: TransportError | undefined;
    for (let attempt = 1; attempt <= config.maxAttempts; attempt++) {
      if (signal.aborted) return undefined;
      const result = await callWithTimeout(clock, config.batchTimeoutMs, (s) => transport.prepare(input.sessionId, input.story, s));
      if (result.ok) return result.value;
      last = result.error;
      if (last.fatal) break;
    }
    throw SendError.fromTransport('PREPARE_FAILED', 'the story could not be prepared', last!);
  }

  /** The first call: creates the status and its message id. Retried; failing it fails the send. */
  private async sendAnchor(
    sessionId: string,
    story: PreparedStory,
    recipients: readonly string[],
    recorder: SendRecorder,
    smart: boolean,
    signal: AbortSignal,
  ): Promise<AnchorEvent | undefined> {
    const { clock, config, transport } = this.options;
    let last: TransportError | undefined;
    for (let attempt = 1; attempt <= config.maxAttempts; attempt++) {
      if (signal.aborted) return undefined;
      try {
        await this.pacer.acquire(sessionId, signal);
      } catch {
        return undefined;
      }
      const result = await callWithTimeout(clock, config.batchTimeoutMs, (s) => transport.send({ sessionId, story, recipients }, s));
      // A lone anchor proves nothing about batch size; the single-mode call is a real batch.
      if (!smart) recorder.record({ size: recipients.length, durationMs: result.durationMs, ok: result.ok, sizeRelated: !result.ok && result.error.code !== 'RATE_LIMITED' });
      if (result.ok) {
        return { type: 'anchor', messageId: result.value.messageId, recipients: recipients.length, durationMs: result.durationMs, attempts: attempt };
      }
      last = result.error;
      if (last.fatal) break;
    }
    await recorder.flush();
    throw SendError.fromTransport('ANCHOR_FAILED', 'the anchor could not be sent', last!);
  }

  private summarize(
    sendId: string,
    messageId: string,
    total: number,
    invalid: number,
    queue: RecipientQueue,
    recorder: SendRecorder,
    history: SessionBatchHistory | null,
    started: number,
    batchSequence: readonly number[],
    stoppedBy: SummaryEvent['stoppedBy'],
  ): SummaryEvent {
    const { clock, config, memory } = this.options;
    const proven = recorder.history?.maxProvenBatchSize ?? 0;
    return {
      type: 'summary',
      sendId,
      messageId,
      total,
      delivered: queue.delivered,
      failed: queue.failed,
      invalid,
      batches: batchSequence.length,
      batchSequence,
      totalDurationMs: clock.now() - started,
      ...(stoppedBy ? { stoppedBy } : {}),
      learning: {
        maxProvenBatchSize: proven,
        usedHistoricalData: (history?.maxProvenBatchSize ?? 0) > 0,
        willSkipRampingNextTime: memory.enabled && proven > config.progressiveSequence[0]!,
      },
    };
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
