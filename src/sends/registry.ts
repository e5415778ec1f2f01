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
import type { Clock } from '../clock.js';
import type { JournalStep } from '../engine/checkpoint.js';
import type { SendEvent, SummaryEvent } from '../engine/events.js';
import { silentLogger, type Logger } from '../log.js';
import { deferred, until } from '../util/deferred.js';
import { FencedError } from '../replicas/leases.js';
import {
  AfterEventOutOfRangeError,
  JournalUnavailableError,
  RequestIdReusedError,
  SendMovedError,
  SendNotFoundError,
  SessionElsewhereError,
} from './errors.js';
import { failureError, failureOf } from './failure.js';
import { NO_PROGRESS, progressAfter } from './progress.js';
import { foldJournal, preparedStory, storyAsAsked } from './resume.js';
import { writeJournal, type LiveSend } from './live-send.js';
import type { Attachment, DisconnectMode, RegistryOptions, StartRequest } from './registry-types.js';
import type { EndState, Fence, SendFailure, SendProgress, SendQuery, SendRecord } from './store.js';

export class SendRegistry {
  private readonly live = new Map<string, LiveSend>();
  private readonly resuming = new Set<string>();
  private readonly starting = new Map<string, Promise<SendRecord>>();
  private readonly sweeper: NodeJS.Timeout | undefined;
  private readonly logger: Logger;
  private readonly writeDeps: { clock: Clock; logger: Logger };

  constructor(private readonly options: RegistryOptions) {
    this.logger = options.logger ?? silentLogger;
    this.writeDeps = { clock: options.clock, logger: this.logger };
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
    let first = await this.get(sendId);
    while (first.state === 'SCHEDULED') {
      await this.options.pending?.waitForStart(sendId, signal);
      if (signal?.aborted) return;
      first = await this.get(sendId);
    }
    // Scheduled, then cancelled or failed before it started: it has no log to follow.
    if (first.events === 0) {
      if (afterEvent > 0) throw new AfterEventOutOfRangeError(afterEvent, 0);
      if (first.failure) throw failureError(first.failure);
      return;
    }
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
      if (record.state === 'RUNNING') throw new SendMovedError(sendId, next);
      if (record.failure) throw failureError(record.failure);
      return;
    }
  }

  /** The send; SendNotFoundError when unknown or past its retention. */
  async get(sendId: string): Promise<SendRecord> {
    await this.sweep();
    const { store, pending } = this.options;
    // The journal again after the pending sends: a scheduled send that started in between left those for it.
    const record = (await store.get(sendId)) ?? (await pending?.get(sendId)) ?? (await store.get(sendId));
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

  /** Cancels a running send (the batch in flight finishes) or a scheduled one; an ended one is left as it is. */
  async cancel(sendId: string): Promise<SendRecord> {
    const record = await this.get(sendId);
    if (record.state === 'SCHEDULED') return (await this.options.pending?.cancel(sendId)) ?? this.get(sendId);
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
      if (this.options.ownership && !(await this.options.ownership.claim(planned.sessionId))) {
        throw new SessionElsewhereError(planned.sessionId);
      }
      const fence = this.options.ownership?.fence(planned.sessionId);
      // Nothing has been sent yet: a journal that cannot take the send refuses it rather than sending unjournaled.
      try {
        await store.create(record, { event: planned }, recipients, fence);
        await store.saveStory(record.sendId, storyAsAsked(request.input.story), fence);
      } catch (error) {
        throw new JournalUnavailableError(`the send journal cannot be written: ${(error as Error).message}`, { cause: error });
      }
      live = this.goLive(record.sendId, controller, tracked.signal, [planned], progress, false);
      this.tell(live, planned);
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
      // Live here, or being resumed by a concurrent resumeAll (the start-up one and the failover beat).
      if (this.live.has(sendId) || this.resuming.has(sendId)) continue;
      this.resuming.add(sendId);
      const done = await this.resumeOne(sendId)
        .catch((error: unknown) => this.logger.error({ err: error, sendId }, 'could not resume a send'))
        .finally(() => this.resuming.delete(sendId));
      if (done) resumed++;
    }
    return resumed;
  }

  private async resumeOne(sendId: string): Promise<boolean> {
    const { clock, store } = this.options;
    const found = await store.get(sendId);
    if (!found) return false;
    const { sessionId } = found;
    // With replicas, a send resumes only where its session's lease is: another replica's stays with it.
    // The lease first, the journal after: read before, it could miss what the last owner wrote before its lease ran out.
    if (this.options.ownership && !(await this.options.ownership.claim(sessionId))) return false;
    const journal = await store.journal(sendId);
    if (journal?.record.state !== 'RUNNING') return false;
    const fence = this.options.ownership?.fence(sessionId);
    const events = journal.entries.map((e) => e.event);
    const last = events.at(-1);
    const failWith = (failure: SendFailure) => store.finish(sendId, { state: 'FAILED', at: clock.now(), failure }, fence);
    // It ended, but the process died before recording so.
    if (last?.type === 'summary') {
      await store.finish(sendId, { state: stateOf(last), at: clock.now() }, fence);
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
    const live = this.goLive(sendId, controller, tracked.signal, events, progress, true);
    // Whoever started it was attached to another process: nothing here can cancel it on a
    // disconnect, and a restart or a handover must leave it in the journal, not cancel it.
    live.continueAsked = true;
    this.logger.info({ sendId, events: events.length, ...progress }, 'resuming a send from its journal');
    void this.pump(sendId, steps, live, tracked.done);
    return true;
  }

  /**
   * This replica lost the session's lease: its sends stop after the call in
   * flight and stay unfinished in the journal for the new owner to resume.
   */
  suspendSession(sessionId: string): number {
    let suspended = 0;
    for (const live of this.live.values()) {
      if (live.sessionId !== sessionId) continue;
      live.suspended = true;
      live.controller.abort(new Error(`session ${sessionId} is owned by another replica now`));
      suspended++;
    }
    return suspended;
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

  /** With replicas, the lease a write must carry; a lost lease fences every write at once. */
  private fenceOf(live: LiveSend): Fence | undefined {
    const { ownership } = this.options;
    if (!ownership) return undefined;
    const fence = ownership.fence(live.sessionId);
    if (!fence) throw new FencedError(`this replica no longer owns session ${live.sessionId}`);
    return fence;
  }

  private track(controller: AbortController): { signal: AbortSignal; done: () => void } {
    return this.options.tracker?.start(controller.signal) ?? { signal: controller.signal, done: () => {} };
  }

  private goLive(
    sendId: string,
    controller: AbortController,
    signal: AbortSignal,
    events: SendEvent[],
    progress: SendProgress,
    resumed: boolean,
  ): LiveSend {
    const planned = events[0];
    if (planned?.type !== 'planned') throw new Error(`send ${sendId}: its log does not start with its plan`);
    const live: LiveSend = {
      sessionId: planned.sessionId,
      observed: { sendId, planned, resumed },
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

  private tell(live: LiveSend, event: SendEvent): void {
    try {
      this.options.observe?.(live.observed, event);
    } catch (error) {
      this.logger.error({ err: error, sendId: live.observed.sendId }, 'a send observer threw');
    }
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
          await writeJournal(live, this.writeDeps, () => store.saveStory(sendId, preparedStory(taken.story), this.fenceOf(live)));
          continue;
        }
        // Suspended: the send's summary would say CANCELLED; the journal keeps it unfinished instead.
        if (live.suspended && taken.event.type === 'summary') return;
        last = taken.event;
        live.progress = progressAfter(live.progress, taken.event);
        const update = { at: clock.now(), progress: live.progress };
        const entry =
          taken.kind === 'event' && taken.checkpoint ? { event: taken.event, checkpoint: taken.checkpoint } : { event: taken.event };
        await writeJournal(live, this.writeDeps, () => store.append(sendId, entry, update, this.fenceOf(live)));
        live.events.push(taken.event);
        this.tell(live, taken.event);
        wake();
      }
      const state = last?.type === 'summary' ? stateOf(last) : 'FAILED';
      await writeJournal(live, this.writeDeps, () => store.finish(sendId, { state, at: clock.now() }, this.fenceOf(live)));
      ended = true;
    } catch (error) {
      if (live.suspended) return;
      const failure = failureOf(error);
      if (failure.reason === 'INTERNAL') this.logger.error({ err: error, sendId }, 'a send failed');
      ended = await writeJournal(live, this.writeDeps, () =>
        store.finish(sendId, { state: 'FAILED', at: clock.now(), failure }, this.fenceOf(live)),
      ).then(
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
}

function stateOf(summary: SummaryEvent): EndState {
  if (!summary.stoppedBy) return 'SUCCEEDED';
  return summary.stoppedBy === 'CANCELLED' ? 'CANCELLED' : 'FAILED';
}
