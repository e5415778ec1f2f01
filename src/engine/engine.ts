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
import type { SessionMemory } from '../memory/types.js';
import { normalizeRecipients, sourcesOf, type NormalizedRecipients } from '../recipients.js';
import type { AnyStrategy } from '../../strategies/sdk.js';
import type { PreparedStory, RecipientCheck, Story, Transport } from '../transport/port.js';
import type { PlannedEvent, SendEvent, SummaryEvent } from './events.js';
import { decodeStep, encodeStep, toRuns, type Checkpoint, type JournalStep, type ResumePoint } from './checkpoint.js';
import { SessionPacer } from './pacer.js';
import { SendError } from './send-error.js';
import type { Pending } from './queue.js';
import { SendRun } from './send-run.js';
import { prepareStory, sendAnchor, type OpeningDeps } from './opening.js';

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
  /** Recipients named by reference (already JIDs), sent to besides `recipients`: the union, deduplicated. */
  readonly audience?: Audience;
  readonly strategy: AnyStrategy;
  /** Cancels the send: the call in flight finishes, nothing starts after it. */
  readonly signal?: AbortSignal;
  /** The caller's logger (e.g. one carrying a request id); the engine's own otherwise. */
  readonly logger?: Logger;
  /** Why this strategy (and, when an experiment chose it, which experiment and arm): `planned` says so. */
  readonly choice?: StrategyChoice;
  /** The id to send under, when one was given out before the send (a scheduled send's); a new one otherwise. */
  readonly sendId?: string;
}

/** A saved list's recipients and the session's contacts, when the request named them. */
export interface Audience {
  readonly list?: readonly string[];
  readonly contacts?: readonly string[];
}

/** Who chose a send's strategy; the engine only reports it, and keys memory by `memoryKey`. */
export interface StrategyChoice {
  readonly reason: string;
  readonly experiment?: string;
  readonly arm?: string;
  /** The experiment's unit this send was assigned by (a session id, a request_id, or a per-send id). */
  readonly unit?: string;
  /**
   * Where the send's session memory is read and recorded, instead of the
   * session id: an experiment randomising sends keeps each arm's learning
   * apart, so one strategy's proven size never starts the other's sends.
   */
  readonly memoryKey?: string;
}

/** What deliver() carries from a new or resumed send. */
interface Delivery {
  readonly planned: PlannedEvent;
  /** Every valid recipient, in the order checkpoints number them. */
  readonly valid: readonly string[];
  readonly run: SendRun;
  readonly story: Story;
  readonly prepared?: PreparedStory;
  readonly messageId?: string;
  readonly signal: AbortSignal;
  readonly log: Logger;
  /** On the engine's clock; a resume's is moved back by the time taken before it. */
  readonly started: number;
  readonly journal: boolean;
}

function choiceFields(choice: StrategyChoice | undefined): Partial<PlannedEvent> {
  if (!choice) return {};
  return {
    strategyReason: choice.reason,
    ...(choice.experiment !== undefined ? { experiment: choice.experiment } : {}),
    ...(choice.arm !== undefined ? { arm: choice.arm } : {}),
    ...(choice.unit !== undefined ? { unit: choice.unit } : {}),
    ...(choice.memoryKey !== undefined ? { memoryKey: choice.memoryKey } : {}),
  };
}

/** Positions 0..length-1 settled in neither set, in order: who a resume still sends to. */
function unsettled(length: number, delivered: ReadonlySet<number>, failed: ReadonlyMap<number, unknown>): number[] {
  const pending: number[] = [];
  for (let i = 0; i < length; i++) if (!delivered.has(i) && !failed.has(i)) pending.push(i);
  return pending;
}

/** The events of a journaled run, for callers without a journal. */
async function* eventsOf(steps: AsyncIterable<JournalStep>): AsyncGenerator<SendEvent> {
  for await (const step of steps) if (step.kind !== 'prepared') yield step.event;
}

/** The engine's own view of the default limits (the server passes config values). */
const DEFAULT_MAX_RECIPIENTS = 100_000;

export class SendEngine {
  private readonly pacer: SessionPacer;
  private readonly logger: Logger;

  private readonly opening: OpeningDeps;

  constructor(private readonly options: EngineOptions) {
    this.pacer = new SessionPacer(options.clock, options.config.maxBatchesPerSecond);
    this.logger = options.logger ?? silentLogger;
    this.opening = { transport: options.transport, clock: options.clock, config: options.config, pacer: this.pacer };
  }

  /** Runs one send. Input errors surface as a SendError from the first `next()`. */
  send(input: SendInput): AsyncIterable<SendEvent> {
    return eventsOf(this.run(input, false));
  }

  /**
   * Runs one send for a journal: its events with checkpoints, the recipient list
   * with `planned`, and the prepared story (see checkpoint.ts). Nothing is sent
   * before `planned` is taken, nor between two steps.
   */
  journaled(input: SendInput): AsyncIterable<JournalStep> {
    return this.run(input, true);
  }

  /**
   * Goes on with a journaled send where its journal stopped: the same send id,
   * message id and strategy state; recipients the journal does not show
   * delivered or failed are sent (again: at least once). Yields what journaled()
   * would from there on, never `planned` again.
   */
  resume(point: ResumePoint): AsyncIterable<JournalStep> {
    return this.resumeRun(point);
  }

  private async *run(input: SendInput, journal: boolean): AsyncGenerator<JournalStep> {
    const { clock, config, memory } = this.options;
    const started = clock.now();
    const signal = input.signal ?? new AbortController().signal;
    const sendId = input.sendId ?? (this.options.newSendId ?? randomUUID)();
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
    const list = input.audience?.list ?? [];
    const contacts = input.audience?.contacts ?? [];
    // After the request's own, so an invalid entry's index is its place in `recipients`.
    const normalized = normalizeRecipients(
      list.length + contacts.length === 0 ? input.recipients : [...input.recipients, ...list, ...contacts],
    );
    if (normalized.valid.length > maxRecipients) {
      const field = list.length > 0 ? 'recipient_list' : 'all_contacts';
      throw new SendError(
        'TOO_MANY_RECIPIENTS',
        `recipients with ${field} name ${normalized.valid.length} recipients together; the limit is ${maxRecipients}`,
        field,
      );
    }
    const sources = sourcesOf(normalized, [input.recipients.length, list.length, contacts.length]);
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

    const memoryKey = input.choice?.memoryKey ?? input.sessionId;
    const history = memory.enabled ? await memory.load(memoryKey) : null;
    const recorder = memory.begin(memoryKey, history);
    // A list too big for one call goes in batches even when under the smart-send threshold.
    const smart = valid.length >= config.minRecipientsForSmartSend || valid.length > config.maxBatchSize;
    const run = new SendRun(
      { transport: this.options.transport, clock, config, pacer: this.pacer, log },
      input.sessionId,
      input.strategy,
      valid,
      smart ? { from: 1 } : [],
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
      sources,
      invalid,
      duplicates,
      usedHistory: (history?.maxProvenBatchSize ?? 0) > 0,
      provenSize: history?.maxProvenBatchSize ?? 0,
      firstBatchSize: smart ? run.nextSize : valid.length,
      reason: `${smart ? run.reason : `${valid.length} recipients is under ${config.minRecipientsForSmartSend}: one plain send`}${audience ? ` (${audience})` : ''}`,
      ...choiceFields(input.choice),
    };
    log.info({ total: valid.length, invalid: invalid.length, mode: planned.mode, provenSize: planned.provenSize }, 'send planned');
    yield { kind: 'planned', event: planned, recipients: valid };
    yield* this.deliver({ planned, valid, run, story: input.story, signal, log, started, journal });
  }

  private async *resumeRun(point: ResumePoint): AsyncGenerator<JournalStep> {
    const { clock, config, memory, transport } = this.options;
    const { planned, recipients } = point;
    const signal = point.signal ?? new AbortController().signal;
    const log = (point.logger ?? this.logger).child({ sendId: planned.sendId, sessionId: planned.sessionId, strategy: planned.strategy });
    const smart = planned.mode === 'smart';
    const memoryKey = planned.memoryKey ?? planned.sessionId;
    const history = memory.enabled ? await memory.load(memoryKey) : null;
    const recorder = memory.begin(memoryKey, history);
    // Before the anchor nothing was delivered: the batches are for everyone but it, as on the first run.
    const anchored = point.messageId !== undefined;
    const pending: Pending = anchored ? unsettled(recipients.length, point.delivered, point.failed) : smart ? { from: 1 } : [];
    const failed = [...point.failed.values()];
    const run = new SendRun(
      { transport, clock, config, pacer: this.pacer, log },
      planned.sessionId,
      point.strategy,
      recipients,
      pending,
      history,
      recorder,
      {
        settled: { total: smart ? recipients.length - 1 : 0, delivered: point.delivered.size, failed },
        calls: point.calls,
        ...(point.step ? { step: decodeStep(point.step) } : {}),
        ...(point.anchorMs !== undefined ? { anchorMs: point.anchorMs } : {}),
      },
    );
    if (smart && !run.decision) run.start(point.anchorMs);
    let prepared: PreparedStory | undefined;
    if (point.prepared) {
      try {
        if (!transport.restoreStory) throw new Error('this transport cannot restore a saved story');
        prepared = transport.restoreStory(planned.sessionId, point.prepared, point.messageId);
      } catch (error) {
        throw new SendError('PREPARE_FAILED', `the journaled story could not be read: ${(error as Error).message}`, undefined, undefined, {
          cause: error,
        });
      }
    }
    const story = point.story ?? prepared?.story;
    if (!story) throw new SendError('PREPARE_FAILED', 'the journal holds no story to send');
    log.info({ pending: run.queue.remaining, delivered: point.delivered.size, failed: failed.length, anchored }, 'send resumed');
    yield* this.deliver({
      planned,
      valid: recipients,
      run,
      story,
      signal,
      log,
      started: clock.now() - point.elapsedMs,
      journal: true,
      ...(prepared ? { prepared } : {}),
      ...(point.messageId !== undefined ? { messageId: point.messageId } : {}),
    });
  }

  /**
   * From the planned send to its summary: prepare (unless a resume brought the
   * story), the anchor (unless one went), the batches. With `journal`, every
   * event carries the recipients it settled, by position in `valid`.
   */
  private async *deliver(d: Delivery): AsyncGenerator<JournalStep> {
    const { run, signal, log, valid } = d;
    const { clock, transport } = this.options;
    const smart = d.planned.mode === 'smart';
    if (d.journal) run.queue.track();
    const step = (event: SendEvent): JournalStep => {
      if (!d.journal) return { kind: 'event', event };
      const { delivered, failed } = run.queue.changes();
      const decision = run.decision;
      const strategy = decision ? encodeStep(decision) : undefined;
      const checkpoint: Checkpoint = {
        ...(delivered.length ? { delivered: toRuns(delivered) } : {}),
        ...(failed.length ? { failed } : {}),
        ...(strategy ? { strategy } : {}),
        elapsedMs: clock.now() - d.started,
      };
      return { kind: 'event', event, checkpoint };
    };
    const finish = async (messageId: string, stoppedBy: SummaryEvent['stoppedBy']): Promise<JournalStep> => {
      await run.recorder.flush();
      const summary = this.summarize(d.planned.sendId, messageId, valid.length, d.planned.invalid.length, run, d.started, stoppedBy);
      log.info({ delivered: summary.delivered, failed: summary.failed.length, batches: summary.batches, stoppedBy }, 'send finished');
      return step(summary);
    };

    let prepared = d.prepared;
    let messageId = d.messageId;
    // Smart: the anchor goes to the first recipient alone, the rest in batches. Single: one call to all.
    const anchorRecipients = smart ? valid.slice(0, 1) : valid;
    const anchorPositions = smart ? [0] : valid.map((_, i) => i);
    if (!prepared) {
      // The first batch's devices and keys are fetched while the story is prepared and anchored.
      if (smart && messageId === undefined) run.warmNext(signal);
      prepared = signal.aborted ? undefined : await prepareStory(this.opening, d.planned.sessionId, d.story, signal);
      if (prepared && d.journal && transport.saveStory) yield { kind: 'prepared', story: transport.saveStory(prepared) };
    }
    if (prepared && messageId === undefined) {
      const anchor = signal.aborted
        ? undefined
        : await sendAnchor(this.opening, d.planned.sessionId, prepared, anchorRecipients, run.recorder, smart, signal);
      if (anchor) {
        run.settleRefused(anchorPositions, anchor.refused);
        if (smart) run.start(anchor.event.durationMs);
        messageId = anchor.event.messageId;
        yield step(anchor.event);
      }
    }
    if (!prepared || messageId === undefined) {
      const before = messageId === undefined ? 'before it started' : 'before these were sent';
      run.queue.failAll(messageId === undefined ? anchorPositions : [], 'CANCELLED', `the caller cancelled the send ${before}`);
      yield await finish(messageId ?? '', 'CANCELLED');
      return;
    }
    const batches = run.batches(prepared, messageId, signal);
    let stoppedBy: SummaryEvent['stoppedBy'];
    try {
      for (let next = await batches.next(); ; next = await batches.next()) {
        if (next.done) {
          stoppedBy = next.value;
          break;
        }
        yield step(next.value);
      }
    } finally {
      await batches.return(undefined);
    }
    yield await finish(messageId, stoppedBy);
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
