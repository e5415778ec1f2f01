/**
 * The Scheduler in virtual time: a VirtualClock, the in-memory store, and a
 * fake `fire` that records each occurrence it is asked to start (and when)
 * and answers as each test needs.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../src/clock.js';
import { silentLogger } from '../src/log.js';
import { cancelSchedule, ScheduledSends, sendOfSchedule } from '../src/schedules/pending-sends.js';
import { nextOccurrence } from '../src/schedules/repeat.js';
import { type FireResult, Scheduler } from '../src/schedules/scheduler.js';
import { MemoryScheduleStore, type ScheduleRecord } from '../src/schedules/store.js';
import { deferred } from './support/settle.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** The scheduler's wait before trying an occurrence again (RETRY_MS in scheduler.ts). */
const RETRY_MS = 5000;
/** Thursday 26 March 2026, 12:00 UTC: Lisbon is on WET (UTC+0) until Sunday 29 March, 01:00 UTC. */
const START = Date.UTC(2026, 2, 26, 12, 0);

const TARGET = { strategy: 'adaptive', experiment: '', recipientList: '', allContacts: false, recipients: 3 } as const;

function oneOff(scheduleId: string, nextRunAt: number): ScheduleRecord {
  return {
    scheduleId,
    sessionId: 's1',
    requestId: '',
    fingerprint: `fp-${scheduleId}`,
    target: TARGET,
    startAt: nextRunAt,
    createdAt: START,
    sendId: `send-${scheduleId}`,
    nextRunAt,
    runs: 0,
  };
}

function repeating(scheduleId: string, repeat: string, timeZone: string, nextRunAt: number, runs = 0): ScheduleRecord {
  return {
    scheduleId,
    sessionId: 's1',
    requestId: '',
    fingerprint: `fp-${scheduleId}`,
    target: TARGET,
    repeat,
    timeZone,
    createdAt: START,
    nextRunAt,
    runs,
  };
}

interface Fired {
  readonly scheduleId: string;
  readonly occurrenceAt: number;
  readonly at: number;
}

type Answer = (record: ScheduleRecord, occurrenceAt: number, n: number) => FireResult | Promise<FireResult>;

const running: Scheduler[] = [];

afterEach(async () => {
  for (const scheduler of running.splice(0)) await scheduler.stop();
});

/** A scheduler on a fresh store and clock; `answer` decides what each firing returns (default: a send started). */
function setUp(opts: { answer?: Answer; pollMs?: number; retentionMs?: number; clock?: VirtualClock } = {}) {
  const cancelledSends: string[] = [];
  const clock = opts.clock ?? new VirtualClock(START);
  const store = new MemoryScheduleStore();
  const fired: Fired[] = [];
  const answer: Answer = opts.answer ?? ((record, occurrenceAt) => ({ sendId: `sent-${record.scheduleId}-${occurrenceAt}` }));
  const scheduler = new Scheduler({
    store,
    clock,
    logger: silentLogger,
    retentionMs: opts.retentionMs ?? DAY,
    ...(opts.pollMs === undefined ? {} : { pollMs: opts.pollMs }),
    cancelStarted: async (sendId) => cancelledSends.push(sendId),
    fire: async (record, occurrenceAt) => {
      fired.push({ scheduleId: record.scheduleId, occurrenceAt, at: clock.now() });
      return answer(record, occurrenceAt, fired.length);
    },
  });
  running.push(scheduler);
  return { clock, store, fired, scheduler, cancelledSends };
}

/** Starts the scheduler and lets its first pass over the store run. */
async function start(scheduler: Scheduler, clock: VirtualClock): Promise<void> {
  scheduler.start();
  await clock.advance(0);
}

/** Moves the clock to `at` (absolute), firing what is due on the way. */
const advanceTo = (clock: VirtualClock, at: number) => clock.advance(at - clock.now());

/** Whether a promise has settled, checked after every queued task has run. */
function watch(promise: Promise<unknown>): () => boolean {
  let done = false;
  void promise.then(() => (done = true));
  return () => done;
}

const lisbonClock = (ms: number) =>
  new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Lisbon', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(ms);

describe('a one-off schedule', () => {
  it('fires once at its time, not before, then leaves the store, and whoever waits on its send id hears', async () => {
    const { clock, store, fired, scheduler } = setUp();
    const at = START + HOUR;
    await store.create(oneOff('o1', at), new Uint8Array([1]));
    // Real-time fallback far beyond the test: only the event can settle it in time.
    const settled = watch(scheduler.whenSettled('send-o1', 60_000));
    await start(scheduler, clock);

    await advanceTo(clock, at - 1);
    expect(fired).toEqual([]);
    expect(settled()).toBe(false);
    expect((await store.get('o1'))?.nextRunAt).toBe(at);

    await clock.advance(1);
    expect(fired).toEqual([{ scheduleId: 'o1', occurrenceAt: at, at }]);
    expect(await store.get('o1')).toBeUndefined();
    expect(await store.bySendId('send-o1')).toBeUndefined();
    expect(settled()).toBe(true);

    await clock.advance(3 * DAY);
    expect(fired).toHaveLength(1);
  });

  it('whose send could not start ends FAILED with the failure, kept for the retention, and is not fired again', async () => {
    const failure = { reason: 'RECIPIENT_LIST_NOT_FOUND', message: 'no list "vip"' };
    const { clock, store, fired, scheduler } = setUp({ answer: () => ({ error: failure }), retentionMs: DAY });
    const at = START + HOUR;
    await store.create(oneOff('o1', at), new Uint8Array([1]));
    const settled = watch(scheduler.whenSettled('send-o1', 60_000));
    await start(scheduler, clock);

    await clock.advance(HOUR);
    expect(fired).toEqual([{ scheduleId: 'o1', occurrenceAt: at, at }]);
    expect(settled()).toBe(true);
    const { nextRunAt: _next, ...rest } = oneOff('o1', at);
    const failed: ScheduleRecord = { ...rest, lastRunAt: at, lastError: failure, ended: { state: 'FAILED', at, failure } };
    expect(await store.get('o1')).toEqual(failed);
    expect(await store.pending()).toEqual([]);
    expect(await store.list({ limit: 10 })).toEqual([]);
    expect(sendOfSchedule(failed)).toMatchObject({ sendId: 'send-o1', state: 'FAILED', finishedAt: at, failure });

    // Still readable just before the retention runs out, gone once a pass of the loop comes after it.
    await clock.advance(DAY - MINUTE);
    expect(fired).toHaveLength(1);
    expect(await store.get('o1')).toEqual(failed);
    await clock.advance(2 * MINUTE);
    expect(await store.get('o1')).toBeUndefined();
    expect(fired).toHaveLength(1);
  });

  it('two due at once both fire, earliest first', async () => {
    const { clock, store, fired, scheduler } = setUp();
    await store.create(oneOff('late', START - MINUTE), new Uint8Array([1]));
    await store.create(oneOff('early', START - HOUR), new Uint8Array([1]));
    await store.create(oneOff('future', START + HOUR), new Uint8Array([1]));
    await start(scheduler, clock);
    expect(fired).toEqual([
      { scheduleId: 'early', occurrenceAt: START - HOUR, at: START },
      { scheduleId: 'late', occurrenceAt: START - MINUTE, at: START },
    ]);
    expect((await store.pending()).map((r) => r.scheduleId)).toEqual(['future']);
  });
});

describe('a repeating schedule', () => {
  it('"0 9 * * *" in Europe/Lisbon fires at 09:00 local every day, across the change to summer time', async () => {
    const { clock, store, fired, scheduler } = setUp();
    const rule = { expression: '0 9 * * *', timeZone: 'Europe/Lisbon' };
    // 09:00 Lisbon is 09:00 UTC until Saturday 28 March, 08:00 UTC from Sunday 29 March (WEST, UTC+1).
    const expected = [
      Date.UTC(2026, 2, 27, 9),
      Date.UTC(2026, 2, 28, 9),
      Date.UTC(2026, 2, 29, 8),
      Date.UTC(2026, 2, 30, 8),
      Date.UTC(2026, 2, 31, 8),
    ];
    expect(nextOccurrence(rule, START)).toBe(expected[0]);
    await store.create(repeating('r1', rule.expression, rule.timeZone, expected[0]!), new Uint8Array([1]));
    await start(scheduler, clock);

    for (const [i, at] of expected.entries()) {
      await advanceTo(clock, at - 1);
      expect(fired).toHaveLength(i);
      await clock.advance(1);
      expect(fired).toHaveLength(i + 1);
      expect(fired[i]).toEqual({ scheduleId: 'r1', occurrenceAt: at, at });
      const record = await store.get('r1');
      expect(record).toMatchObject({ runs: i + 1, lastRunAt: at, lastSendId: `sent-r1-${at}` });
      expect(record?.lastError).toBeUndefined();
      expect(record?.nextRunAt).toBe(i + 1 < expected.length ? expected[i + 1] : Date.UTC(2026, 3, 1, 8));
    }
    expect(fired.map((f) => lisbonClock(f.at))).toEqual(['09:00', '09:00', '09:00', '09:00', '09:00']);
    expect(fired.map((f) => new Date(f.at).getUTCHours())).toEqual([9, 9, 8, 8, 8]);
  });

  it('stays at 09:00 local across the change back to winter time (25 October 2026)', async () => {
    const clock = new VirtualClock(Date.UTC(2026, 9, 23, 12));
    const { store, fired, scheduler } = setUp({ clock, pollMs: HOUR });
    const first = Date.UTC(2026, 9, 24, 8);
    await store.create(repeating('r1', '0 9 * * *', 'Europe/Lisbon', first), new Uint8Array([1]));
    await start(scheduler, clock);
    await clock.advance(4 * DAY);
    expect(fired.map((f) => f.at)).toEqual([
      Date.UTC(2026, 9, 24, 8),
      Date.UTC(2026, 9, 25, 9),
      Date.UTC(2026, 9, 26, 9),
      Date.UTC(2026, 9, 27, 9),
    ]);
    expect(fired.every((f) => f.at === f.occurrenceAt && lisbonClock(f.at) === '09:00')).toBe(true);
    expect(await store.get('r1')).toMatchObject({ runs: 4, nextRunAt: Date.UTC(2026, 9, 28, 9) });
  });

  it('missed for three days while no scheduler ran: fires once at start, and the next run is after now', async () => {
    const { clock, store, fired, scheduler } = setUp();
    // 23 March 09:00 UTC (WET) was the next run; START is 26 March 12:00.
    const missed = Date.UTC(2026, 2, 23, 9);
    await store.create(repeating('r1', '0 9 * * *', 'Europe/Lisbon', missed, 4), new Uint8Array([1]));
    await start(scheduler, clock);
    expect(fired).toEqual([{ scheduleId: 'r1', occurrenceAt: missed, at: START }]);
    const record = await store.get('r1');
    expect(record).toMatchObject({ runs: 5, lastRunAt: START, lastSendId: `sent-r1-${missed}` });
    expect(record?.nextRunAt).toBe(Date.UTC(2026, 2, 27, 9));
    expect(record!.nextRunAt!).toBeGreaterThan(clock.now());

    await advanceTo(clock, Date.UTC(2026, 2, 27, 9) - 1);
    expect(fired).toHaveLength(1);
    await clock.advance(1);
    expect(fired.map((f) => f.at)).toEqual([START, Date.UTC(2026, 2, 27, 9)]);
  });

  it('an occurrence whose send could not start is an error, not a run: last_send_id cleared, the next one still fires', async () => {
    const failure = { reason: 'RECIPIENT_LIST_NOT_FOUND', message: 'no list' };
    const { clock, store, fired, scheduler } = setUp({
      answer: (record, occurrenceAt, n) => (n === 2 ? { error: failure } : { sendId: `sent-${record.scheduleId}-${occurrenceAt}` }),
    });
    const first = Date.UTC(2026, 2, 27, 9);
    await store.create(repeating('r1', '0 9 * * *', 'Europe/Lisbon', first), new Uint8Array([1]));
    await start(scheduler, clock);
    await advanceTo(clock, first);
    expect(await store.get('r1')).toMatchObject({ runs: 1, lastSendId: `sent-r1-${first}` });

    const second = first + DAY;
    await advanceTo(clock, second);
    const failed = (await store.get('r1'))!;
    expect(failed).toMatchObject({ runs: 1, lastRunAt: second, lastError: failure, nextRunAt: Date.UTC(2026, 2, 29, 8) });
    expect(failed.lastSendId).toBeUndefined();
    expect(failed.ended).toBeUndefined();

    await advanceTo(clock, Date.UTC(2026, 2, 29, 8));
    const record = (await store.get('r1'))!;
    expect(record).toMatchObject({ runs: 2, lastRunAt: Date.UTC(2026, 2, 29, 8), lastSendId: `sent-r1-${Date.UTC(2026, 2, 29, 8)}` });
    expect(record.lastError).toBeUndefined();
    expect(fired).toHaveLength(3);
  });
});

describe('the loop', () => {
  it('wake(): a schedule created while the loop sleeps on a long poll fires at its time', async () => {
    const { clock, store, fired, scheduler } = setUp({ pollMs: DAY });
    await start(scheduler, clock);
    await clock.advance(HOUR);
    const at = clock.now() + 10 * MINUTE;
    await store.create(oneOff('o1', at), new Uint8Array([1]));
    scheduler.wake();
    await clock.advance(10 * MINUTE);
    expect(fired).toEqual([{ scheduleId: 'o1', occurrenceAt: at, at }]);
  });

  it('without wake(), a schedule created meanwhile waits for the next poll', async () => {
    const { clock, store, fired, scheduler } = setUp({ pollMs: DAY });
    await start(scheduler, clock);
    await clock.advance(HOUR);
    const at = clock.now() + 10 * MINUTE;
    await store.create(oneOff('o1', at), new Uint8Array([1]));
    await advanceTo(clock, START + DAY - 1);
    expect(fired).toEqual([]);
    await clock.advance(1);
    expect(fired).toEqual([{ scheduleId: 'o1', occurrenceAt: at, at: START + DAY }]);
  });

  it('a fire that throws is tried again after RETRY_MS, for the same occurrence, and not lost', async () => {
    const { clock, store, fired, scheduler } = setUp({
      answer: (record, occurrenceAt, n) => {
        if (n <= 2) throw new Error('store down');
        return { sendId: `sent-${record.scheduleId}-${occurrenceAt}` };
      },
    });
    const at = Date.UTC(2026, 2, 27, 9);
    const before = repeating('r1', '0 9 * * *', 'Europe/Lisbon', at);
    await store.create(before, new Uint8Array([1]));
    await start(scheduler, clock);
    await advanceTo(clock, at);
    expect(fired).toEqual([{ scheduleId: 'r1', occurrenceAt: at, at }]);
    expect(await store.get('r1')).toEqual(before);

    await clock.advance(RETRY_MS - 1);
    expect(fired).toHaveLength(1);
    await clock.advance(1);
    expect(fired[1]).toEqual({ scheduleId: 'r1', occurrenceAt: at, at: at + RETRY_MS });
    expect(await store.get('r1')).toEqual(before);
    await clock.advance(RETRY_MS);
    expect(fired[2]).toEqual({ scheduleId: 'r1', occurrenceAt: at, at: at + 2 * RETRY_MS });
    expect(await store.get('r1')).toMatchObject({ runs: 1, lastSendId: `sent-r1-${at}`, nextRunAt: at + DAY });

    await clock.advance(DAY - 2 * RETRY_MS - 1);
    expect(fired).toHaveLength(3);
    await clock.advance(1);
    expect(fired).toHaveLength(4);
  });

  it('elsewhere: tried again later, the record untouched meanwhile, and other schedules are not held up', async () => {
    const { clock, store, fired, scheduler } = setUp({
      answer: (record, occurrenceAt, n) =>
        record.scheduleId === 'o1' && n <= 3 ? { elsewhere: true } : { sendId: `sent-${record.scheduleId}-${occurrenceAt}` },
    });
    const at = START + HOUR;
    const record = oneOff('o1', at);
    await store.create(record, new Uint8Array([1]));
    await store.create(oneOff('o2', at + 1000), new Uint8Array([1]));
    const settled = watch(scheduler.whenSettled('send-o1', 60_000));
    await start(scheduler, clock);

    await advanceTo(clock, at);
    expect(fired).toEqual([{ scheduleId: 'o1', occurrenceAt: at, at }]);
    expect(await store.get('o1')).toEqual(record);
    await clock.advance(1000);
    expect(fired.map((f) => [f.scheduleId, f.at])).toEqual([
      ['o1', at],
      ['o2', at + 1000],
    ]);
    expect(await store.get('o1')).toEqual(record);
    expect(settled()).toBe(false);

    await advanceTo(clock, at + RETRY_MS - 1);
    expect(fired).toHaveLength(2);
    await clock.advance(1);
    expect(fired.at(-1)).toEqual({ scheduleId: 'o1', occurrenceAt: at, at: at + RETRY_MS });
    expect(await store.get('o1')).toEqual(record);
    await clock.advance(RETRY_MS);
    expect(fired.at(-1)).toEqual({ scheduleId: 'o1', occurrenceAt: at, at: at + 2 * RETRY_MS });
    expect(await store.get('o1')).toBeUndefined();
    expect(settled()).toBe(true);
    expect(fired).toHaveLength(4);
  });

  it('a store that cannot be read is read again after RETRY_MS, and nothing due is lost', async () => {
    const { clock, store, fired, scheduler } = setUp({ pollMs: DAY });
    const at = START + MINUTE;
    await store.create(oneOff('o1', at), new Uint8Array([1]));
    const pending = store.pending.bind(store);
    let failures = 0;
    store.pending = async () => {
      if (clock.now() >= at && failures < 2) {
        failures++;
        throw new Error('store down');
      }
      return pending();
    };
    await start(scheduler, clock);
    await advanceTo(clock, at);
    expect(failures).toBe(1);
    expect(fired).toEqual([]);
    await clock.advance(RETRY_MS);
    expect(failures).toBe(2);
    expect(fired).toEqual([]);
    await clock.advance(RETRY_MS);
    expect(fired).toEqual([{ scheduleId: 'o1', occurrenceAt: at, at: at + 2 * RETRY_MS }]);
  });

  it('stop() ends the loop: nothing fires after it, however far time moves', async () => {
    const { clock, store, fired, scheduler } = setUp();
    await store.create(oneOff('o1', START + HOUR), new Uint8Array([1]));
    await store.create(repeating('r1', '*/5 * * * *', '', START + 5 * MINUTE), new Uint8Array([1]));
    await start(scheduler, clock);
    await clock.advance(10 * MINUTE);
    expect(fired.map((f) => f.scheduleId)).toEqual(['r1', 'r1']);
    await scheduler.stop();
    await clock.advance(3 * DAY);
    expect(fired).toHaveLength(2);
    expect(clock.pending).toBe(0);
    expect((await store.get('o1'))?.nextRunAt).toBe(START + HOUR);
    // Starting a stopped scheduler again does not bring the loop back.
    scheduler.start();
    await clock.advance(DAY);
    expect(fired).toHaveLength(2);
  });

  it('stop() while an occurrence is being started waits for it to finish starting, and writes what it did', async () => {
    const gate = deferred<FireResult>();
    const { clock, store, fired, scheduler } = setUp({ answer: () => gate.promise });
    await store.create(repeating('r1', '0 * * * *', '', START + HOUR), new Uint8Array([1]));
    await start(scheduler, clock);
    await clock.advance(HOUR);
    expect(fired).toHaveLength(1);
    const stopped = watch(scheduler.stop());
    await clock.advance(0);
    expect(stopped()).toBe(false);
    gate.resolve({ sendId: 'sent-late' });
    await clock.advance(0);
    expect(stopped()).toBe(true);
    expect(await store.get('r1')).toMatchObject({ runs: 1, lastSendId: 'sent-late', nextRunAt: START + 2 * HOUR });
    await clock.advance(DAY);
    expect(fired).toHaveLength(1);
  });

  it('a schedule deleted while its fire is in flight stays deleted, and fires no more', async () => {
    const gate = deferred<FireResult>();
    const { clock, store, fired, scheduler } = setUp({ answer: () => gate.promise });
    await store.create(repeating('r1', '0 * * * *', '', START + HOUR), new Uint8Array([1]));
    await start(scheduler, clock);
    await clock.advance(HOUR);
    expect(fired).toHaveLength(1);
    expect(await store.delete('r1')).toBe(true);
    scheduler.wake();
    gate.resolve({ sendId: 'sent-1' });
    await clock.advance(0);
    expect(await store.get('r1')).toBeUndefined();
    expect(await store.request('r1')).toBeUndefined();
    await clock.advance(DAY);
    expect(fired).toHaveLength(1);
  });

  it('a one-off cancelled while its fire is in flight stays CANCELLED, whatever the fire came to', async () => {
    const gate = deferred<FireResult>();
    const { clock, store, fired, scheduler } = setUp({ answer: () => gate.promise });
    const at = START + HOUR;
    await store.create(oneOff('o1', at), new Uint8Array([1]));
    await start(scheduler, clock);
    await clock.advance(HOUR);
    expect(fired).toHaveLength(1);
    const cancelled = await cancelSchedule({ store, scheduler, clock }, (await store.get('o1'))!);
    gate.resolve({ error: { reason: 'INTERNAL', message: 'late failure' } });
    await clock.advance(0);
    expect(await store.get('o1')).toEqual(cancelled);
    expect((await store.get('o1'))?.ended).toEqual({ state: 'CANCELLED', at });
    await clock.advance(HOUR);
    expect(fired).toHaveLength(1);
  });

  it('a one-off cancelled while its send was being started: the send that started is cancelled too', async () => {
    const gate = deferred<FireResult>();
    const { clock, store, fired, scheduler, cancelledSends } = setUp({ answer: () => gate.promise });
    await store.create(oneOff('o1', START + HOUR), new Uint8Array([1]));
    await start(scheduler, clock);
    await clock.advance(HOUR);
    expect(fired).toHaveLength(1);
    await cancelSchedule({ store, scheduler, clock }, (await store.get('o1'))!);
    gate.resolve({ sendId: 'send-o1' });
    await clock.advance(0);
    expect(cancelledSends).toEqual(['send-o1']);
    expect((await store.get('o1'))?.ended?.state).toBe('CANCELLED');
  });
});

describe('cancelling', () => {
  it('a one-off: CANCELLED and kept, shown as a CANCELLED send, never fired, and its watchers hear', async () => {
    const { clock, store, fired, scheduler } = setUp({ retentionMs: 2 * DAY });
    const at = START + 2 * HOUR;
    await store.create(oneOff('o1', at), new Uint8Array([1]));
    await start(scheduler, clock);
    await clock.advance(HOUR);
    const settled = watch(scheduler.whenSettled('send-o1', 60_000));

    const left = await cancelSchedule({ store, scheduler, clock }, (await store.get('o1'))!);
    const cancelledAt = START + HOUR;
    const { nextRunAt: _next, ...rest } = oneOff('o1', at);
    expect(left).toEqual({ ...rest, ended: { state: 'CANCELLED', at: cancelledAt } });
    expect(await store.get('o1')).toEqual(left);
    await clock.advance(0);
    expect(settled()).toBe(true);

    const send = sendOfSchedule(left);
    expect(send).toMatchObject({
      sendId: 'send-o1',
      scheduleId: 'o1',
      sessionId: 's1',
      strategy: 'adaptive',
      state: 'CANCELLED',
      finishedAt: cancelledAt,
      updatedAt: cancelledAt,
      createdAt: START,
    });
    expect(send.startAt).toBeUndefined();
    expect(send.failure).toBeUndefined();

    // Cancelling again leaves it as it was.
    await clock.advance(MINUTE);
    expect(await cancelSchedule({ store, scheduler, clock }, (await store.get('o1'))!)).toEqual(left);

    await clock.advance(DAY);
    expect(fired).toEqual([]);
    expect((await store.get('o1'))?.ended?.state).toBe('CANCELLED');
  });

  it('a one-off through ScheduledSends: SCHEDULED with its start time, then CANCELLED', async () => {
    const { clock, store, fired, scheduler } = setUp();
    const at = START + HOUR;
    await store.create(oneOff('o1', at), new Uint8Array([1]));
    await start(scheduler, clock);
    const sends = new ScheduledSends({ store, scheduler, clock });
    const scheduled = await sends.get('send-o1');
    expect(scheduled).toMatchObject({ sendId: 'send-o1', scheduleId: 'o1', state: 'SCHEDULED', startAt: at, updatedAt: START });
    expect(scheduled?.finishedAt).toBeUndefined();
    expect(await sends.get('send-nope')).toBeUndefined();
    expect(await sends.cancel('send-nope')).toBeUndefined();
    await clock.advance(MINUTE);
    expect(await sends.cancel('send-o1')).toMatchObject({ state: 'CANCELLED', finishedAt: START + MINUTE });
    expect(await sends.get('send-o1')).toMatchObject({ state: 'CANCELLED', finishedAt: START + MINUTE });
    await clock.advance(2 * HOUR);
    expect(fired).toEqual([]);
  });

  it('a repeating schedule is deleted, and fires no more', async () => {
    const { clock, store, fired, scheduler } = setUp();
    await store.create(repeating('r1', '0 * * * *', '', START + HOUR), new Uint8Array([1]));
    await start(scheduler, clock);
    await clock.advance(HOUR);
    expect(fired).toHaveLength(1);
    const record = (await store.get('r1'))!;
    expect(await cancelSchedule({ store, scheduler, clock }, record)).toEqual(record);
    expect(await store.get('r1')).toBeUndefined();
    await clock.advance(DAY);
    expect(fired).toHaveLength(1);
  });
});

describe('whenSettled', () => {
  it('resolves after maxWaitMs of real time when nothing happens here', async () => {
    const { scheduler } = setUp();
    await expect(scheduler.whenSettled('send-elsewhere', 5)).resolves.toBeUndefined();
  });

  it('resolves when its signal aborts, and at once when the signal has already aborted', async () => {
    const { scheduler } = setUp();
    const controller = new AbortController();
    const waiting = watch(scheduler.whenSettled('send-x', 60_000, controller.signal));
    await new Promise((r) => setImmediate(r));
    expect(waiting()).toBe(false);
    controller.abort();
    await new Promise((r) => setImmediate(r));
    expect(waiting()).toBe(true);

    const already = watch(scheduler.whenSettled('send-x', 60_000, controller.signal));
    await new Promise((r) => setImmediate(r));
    expect(already()).toBe(true);
  });
});
