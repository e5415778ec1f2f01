/**
 * What every ScheduleStore must do, run against each of them (memory, a real
 * SQLite file, a real redis-server), so the scheduler and the schedule
 * handlers can treat them as one. `make` gives each test a fresh, empty store
 * (the caller closes it).
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ScheduleRecord, ScheduleStore } from '../../src/schedules/store.js';

/** A pending repeating schedule of session s1; `over` replaces any field. */
export function schedule(scheduleId: string, over: Partial<ScheduleRecord> = {}): ScheduleRecord {
  return {
    scheduleId,
    sessionId: 's1',
    requestId: '',
    fingerprint: `fp-${scheduleId}`,
    target: { strategy: 'adaptive', experiment: '', recipientList: '', allContacts: false, recipients: 3 },
    repeat: '0 9 * * *',
    timeZone: 'Europe/Lisbon',
    createdAt: 1_000,
    nextRunAt: 10_000,
    runs: 0,
    ...over,
  };
}

/** A pending one-off: it has a send id and no repeat. */
export function oneOff(scheduleId: string, over: Partial<ScheduleRecord> = {}): ScheduleRecord {
  const { repeat: _repeat, timeZone: _zone, ...rest } = schedule(scheduleId, over);
  return { sendId: `send-${scheduleId}`, startAt: rest.nextRunAt, ...rest, ...over };
}

/** A one-off that ended at `at`. */
function ended(scheduleId: string, at: number, over: Partial<ScheduleRecord> = {}): ScheduleRecord {
  const { nextRunAt: _next, ...rest } = oneOff(scheduleId, over);
  return { ...rest, ended: { state: 'CANCELLED', at }, ...over };
}

const bytes = (...values: number[]) => new Uint8Array(values);
const ids = (records: readonly ScheduleRecord[]) => records.map((r) => r.scheduleId);

export function describeScheduleStoreContract(name: string, make: () => ScheduleStore): void {
  describe(`${name}: the schedule store contract`, () => {
    it('creates a schedule and reads it back whole by id, by send id, and its request byte for byte', async () => {
      const store = make();
      const full = oneOff('a', {
        requestId: 'req-1',
        startAt: 9_000,
        nextRunAt: 9_000,
        runs: 2,
        lastRunAt: 8_000,
        lastSendId: 'send-earlier',
        lastError: { reason: 'RECIPIENT_LIST_NOT_FOUND', message: 'no list "vip"' },
        target: { strategy: 'conservative', experiment: 'exp-1', recipientList: 'vip', allContacts: true, recipients: 0 },
      });
      const request = bytes(0, 0, 255, 0, 10, 13, 0);
      expect(await store.create(full, request)).toBe(true);
      expect(await store.get('a')).toEqual(full);
      expect(await store.bySendId('send-a')).toEqual(full);
      const read = await store.request('a');
      expect(read).toBeInstanceOf(Uint8Array);
      expect(Array.from(read!)).toEqual([0, 0, 255, 0, 10, 13, 0]);

      expect(await store.get('nope')).toBeUndefined();
      expect(await store.bySendId('nope')).toBeUndefined();
      expect(await store.bySendId('send-earlier')).toBeUndefined();
      expect(await store.request('nope')).toBeUndefined();
    });

    it('keeps an ended record whole, and a repeating one has no send id to be found by', async () => {
      const store = make();
      const failed = ended('f', 7_000, { ended: { state: 'FAILED', at: 7_000, failure: { reason: 'INTERNAL', message: 'boom' } } });
      const repeating = schedule('r', { timeZone: '' });
      await store.create(failed, bytes(1));
      await store.create(repeating, bytes(2));
      expect(await store.get('f')).toEqual(failed);
      expect(await store.bySendId('send-f')).toEqual(failed);
      expect(await store.get('r')).toEqual(repeating);
      expect(await store.bySendId('')).toBeUndefined();
    });

    it('keeps an empty request empty and a 1 MB request exact', async () => {
      const store = make();
      await store.create(schedule('empty'), new Uint8Array(0));
      const empty = await store.request('empty');
      expect(empty).toBeInstanceOf(Uint8Array);
      expect(empty?.length).toBe(0);

      const big = new Uint8Array(randomBytes(1024 * 1024));
      big.fill(0, 1000, 2000);
      await store.create(schedule('big'), big);
      const read = await store.request('big');
      expect(read?.length).toBe(big.length);
      expect(Buffer.from(read!).equals(Buffer.from(big))).toBe(true);
    });

    it('refuses an id that is taken, writing nothing: not the record, not the request, not the send id', async () => {
      const store = make();
      const first = schedule('a');
      expect(await store.create(first, bytes(1, 2, 3))).toBe(true);
      const clash = oneOff('a', { sessionId: 's2', createdAt: 5, sendId: 'send-clash' });
      expect(await store.create(clash, bytes(9, 9))).toBe(false);
      expect(await store.get('a')).toEqual(first);
      expect(Array.from((await store.request('a'))!)).toEqual([1, 2, 3]);
      expect(await store.bySendId('send-clash')).toBeUndefined();
      expect(await store.list({ sessionId: 's2', limit: 10 })).toEqual([]);
      expect(ids(await store.list({ limit: 10 }))).toEqual(['a']);
    });

    it('update replaces the record and keeps the request', async () => {
      const store = make();
      await store.create(schedule('a'), bytes(4, 0, 4));
      const after = schedule('a', { runs: 1, lastRunAt: 10_000, lastSendId: 'send-1', nextRunAt: 20_000 });
      await store.update(after);
      expect(await store.get('a')).toEqual(after);
      expect(Array.from((await store.request('a'))!)).toEqual([4, 0, 4]);
      expect(await store.pending()).toEqual([after]);

      // A field dropped by the update is gone, not merged back in.
      const { lastSendId: _dropped, ...withoutSend } = after;
      await store.update(withoutSend);
      expect(await store.get('a')).toEqual(withoutSend);
    });

    it('update of a one-off to ended takes it out of list() and pending(), and get still reads it', async () => {
      const store = make();
      const pending = oneOff('a');
      await store.create(pending, bytes(1));
      const { nextRunAt: _next, ...rest } = pending;
      const cancelled: ScheduleRecord = { ...rest, ended: { state: 'CANCELLED', at: 3_000 } };
      await store.update(cancelled);
      expect(await store.get('a')).toEqual(cancelled);
      expect(await store.bySendId('send-a')).toEqual(cancelled);
      expect(await store.list({ limit: 10 })).toEqual([]);
      expect(await store.pending()).toEqual([]);
    });

    it('update does nothing for a deleted id, or one never created', async () => {
      const store = make();
      await store.create(oneOff('a'), bytes(1));
      expect(await store.delete('a')).toBe(true);
      await store.update(oneOff('a', { runs: 5 }));
      await store.update(schedule('ghost'));
      expect(await store.get('a')).toBeUndefined();
      expect(await store.get('ghost')).toBeUndefined();
      expect(await store.bySendId('send-a')).toBeUndefined();
      expect(await store.request('a')).toBeUndefined();
      expect(await store.list({ limit: 10 })).toEqual([]);
      expect(await store.pending()).toEqual([]);
    });

    it('lists only schedules not ended, oldest first by (createdAt, scheduleId), filtered by session', async () => {
      const store = make();
      await store.create(schedule('m', { createdAt: 300 }), bytes(1));
      await store.create(schedule('b', { createdAt: 200 }), bytes(1));
      await store.create(oneOff('z', { createdAt: 100 }), bytes(1));
      // Ties on createdAt go by id.
      await store.create(schedule('d', { createdAt: 200 }), bytes(1));
      await store.create(schedule('a', { createdAt: 200, sessionId: 's2' }), bytes(1));
      await store.create(ended('e', 50, { createdAt: 150 }), bytes(1));
      // A repeating schedule that ran out (no next run) has not ended: it is listed, not pending.
      const { nextRunAt: _next, ...ranOut } = schedule('c', { createdAt: 400 });
      await store.create(ranOut, bytes(1));

      expect(ids(await store.list({ limit: 100 }))).toEqual(['z', 'a', 'b', 'd', 'm', 'c']);
      expect(ids(await store.list({ sessionId: 's1', limit: 100 }))).toEqual(['z', 'b', 'd', 'm', 'c']);
      expect(ids(await store.list({ sessionId: 's2', limit: 100 }))).toEqual(['a']);
      expect(await store.list({ sessionId: 'nobody', limit: 100 })).toEqual([]);
      expect(await store.list({ limit: 100 })).toContainEqual(ranOut);
      expect(ids(await store.list({ limit: 2 }))).toEqual(['z', 'a']);
      expect(await store.list({ limit: 0 })).toEqual([]);
    });

    it('list pages with an exclusive `after` cursor, and walks every schedule exactly once', async () => {
      const store = make();
      for (const [id, createdAt] of [
        ['k', 10],
        ['c', 20],
        ['a', 20],
        ['b', 20],
        ['x', 5],
        ['y', 30],
      ] as const) {
        await store.create(schedule(id, { createdAt }), bytes(1));
      }
      await store.create(schedule('other', { createdAt: 20, sessionId: 's2' }), bytes(1));
      // Exclusive: the cursor's own schedule is not repeated; its createdAt peers after it in id order are.
      expect(ids(await store.list({ after: { createdAt: 20, scheduleId: 'a' }, limit: 10 }))).toEqual(['b', 'c', 'other', 'y']);
      expect(ids(await store.list({ sessionId: 's1', after: { createdAt: 20, scheduleId: 'b' }, limit: 10 }))).toEqual(['c', 'y']);
      // A cursor need not name a stored schedule.
      expect(ids(await store.list({ sessionId: 's1', after: { createdAt: 15, scheduleId: 'zzz' }, limit: 2 }))).toEqual(['a', 'b']);
      expect(await store.list({ after: { createdAt: 30, scheduleId: 'y' }, limit: 10 })).toEqual([]);

      const walked: string[] = [];
      let after: { createdAt: number; scheduleId: string } | undefined;
      for (;;) {
        const page = await store.list({ sessionId: 's1', limit: 2, ...(after ? { after } : {}) });
        if (page.length === 0) break;
        expect(page.length).toBeLessThanOrEqual(2);
        walked.push(...ids(page));
        const last = page.at(-1)!;
        after = { createdAt: last.createdAt, scheduleId: last.scheduleId };
      }
      expect(walked).toEqual(['x', 'k', 'a', 'b', 'c', 'y']);
    });

    it('pending() is every schedule with a next run that has not ended', async () => {
      const store = make();
      const due = [schedule('r1', { nextRunAt: 50 }), oneOff('o1', { nextRunAt: 10 }), schedule('r2', { nextRunAt: 10_000_000 })];
      for (const record of due) await store.create(record, bytes(1));
      const { nextRunAt: _next, ...ranOut } = schedule('ran-out');
      await store.create(ranOut, bytes(1));
      await store.create(ended('gone', 5), bytes(1));
      // Ended even though a next run is still written: not to fire.
      await store.create(oneOff('odd', { ended: { state: 'FAILED', at: 5 } }), bytes(1));

      const pending = await store.pending();
      expect([...pending].sort((a, b) => a.scheduleId.localeCompare(b.scheduleId))).toEqual(
        [...due].sort((a, b) => a.scheduleId.localeCompare(b.scheduleId)),
      );
    });

    it('delete says whether there was one, and takes the request and the send id with it', async () => {
      const store = make();
      await store.create(oneOff('a'), bytes(1));
      await store.create(oneOff('b'), bytes(2));
      expect(await store.delete('a')).toBe(true);
      expect(await store.delete('a')).toBe(false);
      expect(await store.delete('never')).toBe(false);
      expect(await store.get('a')).toBeUndefined();
      expect(await store.bySendId('send-a')).toBeUndefined();
      expect(await store.request('a')).toBeUndefined();
      expect(ids(await store.pending())).toEqual(['b']);
      expect(ids(await store.list({ limit: 10 }))).toEqual(['b']);
      expect(await store.bySendId('send-b')).toEqual(oneOff('b'));

      // The id is free again, with nothing of the old one left over.
      const again = schedule('a', { createdAt: 2 });
      expect(await store.create(again, bytes(7))).toBe(true);
      expect(await store.get('a')).toEqual(again);
      expect(Array.from((await store.request('a'))!)).toEqual([7]);
      expect(await store.bySendId('send-a')).toBeUndefined();
    });

    it("deleteSession removes every schedule of that session, ended ones too, and no other session's", async () => {
      const store = make();
      await store.create(schedule('a'), bytes(1));
      await store.create(oneOff('b'), bytes(1));
      await store.create(ended('c', 5), bytes(1));
      await store.create(oneOff('d', { sessionId: 's2' }), bytes(1));
      expect(await store.deleteSession('s1')).toBe(3);
      for (const id of ['a', 'b', 'c']) {
        expect(await store.get(id)).toBeUndefined();
        expect(await store.request(id)).toBeUndefined();
      }
      expect(await store.bySendId('send-b')).toBeUndefined();
      expect(await store.bySendId('send-c')).toBeUndefined();
      expect(await store.list({ sessionId: 's1', limit: 10 })).toEqual([]);
      expect(await store.deleteSession('s1')).toBe(0);
      expect(await store.deleteSession('nobody')).toBe(0);
      expect(await store.get('d')).toEqual(oneOff('d', { sessionId: 's2' }));
      expect(await store.bySendId('send-d')).toEqual(oneOff('d', { sessionId: 's2' }));
      expect(ids(await store.pending())).toEqual(['d']);
    });

    it('sweep forgets only schedules that ended at or before the time given, and counts them', async () => {
      const store = make();
      await store.create(ended('e100', 100), bytes(1));
      await store.create(ended('e200', 200, { ended: { state: 'FAILED', at: 200, failure: { reason: 'X', message: 'y' } } }), bytes(1));
      await store.create(ended('e300', 300), bytes(1));
      await store.create(oneOff('live', { createdAt: 0, nextRunAt: 50 }), bytes(1));
      await store.create(schedule('rep', { createdAt: 0, lastRunAt: 10 }), bytes(1));
      expect(await store.sweep(99)).toBe(0);
      expect(await store.sweep(200)).toBe(2);
      expect(await store.sweep(200)).toBe(0);
      for (const id of ['e100', 'e200']) {
        expect(await store.get(id)).toBeUndefined();
        expect(await store.request(id)).toBeUndefined();
        expect(await store.bySendId(`send-${id}`)).toBeUndefined();
      }
      expect((await store.get('e300'))?.ended?.at).toBe(300);
      expect(await store.get('live')).toBeDefined();
      expect(await store.get('rep')).toBeDefined();
      expect(await store.sweep(Number.MAX_SAFE_INTEGER)).toBe(1);
      expect(ids(await store.list({ limit: 10 }))).toEqual(['live', 'rep']);
    });
  });
}
