/**
 * The sends of this process, owned apart from any caller's stream: a send runs
 * in the background, every step it takes is written to the journal (the
 * store) before the next one starts, and any number of watchers read its log
 * from any index, then follow it live. A request_id makes starting
 * idempotent: the same id attaches to the send it started, a different
 * request with the same id is refused, and concurrent starts with one id start
 * one send. A send the journal shows unfinished (the process died, or shut
 * down and checkpointed it) is resumed by resumeAll(). Finished sends are
 * forgotten after the retention, measured on the registry's clock.
 */
import type { AnyStrategy } from '../../strategies/sdk.js';
import type { Clock } from '../clock.js';
import type { JournalStep } from '../engine/checkpoint.js';
import type { SendEngine, SendInput } from '../engine/engine.js';
import type { SendEvent, SummaryEvent } from '../engine/events.js';
import { silentLogger, type Logger } from '../log.js';
import { deferred, until, type Deferred } from '../util/deferred.js';
import { AfterEventOutOfRangeError, JournalUnavailableError, RequestIdReusedError, SendNotFoundError } from './errors.js';
import { failureError, failureOf } from './failure.js';
import { NO_PROGRESS, progressAfter } from './progress.js';
import { foldJournal, preparedStory, storyAsAsked } from './resume.js';
import type { SendFailure, SendProgress, SendQuery, SendRecord, SendState, SendStore } from './store.js';

/** What keeps count of running sends for shutdown (the server's RunningSends). */
interface SendTracker {
  start(signal: AbortSignal): { signal: AbortSignal; done: () => void };
}

export interface StartRequest {
  readonly input: Omit<SendInput, 'signal'>;
  /** '' for none: every such start is a new send. */
  readonly requestId: string;
  readonly fingerprint: string;
}

/**
 * CANCEL: the send is cancelled once every CANCEL caller attached to it has gone
 * away, unless some caller asked for CONTINUE. CONTINUE: the send outlives its callers.
 */
export type DisconnectMode = 'cancel' | 'continue';

export interface Attachment {
  readonly sendId: string;
  /** Ends this caller's hold on the send; `gone` when it left before the end. Idempotent. */
  release(gone: boolean): void;
}

export interface RegistryOptions {
  readonly engine: Pick<SendEngine, 'journaled' | 'resume'>;
  /** The strategy a resumed send goes on with, by the name its journal gives; undefined when not offered any more. */
  readonly strategyNamed?: (name: string) => AnyStrategy | undefined;
  readonly store: SendStore;
  readonly clock: Clock;
  readonly retentionMs: number;
  readonly tracker?: SendTracker;
  readonly logger?: Logger;
  /**
   * Told once when a send has ended and its end is in the journal, with its
   * whole log (experiments record their outcome here). Never throws into the
   * send: a rejection is logged.
   */
  readonly onEnd?: (send: { record: SendRecord; events: readonly SendEvent[] }) => Promise<void>;
  /** Real-time period of the background sweep (unref'd); 0 for none. Default: min(retention, 1 h). */
  readonly sweepEveryMs?: number;
}

interface LiveSend {
  readonly controller: AbortController;
  /** What the send runs on: aborted by its controller, and by the drain of a shutdown. */
  readonly signal: AbortSignal;
  holders: number;
  continueAsked: boolean;
  /** Stopping for a restart: what follows the call in flight is left in the journal for the next process. */
  suspended: boolean;
  changed: Deferred;
  /** The whole log, in memory while it runs here, so watchers do not read the store per event. */
  readonly events: SendEvent[];
  progress: SendProgress;
}

/** Between attempts at a journal write that failed: the send waits (sends nothing) meanwhile. */
const WRITE_RETRY_MS = [250, 1000, 5000, 15_000] as const;

export class SendRegistry {
  private readonly live = new Map<string, LiveSend>();
  private readonly starting = new Map<string, Promise<SendRecord>>();
  private readonly sweeper: NodeJS.Timeout | undefined;
  private readonly logger: Logger;

  constructor(private readonly options: RegistryOptions) {
    this.logger = options.logger ?? silentLogger;
    const every = options.sweepEveryMs ?? Math.min(options.retentionMs, 60 * 60_000);
    if (every > 0) {
      this.sweeper = setInterval(() => {
        this.sweep().catch((error: unknown) => this.logger.warn({ err: error }, 'send sweep failed'));
      }, every);
      // Forgetting old sends is housekeeping: it must not hold a finished process open.
      this.sweeper.unref();
    }
  }

  get retentionMs(): number {
    return this.options.retentionMs;
  }

  /** Sends running in this process. */
  get running(): number {
    return this.live.size;
  }

  /**
   * Starts a send, or attaches to the one its request_id started. Resolves once
   * the send is planned; input errors (no valid recipient, ...) reject, and
   * start nothing. RequestIdReusedError when the id belongs to another request.
   */
  async start(request: StartRequest, mode: DisconnectMode): Promise<Attachment> {
    const { requestId } = request;
    let record: SendRecord;
    if (requestId === '') record = await this.launch(request);
    else {
      let pending = this.starting.get(requestId);
      if (!pending) {
        pending = this.startOrFind(request);
        this.starting.set(requestId, pending);
        const forget = () => this.starting.delete(requestId);
        pending.then(forget, forget);
      }
      record = await pending;
      if (record.fingerprint !== request.fingerprint) throw new RequestIdReusedError(requestId, record.sendId);
    }
    return this.hold(record.sendId, mode);
  }

  /** The send's events from index `afterEvent` on, then live ones; ends after the last (rethrowing a failure). */
  async *watch(sendId: string, afterEvent: number, signal?: AbortSignal): AsyncGenerator<SendEvent> {
    const first = await this.get(sendId);
    const known = this.live.get(sendId)?.events.length ?? first.events;
    if (afterEvent > known) throw new AfterEventOutOfRangeError(afterEvent, known);
    let next = afterEvent;
    for (;;) {
      const live = this.live.get(sendId);
      if (live) {
        // Taken before reading, so an event appended in between still wakes us.
        const changed = live.changed.promise;
        while (next < live.events.length) yield live.events[next++]!;
        if (!(await until(changed, signal))) return;
        continue;
      }
      const record = await this.options.store.get(sendId);
      if (!record) return;
      for (const event of await this.options.store.events(sendId, next)) {
        next++;
        yield event;
      }
      // Resumed here meanwhile: follow it live.
      if (this.live.has(sendId)) continue;
      // Running but not in this process (another replica's, or not resumed yet): nothing here appends to it.
      if (record.state === 'RUNNING') return;
      if (record.failure) throw failureError(record.failure);
      return;
    }
  }

  /** The send; SendNotFoundError when unknown or past its retention. */
  async get(sendId: string): Promise<SendRecord> {
    await this.sweep();
    const record = await this.options.store.get(sendId);
    if (!record) throw new SendNotFoundError(sendId);
    return record;
  }

  /** Newest first; `next` is where the following page starts, when there is one. */
  async list(query: SendQuery): Promise<{ sends: SendRecord[]; next?: { createdAt: number; sendId: string } }> {
    await this.sweep();
    const found = await this.options.store.list(query);
    const sends = found.slice(0, query.limit);
    const last = sends.at(-1);
    return found.length > query.limit && last ? { sends, next: { createdAt: last.createdAt, sendId: last.sendId } } : { sends };
  }

  /** Cancels a running send (the batch in flight finishes); an ended one is left as it is. */
  async cancel(sendId: string): Promise<SendRecord> {
    const record = await this.get(sendId);
    this.live.get(sendId)?.controller.abort(new Error('cancelled by CancelSend'));
    return record;
  }

  /** A finished send's summary, when it got that far. */
  async summaryOf(record: SendRecord): Promise<SummaryEvent | undefined> {
    const [last] = await this.options.store.events(record.sendId, record.events - 1);
    return last?.type === 'summary' ? last : undefined;
  }

  /** When a finished send is forgotten; undefined while it runs. */
  expiresAt(record: SendRecord): number | undefined {
    return record.finishedAt === undefined ? undefined : record.finishedAt + this.options.retentionMs;
  }

  /** Forgets sends that finished a retention ago or more. */
  sweep(): Promise<number> {
    return this.options.store.sweep(this.options.clock.now() - this.options.retentionMs);
  }

  /** Stops the background sweep; running sends are the tracker's to drain. */
  close(): void {
    clearInterval(this.sweeper);
  }

  private async startOrFind(request: StartRequest): Promise<SendRecord> {
    await this.sweep();
    return (await this.options.store.findByRequestId(request.requestId)) ?? this.launch(request);
  }

  private hold(sendId: string, mode: DisconnectMode): Attachment {
    const live = this.live.get(sendId);
    if (!live) return { sendId, release: () => {} };
    if (mode === 'continue') {
      live.continueAsked = true;
      return { sendId, release: () => {} };
    }
    live.holders++;
    let released = false;
    return {
      sendId,
      release: (gone) => {
        if (released) return;
        released = true;
        live.holders--;
        if (gone && live.holders === 0 && !live.continueAsked) live.controller.abort(new Error('the caller went away'));
      },
    };
  }

  private async launch(request: StartRequest): Promise<SendRecord> {
    const { clock, store } = this.options;
    const controller = new AbortController();
    const tracked = this.track(controller);
    const steps = this.options.engine.journaled({ ...request.input, signal: tracked.signal })[Symbol.asyncIterator]();
    let record: SendRecord;
    let live: LiveSend;
    try {
      const first = await steps.next();
      if (first.done || first.value.kind !== 'planned') throw new Error('the engine did not plan the send');
      const { event: planned, recipients } = first.value;
      const now = clock.now();
      const progress = progressAfter(NO_PROGRESS, planned);
      record = {
        sendId: planned.sendId,
        requestId: request.requestId,
        fingerprint: request.fingerprint,
        sessionId: planned.sessionId,
        strategy: planned.strategy,
        createdAt: now,
        updatedAt: now,
        state: 'RUNNING',
        events: 1,
        progress,
      };
      // Nothing has been sent yet: a journal that cannot take the send refuses it rather than sending unjournaled.
      try {
        await store.create(record, { event: planned }, recipients);
        await store.saveStory(record.sendId, storyAsAsked(request.input.story));
      } catch (error) {
        throw new JournalUnavailableError(`the send journal cannot be written: ${(error as Error).message}`, { cause: error });
      }
      live = this.goLive(record.sendId, controller, tracked.signal, [planned], progress);
    } catch (error) {
      await steps.return?.(undefined);
      tracked.done();
      throw error;
    }
    void this.pump(record.sendId, steps, live, tracked.done);
    return record;
  }

  /**
   * Resumes every send the journal shows unfinished: those of a process that
   * died, or that shut down and left them for the next one. The recipients of
   * the batch in flight when it stopped are sent again (at least once).
   * Returns how many resumed.
   */
  async resumeAll(): Promise<number> {
    let resumed = 0;
    for (const sendId of await this.options.store.unfinished()) {
      if (this.live.has(sendId)) continue;
      if (await this.resumeOne(sendId).catch((error: unknown) => this.logger.error({ err: error, sendId }, 'could not resume a send'))) {
        resumed++;
      }
    }
    return resumed;
  }

  private async resumeOne(sendId: string): Promise<boolean> {
    const { clock, store } = this.options;
    const journal = await store.journal(sendId);
    if (!journal) return false;
    const events = journal.entries.map((e) => e.event);
    const last = events.at(-1);
    const failWith = (failure: SendFailure) => store.finish(sendId, { state: 'FAILED', at: clock.now(), failure });
    // It ended, but the process died before recording so.
    if (last?.type === 'summary') {
      await store.finish(sendId, { state: stateOf(last), at: clock.now() });
      await this.tellEnd(sendId, events);
      return false;
    }
    let fold: ReturnType<typeof foldJournal>;
    try {
      fold = foldJournal(journal);
    } catch (error) {
      await failWith({ reason: 'INTERNAL', message: `the send could not be resumed: ${(error as Error).message}` });
      return false;
    }
    const strategy = this.options.strategyNamed?.(journal.record.strategy);
    if (!strategy) {
      await failWith({
        reason: 'INTERNAL',
        message: `the send could not be resumed: strategy "${journal.record.strategy}" is not offered any more`,
      });
      return false;
    }
    const controller = new AbortController();
    const tracked = this.track(controller);
    const steps = this.options.engine.resume({ ...fold, strategy, signal: tracked.signal, logger: this.logger })[Symbol.asyncIterator]();
    const progress = events.reduce(progressAfter, NO_PROGRESS);
    const live = this.goLive(sendId, controller, tracked.signal, events, progress);
    this.logger.info({ sendId, events: events.length, ...progress }, 'resuming a send from its journal');
    void this.pump(sendId, steps, live, tracked.done);
    return true;
  }

  /**
   * For a restart: sends that outlive their callers (CONTINUE) stop after the
   * call in flight and stay unfinished in the journal, for the next process to
   * resume; the others are left to the drain. Returns how many.
   */
  suspendContinuing(): number {
    let suspended = 0;
    for (const live of this.live.values()) {
      if (!live.continueAsked) continue;
      live.suspended = true;
      live.controller.abort(new Error('checkpointed for a restart'));
      suspended++;
    }
    return suspended;
  }

  private track(controller: AbortController): { signal: AbortSignal; done: () => void } {
    return this.options.tracker?.start(controller.signal) ?? { signal: controller.signal, done: () => {} };
  }

  private goLive(sendId: string, controller: AbortController, signal: AbortSignal, events: SendEvent[], progress: SendProgress): LiveSend {
    const live: LiveSend = {
      controller,
      signal,
      holders: 0,
      continueAsked: false,
      suspended: false,
      changed: deferred(),
      events,
      progress,
    };
    this.live.set(sendId, live);
    return live;
  }

  /** Runs the rest of the send, writing each step before taking the next and waking the watchers. */
  private async pump(sendId: string, steps: AsyncIterator<JournalStep>, live: LiveSend, done: () => void): Promise<void> {
    const { clock, store } = this.options;
    const wake = () => {
      const changed = live.changed;
      live.changed = deferred();
      changed.resolve();
    };
    let last: SendEvent | undefined;
    let ended = false;
    try {
      for (let step = await steps.next(); !step.done; step = await steps.next()) {
        const taken = step.value;
        if (taken.kind === 'prepared') {
          await this.write(live, () => store.saveStory(sendId, preparedStory(taken.story)));
          continue;
        }
        // Suspended: the send's summary would say CANCELLED; the journal keeps it unfinished instead.
        if (live.suspended && taken.event.type === 'summary') return;
        last = taken.event;
        live.progress = progressAfter(live.progress, taken.event);
        const update = { at: clock.now(), progress: live.progress };
        const entry =
          taken.kind === 'event' && taken.checkpoint ? { event: taken.event, checkpoint: taken.checkpoint } : { event: taken.event };
        await this.write(live, () => store.append(sendId, entry, update));
        live.events.push(taken.event);
        wake();
      }
      await this.write(live, () => store.finish(sendId, { state: last?.type === 'summary' ? stateOf(last) : 'FAILED', at: clock.now() }));
      ended = true;
    } catch (error) {
      if (live.suspended) return;
      const failure = failureOf(error);
      if (failure.reason === 'INTERNAL') this.logger.error({ err: error, sendId }, 'a send failed');
      ended = await this.write(live, () => store.finish(sendId, { state: 'FAILED', at: clock.now(), failure })).then(
        () => true,
        (storeError: unknown) => {
          this.logger.error({ err: storeError, sendId }, 'could not record the end of a send');
          return false;
        },
      );
    } finally {
      await steps.return?.(undefined);
      this.live.delete(sendId);
      done();
      wake();
    }
    if (ended) await this.tellEnd(sendId, live.events);
  }

  private async tellEnd(sendId: string, events: readonly SendEvent[]): Promise<void> {
    const { onEnd, store } = this.options;
    if (!onEnd) return;
    try {
      const record = await store.get(sendId);
      if (record) await onEnd({ record, events });
    } catch (error) {
      this.logger.warn({ err: error, sendId }, 'a send ended but what follows its end failed');
    }
  }

  /**
   * A journal write, tried again while the store is down: the send waits
   * meanwhile, since going on would send what the journal cannot record. A
   * stopped send gives up after a few attempts (the write is then lost, and
   * the send resumes from before it).
   */
  private async write(live: LiveSend, write: () => Promise<void>): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await write();
      } catch (error) {
        if (live.signal.aborted && attempt >= WRITE_RETRY_MS.length) throw error;
        const waitMs = WRITE_RETRY_MS[Math.min(attempt, WRITE_RETRY_MS.length - 1)]!;
        this.logger.warn({ err: error, attempt: attempt + 1, waitMs }, 'send journal write failed; the send waits for it');
        await this.options.clock.sleep(waitMs);
      }
    }
  }
}

function stateOf(summary: SummaryEvent): Exclude<SendState, 'RUNNING'> {
  if (!summary.stoppedBy) return 'SUCCEEDED';
  return summary.stoppedBy === 'CANCELLED' ? 'CANCELLED' : 'FAILED';
}
