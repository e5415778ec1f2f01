/**
 * The send engine: one status to many recipients, as DESIGN.md "The send, step
 * by step" describes. It knows a Transport, a Clock, a SessionMemory and a
 * Strategy, and nothing of gRPC or Baileys; the server, the CLI and the
 * benchmark all run this same code.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { SmartSendConfig } from '../config.js';
import { silentLogger, type Logger } from '../log.js';
import type { SendRecorder, SessionMemory } from '../memory/types.js';
import { normalizeRecipients, type NormalizedRecipients } from '../recipients.js';
import type { AnyStrategy } from '../../strategies/sdk.js';
import type { PreparedStory, RecipientCheck, RecipientRefusal, Story, Transport } from '../transport/port.js';
import { callWithTimeout } from './call.js';
import type { AnchorEvent, PlannedEvent, SendEvent, SummaryEvent } from './events.js';
import { SessionPacer } from './pacer.js';
import { retry } from './retry.js';
import { SendError } from './send-error.js';
import { SendRun } from './send-run.js';

// The tail rule lives in the SDK, so strategies and the engine read the same one.
export { planSize } from '../../strategies/sdk.js';

export interface EngineOptions {
  readonly transport: Transport;
  readonly clock: Clock;
  readonly memory: SessionMemory;
  readonly config: SmartSendConfig;
  readonly logger?: Logger;
  /** Largest recipient list accepted per send (raw inputs, before normalisation). */
  readonly maxRecipients?: number;
  readonly newSendId?: () => string;
  /** Ask the transport which recipients are not on WhatsApp before sending (if it can tell). */
  readonly checkRecipients?: boolean;
}

export interface SendInput {
  readonly sessionId: string;
  readonly story: Story;
  readonly recipients: readonly string[];
  readonly strategy: AnyStrategy;
  /** Cancels the send: the call in flight finishes, nothing starts after it. */
  readonly signal?: AbortSignal;
  /** The caller's logger (e.g. one carrying a request id); the engine's own otherwise. */
  readonly logger?: Logger;
}

/** The engine's own view of the default limits (the server passes config values). */
const DEFAULT_MAX_RECIPIENTS = 100_000;

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
    const log = (input.logger ?? this.logger).child({ sendId, sessionId: input.sessionId, strategy: input.strategy.name });

    if (input.sessionId.trim() === '') throw new SendError('MISSING_SESSION_ID', 'session_id is required', 'session_id');
    const maxRecipients = this.options.maxRecipients ?? DEFAULT_MAX_RECIPIENTS;
    if (input.recipients.length > maxRecipients) {
      throw new SendError(
        'TOO_MANY_RECIPIENTS',
        `recipients has ${input.recipients.length} entries; the limit is ${maxRecipients}`,
        'recipients',
      );
    }
    const normalized = normalizeRecipients(input.recipients);
    const { invalid, duplicates } = normalized;
    const { valid, audience } = await this.preflight(input, normalized, signal, log);
    if (valid.length === 0) {
      // Positions, not the inputs themselves: this message ends up in logs, where numbers must not.
      const sample = invalid
        .slice(0, 3)
        .map((i) => `recipients[${i.index}]: ${i.reason}`)
        .join('; ');
      throw new SendError('NO_VALID_RECIPIENTS', `recipients has no valid recipient${sample ? ` (${sample})` : ''}`, 'recipients');
    }

    const history = memory.enabled ? await memory.load(input.sessionId) : null;
    const recorder = memory.begin(input.sessionId, history);
    // A list too big for one call goes in batches even when under the smart-send threshold.
    const smart = valid.length >= config.minRecipientsForSmartSend || valid.length > config.maxBatchSize;
    // Smart: the anchor goes to the first recipient alone, the rest in batches. Single: one call to all.
    const anchorRecipients = smart ? valid.slice(0, 1) : valid;
    const run = new SendRun(
      { transport, clock, config, pacer: this.pacer, log },
      input.sessionId,
      input.strategy,
      smart ? valid.slice(1) : [],
      history,
      recorder,
    );
    if (smart) run.start();

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
      firstBatchSize: smart ? run.nextSize : valid.length,
      reason: `${smart ? run.reason : `${valid.length} recipients is under ${config.minRecipientsForSmartSend}: one plain send`}${audience ? ` (${audience})` : ''}`,
    };
    log.info({ total: valid.length, invalid: invalid.length, mode: planned.mode, provenSize: planned.provenSize }, 'send planned');
    yield planned;

    const finish = async (messageId: string, stoppedBy: SummaryEvent['stoppedBy']): Promise<SummaryEvent> => {
      await recorder.flush();
      const summary = this.summarize(sendId, messageId, valid.length, invalid.length, run, started, stoppedBy);
      log.info({ delivered: summary.delivered, failed: summary.failed.length, batches: summary.batches, stoppedBy }, 'send finished');
      return summary;
    };
    // The first batch's devices and keys are fetched while the story is prepared and anchored.
    if (smart) run.warmNext(signal);
    const prepared = signal.aborted ? undefined : await this.prepare(input, signal);
    const anchor =
      prepared && !signal.aborted ? await this.sendAnchor(input.sessionId, prepared, anchorRecipients, recorder, smart, signal) : undefined;
    if (!prepared || !anchor) {
      run.queue.failAll(anchorRecipients, 'CANCELLED', 'the caller cancelled the send before it started');
      yield await finish('', 'CANCELLED');
      return;
    }
    // Recipients the anchor call refused one by one go on as a failed batch's would.
    const refusedSet = new Set(anchor.refused.map((r) => r.recipient));
    run.queue.succeeded(refusedSet.size ? anchorRecipients.filter((r) => !refusedSet.has(r)) : anchorRecipients);
    for (const { recipient, error } of anchor.refused) run.queue.retryOrFail([recipient], error.code, error.message);
    if (smart) run.start(anchor.event.durationMs);
    yield anchor.event;
    const stoppedBy = yield* run.batches(prepared, anchor.event.messageId, signal);
    yield await finish(anchor.event.messageId, stoppedBy);
  }

  /**
   * The transport's pre-flight, when enabled: recipients not on WhatsApp move to
   * `invalid` (by index, like the others), and what limits the status's
   * audience comes back for `planned` to say. A check that fails costs nothing
   * but the check: the send goes on with everyone. The transport bounds its own
   * time (per chunk of numbers); cancelling the send stops it.
   */
  private async preflight(
    input: SendInput,
    normalized: NormalizedRecipients,
    signal: AbortSignal,
    log: Logger,
  ): Promise<{ valid: string[]; audience?: string }> {
    const { transport } = this.options;
    if (!this.options.checkRecipients || !transport.checkRecipients || normalized.valid.length === 0) return { valid: normalized.valid };
    let check: RecipientCheck;
    try {
      check = await transport.checkRecipients(input.sessionId, normalized.valid, signal);
    } catch (error) {
      log.warn({ err: error }, 'recipient pre-flight check failed; sending to everyone');
      return { valid: normalized.valid };
    }
    const missing = check.notOnWhatsApp;
    normalized.valid.forEach((jid, i) => {
      const index = normalized.indexes[i]!;
      if (missing.has(jid)) normalized.invalid.push({ index, input: input.recipients[index]!, reason: 'not on WhatsApp' });
    });
    normalized.invalid.sort((a, b) => a.index - b.index);
    const valid = missing.size ? normalized.valid.filter((jid) => !missing.has(jid)) : normalized.valid;
    return { valid, ...(check.audience ? { audience: check.audience } : {}) };
  }

  /**
   * Prepares the story once per send (media uploads happen here, never per batch).
   * callWithTimeout stops waiting for a timed-out attempt, but its upload may
   * still be winding down: the next attempt starts only once it has settled, so
   * two uploads of one story never run at once. An attempt that has not settled
   * a whole timeout after being told to stop ends the retries instead.
   */
  private async prepare(input: SendInput, signal: AbortSignal): Promise<PreparedStory | undefined> {
    const { clock, config, transport } = this.options;
    let settled: Promise<unknown> = Promise.resolve();
    const outcome = await retry<PreparedStory>({
      maxAttempts: config.maxAttempts,
      signal,
      attempt: async () => {
        settled = Promise.resolve();
        const result = await callWithTimeout(clock, config.batchTimeoutMs, (s) => {
          const work = transport.prepare(input.sessionId, input.story, s);
          settled = work.catch(() => undefined);
          return work;
        });
        // The request itself is at fault (its media URL or size): another attempt would fail the same way.
        if (!result.ok && result.error.cause instanceof SendError) throw result.error.cause;
        return result;
      },
      beforeRetry: async (last) => {
        const stop = new AbortController();
        const grace = clock.sleep(config.batchTimeoutMs, AbortSignal.any([signal, stop.signal])).then(
          () => 'stuck' as const,
          () => 'cancelled' as const,
        );
        const waited = await Promise.race([settled.then(() => 'settled' as const), grace]);
        stop.abort();
        if (waited === 'stuck') {
          throw new SendError(
            'PREPARE_FAILED',
            `the story could not be prepared: an attempt that timed out was still running ${config.batchTimeoutMs} ms later`,
            undefined,
            last.code,
            { cause: last },
          );
        }
        return waited === 'settled';
      },
    });
    if (!outcome) return undefined;
    if (outcome.ok) return outcome.value;
    throw SendError.fromTransport('PREPARE_FAILED', 'the story could not be prepared', outcome.error);
  }

  /** The first call: creates the status and its message id. Retried; failing it fails the send. */
  private async sendAnchor(
    sessionId: string,
    story: PreparedStory,
    recipients: readonly string[],
    recorder: SendRecorder,
    smart: boolean,
    signal: AbortSignal,
  ): Promise<{ event: AnchorEvent; refused: readonly RecipientRefusal[] } | undefined> {
    const { clock, config, transport } = this.options;
    const outcome = await retry<{ event: AnchorEvent; refused: readonly RecipientRefusal[] }>({
      maxAttempts: config.maxAttempts,
      signal,
      attempt: async (n) => {
        try {
          await this.pacer.acquire(sessionId, signal);
        } catch {
          return undefined;
        }
        const result = await callWithTimeout(clock, config.batchTimeoutMs, (s) => transport.send({ sessionId, story, recipients }, s));
        // A lone anchor proves nothing about batch size; the single-mode call is a real batch.
        if (!smart)
          recorder.record({
            size: recipients.length,
            durationMs: result.durationMs,
            ok: result.ok,
            sizeRelated: !result.ok && result.error.code !== 'RATE_LIMITED',
          });
        if (!result.ok) return result;
        const refused = result.value.refused ?? [];
        // Refused to the last recipient, the call reached nobody: another attempt, as for a failure.
        if (refused.length >= recipients.length) return { ok: false, error: refused[0]!.error };
        const event: AnchorEvent = {
          type: 'anchor',
          messageId: result.value.messageId,
          recipients: recipients.length - refused.length,
          durationMs: result.durationMs,
          attempts: n,
        };
        return { ok: true, value: { event, refused } };
      },
    });
    if (!outcome) return undefined;
    if (outcome.ok) return outcome.value;
    await recorder.flush();
    throw SendError.fromTransport('ANCHOR_FAILED', 'the anchor could not be sent', outcome.error);
  }

  private summarize(
    sendId: string,
    messageId: string,
    total: number,
    invalid: number,
    run: SendRun,
    started: number,
    stoppedBy: SummaryEvent['stoppedBy'],
  ): SummaryEvent {
    const { clock, config, memory } = this.options;
    const proven = run.recorder.history?.maxProvenBatchSize ?? 0;
    return {
      type: 'summary',
      sendId,
      messageId,
      total,
      delivered: run.queue.delivered,
      failed: run.queue.failed,
      invalid,
      batches: run.batchSequence.length,
      batchSequence: run.batchSequence,
      totalDurationMs: clock.now() - started,
      ...(stoppedBy ? { stoppedBy } : {}),
      learning: {
        maxProvenBatchSize: proven,
        usedHistoricalData: (run.history?.maxProvenBatchSize ?? 0) > 0,
        willSkipRampingNextTime: memory.enabled && proven > config.progressiveSequence[0]!,
      },
    };
  }
}
