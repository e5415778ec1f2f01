/**
 * Fires schedules when their time comes: one loop that reads the store, starts
 * what is due through `fire` (the server's own SendStory path), writes what
 * happened, then sleeps on the clock until the next occurrence, a change
 * (wake), or the poll period, whichever is first. Occurrences are kept in the
 * store, not in timers, so a restart loses none: one missed while no server
 * ran is due at start-up and fires once, and the next is counted from then,
 * not once per occurrence missed.
 *
 * `fire` gives each occurrence a request id of its own, so firing one twice
 * (a crash between starting the send and writing so, two replicas on one
 * store) attaches to the send the first firing started.
 */
import { EventEmitter } from 'node:events';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { nextOccurrence } from './repeat.js';
import type { ScheduleError, ScheduleRecord, ScheduleStore } from './store.js';

/** What starting one occurrence came to. */
export type FireResult =
  | { readonly sendId: string }
  | { readonly error: ScheduleError }
  /** Another replica owns the session and fires it there. */
  | { readonly elsewhere: true };

export interface SchedulerOptions {
  readonly store: ScheduleStore;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Starts the send of one occurrence (`occurrenceAt` is when it was due); never rejects for a refused send. */
  readonly fire: (record: ScheduleRecord, occurrenceAt: number) => Promise<FireResult>;
  /** How long a one-off that ended without starting stays readable (the send retention). */
  readonly retentionMs: number;
  /** Cancels a send that started while its one-off was being cancelled (CancelSend raced the firing). */
  readonly cancelStarted?: (sendId: string) => Promise<unknown>;
  /** Longest sleep between reads of the store: another replica's new schedules, a store that was down. Default 60 s. */
  readonly pollMs?: number;
}

/** A session owned by another replica, or a store error: look again after this long rather than at once. */
const RETRY_MS = 5000;

export class Scheduler {
  private readonly settled = new EventEmitter();
  private readonly retryAt = new Map<string, number>();
  private waking = new AbortController();
  private dirty = false;
  private sweptAt = -Infinity;
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(private readonly options: SchedulerOptions) {
    // One listener per watcher of a scheduled send: any number may wait.
    this.settled.setMaxListeners(0);
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Schedules changed (one created, deleted or cancelled): read the store again now. */
  wake(): void {
    this.dirty = true;
    this.waking.abort();
  }

  /**
   * Resolves when the one-off with this send id has started or ended here, or
   * after `maxWaitMs` of real time (it may fire on another replica: look
   * again), or when the signal aborts.
   */
  whenSettled(sendId: string, maxWaitMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.settled.off(sendId, done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, maxWaitMs);
      this.settled.once(sendId, done);
      signal?.addEventListener('abort', done, { once: true });
      // An abort before the listener was added fires no event.
      if (signal?.aborted) done();
    });
  }

  /** Tells whoever waits on a one-off that it started or ended. */
  notifySettled(sendId: string): void {
    this.settled.emit(sendId);
  }

  /** Stops firing; an occurrence being started finishes starting first. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake();
    await this.loop;
  }

  private async run(): Promise<void> {
    const { clock, logger } = this.options;
    while (!this.stopped) {
      this.dirty = false;
      const pollMs = this.options.pollMs ?? 60_000;
      let wait = pollMs;
      try {
        // Once a poll period, not on every wake: each new schedule wakes the loop, and a sweep reads the whole store.
        if (clock.now() - this.sweptAt >= pollMs) {
          await this.options.store.sweep(clock.now() - this.options.retentionMs);
          this.sweptAt = clock.now();
        }
        const pending = (await this.options.store.pending()).sort((a, b) => a.nextRunAt! - b.nextRunAt!);
        for (const id of this.retryAt.keys()) if (!pending.some((r) => r.scheduleId === id)) this.retryAt.delete(id);
        for (const record of pending) {
          if (this.stopped) break;
          const at = Math.max(record.nextRunAt!, this.retryAt.get(record.scheduleId) ?? 0);
          const now = clock.now();
          if (at > now) {
            wait = Math.min(wait, at - now);
            continue;
          }
          await this.fireOne(record).catch((error: unknown) => {
            logger.warn({ err: error, scheduleId: record.scheduleId }, 'a scheduled send could not be started; trying again');
            this.retryAt.set(record.scheduleId, clock.now() + RETRY_MS);
          });
          // Firing wrote the record: read the store again before deciding how long to sleep.
          wait = 0;
        }
      } catch (error) {
        logger.warn({ err: error }, 'schedules could not be read; trying again');
        wait = Math.min(wait, RETRY_MS);
      }
      if (this.stopped || this.dirty || wait === 0) continue;
      this.waking = new AbortController();
      await clock.sleep(wait, this.waking.signal).catch(() => {});
    }
  }

  private async fireOne(record: ScheduleRecord): Promise<void> {
    const { clock, store, logger } = this.options;
    const occurrenceAt = record.nextRunAt!;
    const result = await this.options.fire(record, occurrenceAt);
    const now = clock.now();
    if ('elsewhere' in result) {
      this.retryAt.set(record.scheduleId, now + RETRY_MS);
      return;
    }
    this.retryAt.delete(record.scheduleId);
    const log = { scheduleId: record.scheduleId, sessionId: record.sessionId, occurrence: new Date(occurrenceAt).toISOString() };
    // The reason only: a message may quote a recipient, and logs never hold one.
    if ('sendId' in result) logger.info({ ...log, sendId: result.sendId }, 'scheduled send started');
    else logger.warn({ ...log, reason: result.error.reason }, 'scheduled send could not start');
    const fresh = await store.get(record.scheduleId);
    // A one-off cancelled while its send was being started: that send is cancelled too.
    if (fresh?.ended?.state === 'CANCELLED' && 'sendId' in result) {
      await this.options.cancelStarted?.(result.sendId).catch((error: unknown) => {
        logger.warn({ ...log, err: error }, 'a scheduled send cancelled as it started could not be cancelled');
      });
    }
    // Deleted or cancelled meanwhile (the schedule stays as it was left), or recorded already by
    // another replica on the same store, whose firing this one attached to.
    if (fresh && !fresh.ended && fresh.nextRunAt === occurrenceAt) {
      if (fresh.repeat === undefined) await this.settleOneOff(fresh, result, now);
      else await store.update(this.afterRun(fresh, result, occurrenceAt, now));
    }
    if (record.sendId) this.notifySettled(record.sendId);
  }

  /** A one-off that started is its send from now on (the journal has it); one that could not start ends FAILED. */
  private async settleOneOff(record: ScheduleRecord, result: FireResult, now: number): Promise<void> {
    if ('sendId' in result) {
      await this.options.store.delete(record.scheduleId);
      return;
    }
    const failure = 'error' in result ? result.error : { reason: 'INTERNAL', message: 'the send did not start' };
    const { nextRunAt: _next, ...rest } = record;
    await this.options.store.update({ ...rest, lastRunAt: now, lastError: failure, ended: { state: 'FAILED', at: now, failure } });
  }

  private afterRun(record: ScheduleRecord, result: FireResult, occurrenceAt: number, now: number): ScheduleRecord {
    const { nextRunAt: _next, lastError: _error, lastSendId: _send, ...rest } = record;
    // Counted from now, not from the occurrence: every occurrence missed while no server ran collapses into this one.
    const next = nextOccurrence({ expression: record.repeat!, timeZone: record.timeZone ?? '' }, Math.max(now, occurrenceAt));
    return {
      ...rest,
      lastRunAt: now,
      ...('sendId' in result ? { runs: record.runs + 1, lastSendId: result.sendId } : {}),
      ...('error' in result ? { lastError: result.error } : {}),
      ...(next === undefined ? {} : { nextRunAt: next }),
    };
  }
}
