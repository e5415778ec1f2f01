/**
 * The sends of this process, owned apart from any caller's stream: a send runs
 * in the background, every event it emits is appended to its log in the store,
 * and any number of watchers read that log from any index, then follow it live.
 * A request_id makes starting idempotent: the same id attaches to the send it
 * started, a different request with the same id is refused, and concurrent
 * starts with one id start one send. Finished sends are forgotten after the
 * retention, measured on the registry's clock.
 */
import type { Clock } from '../clock.js';
import type { SendEngine, SendInput } from '../engine/engine.js';
import type { SendEvent, SummaryEvent } from '../engine/events.js';
import { SendError } from '../engine/send-error.js';
import { silentLogger, type Logger } from '../log.js';
import type { SendQuery, SendRecord, SendState, SendStore } from './store.js';

export class SendNotFoundError extends Error {
  override readonly name = 'SendNotFoundError';
  constructor(readonly sendId: string) {
    super(`no send "${sendId}" on this server (unknown, or it finished longer than the retention ago)`);
  }
}

export class AfterEventOutOfRangeError extends Error {
  override readonly name = 'AfterEventOutOfRangeError';
  constructor(
    readonly afterEvent: number,
    readonly events: number,
  ) {
    super(`after_event is ${afterEvent} but the send has emitted ${events} events so far`);
  }
}

export class RequestIdReusedError extends Error {
  override readonly name = 'RequestIdReusedError';
  constructor(
    readonly requestId: string,
    readonly sendId: string,
  ) {
    super(`request_id "${requestId}" was already used for a different request (send ${sendId})`);
  }
}

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
  readonly engine: Pick<SendEngine, 'send'>;
  readonly store: SendStore;
  readonly clock: Clock;
  readonly retentionMs: number;
  readonly tracker?: SendTracker;
  readonly logger?: Logger;
  /** Real-time period of the background sweep (unref'd); 0 for none. Default: min(retention, 1 h). */
  readonly sweepEveryMs?: number;
}

interface LiveSend {
  readonly controller: AbortController;
  holders: number;
  continueAsked: boolean;
  changed: Deferred;
}

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
    if (afterEvent > first.events.length) throw new AfterEventOutOfRangeError(afterEvent, first.events.length);
    let next = afterEvent;
    for (;;) {
      // Taken before reading, so an event appended in between still wakes us.
      const changed = this.live.get(sendId)?.changed.promise;
      const record = await this.options.store.get(sendId);
      if (!record) return;
      while (next < record.events.length) yield record.events[next++]!;
      if (record.state !== 'RUNNING') {
        if (record.failure) throw record.failure.error;
        return;
      }
      // Running but not in this process: nothing here will append to it.
      if (!changed) return;
      if (!(await until(changed, signal))) return;
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
    const { clock, store, tracker } = this.options;
    const controller = new AbortController();
    const tracked = tracker?.start(controller.signal) ?? { signal: controller.signal, done: () => {} };
    const iterator = this.options.engine.send({ ...request.input, signal: tracked.signal })[Symbol.asyncIterator]();
    let record: SendRecord;
    try {
      const first = await iterator.next();
      if (first.done || first.value.type !== 'planned') throw new Error('the engine did not plan the send');
      const planned = first.value;
      const now = clock.now();
      record = {
        sendId: planned.sendId,
        requestId: request.requestId,
        fingerprint: request.fingerprint,
        sessionId: planned.sessionId,
        strategy: planned.strategy,
        createdAt: now,
        updatedAt: now,
        state: 'RUNNING',
        events: [planned],
      };
      await store.create(record);
    } catch (error) {
      tracked.done();
      throw error;
    }
    const live: LiveSend = { controller, holders: 0, continueAsked: false, changed: deferred() };
    this.live.set(record.sendId, live);
    void this.pump(record.sendId, iterator, live, tracked.done);
    return record;
  }

  /** Runs the rest of the send, appending each event and waking the watchers. */
  private async pump(sendId: string, iterator: AsyncIterator<SendEvent>, live: LiveSend, done: () => void): Promise<void> {
    const { clock, store } = this.options;
    const wake = () => {
      const changed = live.changed;
      live.changed = deferred();
      changed.resolve();
    };
    let last: SendEvent | undefined;
    try {
      for (let step = await iterator.next(); !step.done; step = await iterator.next()) {
        last = step.value;
        await store.append(sendId, step.value, clock.now());
        wake();
      }
      await store.finish(sendId, { state: last?.type === 'summary' ? stateOf(last) : 'FAILED', at: clock.now() });
    } catch (error) {
      const reason = error instanceof SendError ? error.reason : 'INTERNAL';
      const message = error instanceof Error ? error.message : String(error);
      await store
        .finish(sendId, { state: 'FAILED', at: clock.now(), failure: { reason, message, error } })
        .catch((storeError: unknown) => this.logger.error({ err: storeError, sendId }, 'could not record the end of a send'));
    } finally {
      this.live.delete(sendId);
      done();
      wake();
    }
  }
}

function stateOf(summary: SummaryEvent): Exclude<SendState, 'RUNNING'> {
  if (!summary.stoppedBy) return 'SUCCEEDED';
  return summary.stoppedBy === 'CANCELLED' ? 'CANCELLED' : 'FAILED';
}

interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Waits for `changed`; false when the signal aborted first. */
function until(changed: Promise<void>, signal?: AbortSignal): Promise<boolean> {
  if (!signal) return changed.then(() => true);
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => resolve(false);
    signal.addEventListener('abort', onAbort, { once: true });
    changed.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    });
  });
}
