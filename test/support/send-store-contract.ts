/**
 * What every SendStore must do, run against each of them (memory, SQLite,
 * redis), so the registry can treat them as one. `make` gives each test a
 * fresh, empty store.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AnchorEvent, BatchEvent, PlannedEvent, SendEvent, SummaryEvent } from '../../src/engine/events.js';
import { newestFirst, type JournalEntry, type SendRecord, type SendState, type SendStore } from '../../src/sends/store.js';

export interface StoreUnderTest {
  readonly store: SendStore;
  cleanup(): Promise<void>;
}

export function planned(sendId: string, total: number): PlannedEvent {
  return {
    type: 'planned',
    sendId,
    sessionId: 'session-1',
    strategy: 'adaptive',
    mode: 'smart',
    total,
    invalid: [{ index: 3, input: '12ab', reason: 'not a phone number' }],
    duplicates: 2,
    usedHistory: true,
    provenSize: 4000,
    firstBatchSize: 500,
    reason: 'history: proven 4000',
  };
}

function anchor(): AnchorEvent {
  return { type: 'anchor', messageId: '3EB0C0FFEE', recipients: 1, durationMs: 812, attempts: 1 };
}

function batch(index: number, delivered: number, remaining: number, ok = true): BatchEvent {
  return {
    type: 'batch',
    index,
    size: 500,
    durationMs: 1_250 + index,
    ok,
    ...(ok ? {} : { error: { code: 'TIMEOUT', message: 'no ack in 15 s', retryable: true, whatsappCode: 479 } }),
    speed: ok ? 'FAST' : 'SLOW',
    delivered,
    failed: ok ? 0 : 1,
    remaining,
    nextSize: remaining === 0 ? 0 : 750,
    reason: ok ? 'fast: grow' : 'timeout: shrink',
  };
}

function summary(sendId: string, total: number): SummaryEvent {
  return {
    type: 'summary',
    sendId,
    messageId: '3EB0C0FFEE',
    total,
    delivered: total - 1,
    failed: [{ recipient: '4915100000042', code: 'SEND_FAILED', reason: 'refused' }],
    invalid: 1,
    batches: 2,
    batchSequence: [500, 750],
    totalDurationMs: 4_321,
    learning: { maxProvenBatchSize: 750, usedHistoricalData: true, willSkipRampingNextTime: true },
  };
}

export function record(sendId: string, createdAt: number, over: Partial<SendRecord> = {}): SendRecord {
  const total = 1_000;
  return {
    sendId,
    requestId: '',
    fingerprint: `fp-${sendId}`,
    sessionId: 'session-1',
    strategy: 'adaptive',
    createdAt,
    state: 'RUNNING',
    updatedAt: createdAt,
    events: 1,
    progress: { total, delivered: 0, failed: 0, remaining: total },
    ...over,
  };
}

export const recipientsOf = (n: number): string[] => Array.from({ length: n }, (_, i) => `49151${String(i).padStart(8, '0')}`);

export function describeSendStoreContract(name: string, make: () => Promise<StoreUnderTest>): void {
  describe(`${name}: the SendStore contract`, () => {
    let store: SendStore;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await make());
    });

    afterEach(async () => {
      await cleanup();
    });

    /** A RUNNING send with its planned entry, created at `at`. */
    const start = async (sendId: string, at: number, over: Partial<SendRecord> = {}) => {
      const r = record(sendId, at, over);
      await store.create(r, { event: planned(sendId, r.progress.total), checkpoint: { cursor: 0 } }, recipientsOf(5));
      return r;
    };

    it('gives back a created send, its first event, and nothing for unknown ids', async () => {
      const r = await start('s1', 1_000, { requestId: 'req-1', sessionId: 'session-9', strategy: 'conservative' });
      expect(await store.get('s1')).toEqual(r);
      expect(await store.events('s1', 0)).toEqual([planned('s1', 1_000)]);
      expect(await store.events('s1', 1)).toEqual([]);
      expect(await store.get('nope')).toBeUndefined();
      expect(await store.events('nope', 0)).toEqual([]);
    });

    it('appends in order, updating events, updatedAt and progress', async () => {
      await start('s1', 1_000);
      const expected: SendEvent[] = [planned('s1', 1_000), anchor()];
      await store.append('s1', { event: anchor() }, { at: 1_100, progress: { total: 1_000, delivered: 1, failed: 0, remaining: 999 } });
      for (let i = 0; i < 20; i++) {
        const ok = i % 5 !== 3;
        const e = batch(i, 1 + 50 * (i + 1), 999 - 50 * (i + 1), ok);
        expected.push(e);
        await store.append(
          's1',
          { event: e, checkpoint: { i } },
          { at: 1_200 + i, progress: { total: 1_000, delivered: e.delivered, failed: e.failed, remaining: e.remaining } },
        );
      }
      const last = expected.at(-1) as BatchEvent;
      expect(await store.get('s1')).toEqual({
        ...record('s1', 1_000),
        events: 22,
        updatedAt: 1_219,
        progress: { total: 1_000, delivered: last.delivered, failed: last.failed, remaining: last.remaining },
      });
      expect(await store.events('s1', 0)).toEqual(expected);
      expect(await store.events('s1', 15)).toEqual(expected.slice(15));
      expect(await store.events('s1', 22)).toEqual([]);
    });

    it('returns checkpoints exactly as JSON wrote them, and none where none was given', async () => {
      await start('s1', 1_000);
      const checkpoints: unknown[] = [
        {
          delivered: [0, 1, 2],
          failed: { 7: 'SEND_FAILED' },
          strategy: {
            size: 500.5,
            history: [
              [1, true],
              [2, false],
            ],
            note: 'ünï ✓',
          },
        },
        null,
        42,
        'just text',
        [{ nested: { deeper: [null, -3, 1e21, ''] } }],
      ];
      const p = { total: 1_000, delivered: 0, failed: 0, remaining: 1_000 };
      for (const [i, checkpoint] of checkpoints.entries())
        await store.append('s1', { event: batch(i, 0, 1_000), checkpoint }, { at: 2_000, progress: p });
      await store.append('s1', { event: batch(5, 0, 1_000) }, { at: 2_000, progress: p });
      const journal = await store.journal('s1');
      expect(journal?.entries.map((e) => e.checkpoint)).toEqual([{ cursor: 0 }, ...checkpoints, undefined]);
      expect(journal?.entries[2]).toHaveProperty('checkpoint', null);
      expect(journal?.entries[6]?.checkpoint).toBeUndefined();
    });

    it('keeps the prepared story byte for byte', async () => {
      await start('s1', 1_000);
      const backing = new Uint8Array([9, 9, 0x00, 0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80, 0x0a, 0x0d, 0x00, 0x80, 7, 9]);
      // A view into a larger buffer, as an encoder may hand over: only its own bytes count.
      const story = backing.subarray(2, 14);
      await store.saveStory('s1', story);
      const saved = (await store.journal('s1'))?.story;
      expect(saved && Array.from(saved)).toEqual(Array.from(story));
    });

    it('gives a RUNNING send its whole journal, and nothing once it finished or when unknown', async () => {
      const r = await start('s1', 1_000, { requestId: 'req-1' });
      await store.append(
        's1',
        { event: anchor(), checkpoint: { delivered: [0] } },
        { at: 1_100, progress: { total: 1_000, delivered: 1, failed: 0, remaining: 999 } },
      );
      const journal = await store.journal('s1');
      expect(journal).toEqual({
        record: { ...r, events: 2, updatedAt: 1_100, progress: { total: 1_000, delivered: 1, failed: 0, remaining: 999 } },
        recipients: recipientsOf(5),
        entries: [
          { event: planned('s1', 1_000), checkpoint: { cursor: 0 } },
          { event: anchor(), checkpoint: { delivered: [0] } },
        ],
      });
      expect(journal?.story).toBeUndefined();
      await store.finish('s1', { state: 'SUCCEEDED', at: 1_500 });
      expect(await store.journal('s1')).toBeUndefined();
      expect(await store.journal('nope')).toBeUndefined();
    });

    it('finishes a send with its state, time and failure, dropping checkpoints but not events', async () => {
      await start('ok', 1_000);
      await start('anchor', 1_001);
      await start('fatal', 1_002);
      await store.saveStory('ok', new Uint8Array([1, 2, 3]));
      await store.append(
        'ok',
        { event: anchor(), checkpoint: { delivered: [0] } },
        { at: 1_100, progress: { total: 1_000, delivered: 1, failed: 0, remaining: 999 } },
      );
      await store.append(
        'ok',
        { event: summary('ok', 1_000), checkpoint: { done: true } },
        { at: 1_200, progress: { total: 1_000, delivered: 999, failed: 1, remaining: 0 } },
      );
      await store.finish('ok', { state: 'SUCCEEDED', at: 1_300 });
      await store.finish('anchor', { state: 'FAILED', at: 1_400, failure: { reason: 'ANCHOR_FAILED', message: 'the anchor was refused' } });
      const fatal = { reason: 'MEDIA_TOO_LARGE', message: 'too big', transportCode: 'LOGGED_OUT', field: 'story.image.data' };
      await store.finish('fatal', { state: 'FAILED', at: 1_500, failure: fatal });

      const ok = await store.get('ok');
      expect(ok).toEqual({
        ...record('ok', 1_000),
        state: 'SUCCEEDED',
        updatedAt: 1_300,
        finishedAt: 1_300,
        events: 3,
        progress: { total: 1_000, delivered: 999, failed: 1, remaining: 0 },
      });
      expect(ok).not.toHaveProperty('failure');
      expect(await store.get('anchor')).toEqual({
        ...record('anchor', 1_001),
        state: 'FAILED',
        updatedAt: 1_400,
        finishedAt: 1_400,
        failure: { reason: 'ANCHOR_FAILED', message: 'the anchor was refused' },
      });
      expect((await store.get('anchor'))?.failure).not.toHaveProperty('transportCode');
      expect((await store.get('fatal'))?.failure).toEqual(fatal);
      expect(await store.events('ok', 0)).toEqual([planned('ok', 1_000), anchor(), summary('ok', 1_000)]);
      expect(await store.journal('ok')).toBeUndefined();
      expect(await store.unfinished()).toEqual([]);
    });

    it('finds a send by its request id, as it is now', async () => {
      await start('s1', 1_000, { requestId: 'req-1' });
      await start('s2', 1_001);
      await store.append('s1', { event: anchor() }, { at: 1_100, progress: { total: 1_000, delivered: 1, failed: 0, remaining: 999 } });
      expect(await store.findByRequestId('req-1')).toMatchObject({ sendId: 's1', events: 2, updatedAt: 1_100 });
      expect(await store.findByRequestId('req-2')).toBeUndefined();
      // '' means "no request id": it names no send, however many were created without one.
      expect(await store.findByRequestId('')).toBeUndefined();
    });

    it('lists newest first, ties on createdAt by sendId descending', async () => {
      for (const id of ['b', 'd', 'a', 'c']) await start(id, 5_000);
      await start('z', 4_000);
      await start('e', 6_000);
      expect((await store.list({ limit: 10 })).map((r) => r.sendId)).toEqual(['e', 'd', 'c', 'b', 'a', 'z']);
    });

    it('filters by session and state, and pages with limit + 1 and an exclusive cursor', async () => {
      const made: SendRecord[] = [];
      const states: Array<Exclude<SendState, 'SCHEDULED'>> = ['RUNNING', 'SUCCEEDED', 'CANCELLED', 'FAILED'];
      for (let i = 0; i < 23; i++) {
        const sendId = `send-${String((i * 7) % 23).padStart(2, '0')}`;
        const r = await start(sendId, 10_000 + Math.floor(i / 3), { sessionId: i % 2 ? 'odd' : 'even' });
        const state = states[i % 4]!;
        const at = 20_000 + i;
        if (state !== 'RUNNING') await store.finish(sendId, { state, at });
        made.push(state === 'RUNNING' ? r : { ...r, state, updatedAt: at, finishedAt: at });
      }
      const expected = (filter: (r: SendRecord) => boolean) => made.filter(filter).sort(newestFirst);

      expect(await store.list({ limit: 100 })).toEqual(expected(() => true));
      expect(ids(await store.list({ limit: 100, sessionId: 'odd' }))).toEqual(ids(expected((r) => r.sessionId === 'odd')));
      expect(ids(await store.list({ limit: 100, state: 'RUNNING' }))).toEqual(ids(expected((r) => r.state === 'RUNNING')));
      expect(ids(await store.list({ limit: 100, sessionId: 'even', state: 'FAILED' }))).toEqual(
        ids(expected((r) => r.sessionId === 'even' && r.state === 'FAILED')),
      );
      expect(await store.list({ limit: 100, sessionId: 'nobody' })).toEqual([]);
      expect(await store.list({ limit: 4 })).toHaveLength(5);

      for (const query of [{}, { sessionId: 'even' }, { state: 'SUCCEEDED' as const }]) {
        const seen: string[] = [];
        let after: SendRecord | undefined;
        for (let pages = 0; pages < 30; pages++) {
          const page = await store.list({ ...query, limit: 4, ...(after ? { after } : {}) });
          expect(page.length).toBeLessThanOrEqual(5);
          seen.push(...ids(page.slice(0, 4)));
          if (page.length <= 4) break;
          after = page[3];
        }
        const all = await store.list({ ...query, limit: 100 });
        expect(seen).toEqual(ids(all));
      }
      // A cursor naming a send that is gone still pages from its place in the order.
      const gone = { createdAt: 10_004, sendId: 'send-09x' };
      expect(ids(await store.list({ limit: 100, after: gone }))).toEqual(ids(expected((r) => newestFirst(r, gone) > 0)));
    });

    it('sweeps only sends finished at or before the bound, with their request ids', async () => {
      await start('early', 1_000, { requestId: 'req-early' });
      await start('late', 1_001, { requestId: 'req-late' });
      await start('running', 1_002, { requestId: 'req-running' });
      await store.finish('early', { state: 'SUCCEEDED', at: 2_000 });
      await store.finish('late', { state: 'CANCELLED', at: 3_000 });

      expect(await store.sweep(1_999)).toBe(0);
      expect(await store.sweep(2_000)).toBe(1);
      expect(await store.get('early')).toBeUndefined();
      expect(await store.events('early', 0)).toEqual([]);
      expect(await store.findByRequestId('req-early')).toBeUndefined();
      expect(ids(await store.list({ limit: 10 }))).toEqual(['running', 'late']);
      expect(await store.findByRequestId('req-late')).toMatchObject({ sendId: 'late' });

      expect(await store.sweep(10_000)).toBe(1);
      expect(await store.get('late')).toBeUndefined();
      expect(await store.get('running')).toMatchObject({ state: 'RUNNING' });
      expect(await store.findByRequestId('req-running')).toMatchObject({ sendId: 'running' });
      expect(await store.sweep(10_000)).toBe(0);
    });

    it('keeps a request id that a newer send took over when sweeping the older one', async () => {
      await start('old', 1_000, { requestId: 'req-1' });
      await store.finish('old', { state: 'FAILED', at: 1_500, failure: { reason: 'INTERNAL', message: 'boom' } });
      await start('new', 2_000, { requestId: 'req-1', fingerprint: 'other' });
      expect(await store.sweep(1_500)).toBe(1);
      expect(await store.findByRequestId('req-1')).toMatchObject({ sendId: 'new' });
    });

    it('lists RUNNING sends oldest first for a restart', async () => {
      for (const [id, at] of [
        ['c', 3_000],
        ['a', 1_000],
        ['y', 2_000],
        ['x', 2_000],
        ['done', 500],
      ] as const)
        await start(id, at);
      await store.finish('done', { state: 'SUCCEEDED', at: 4_000 });
      expect(await store.unfinished()).toEqual(['a', 'x', 'y', 'c']);
      await store.finish('x', { state: 'CANCELLED', at: 4_100 });
      expect(await store.unfinished()).toEqual(['a', 'y', 'c']);
    });

    it('round-trips a 100,000-recipient list', async () => {
      const recipients = recipientsOf(100_000);
      const r = record('big', 1_000, { progress: { total: 100_000, delivered: 0, failed: 0, remaining: 100_000 } });
      const first: JournalEntry = { event: planned('big', 100_000), checkpoint: { cursor: 0 } };
      await store.create(r, first, recipients);
      const journal = await store.journal('big');
      expect(journal?.recipients).toHaveLength(100_000);
      expect(journal?.recipients).toEqual(recipients);
    });
  });
}

const ids = (rs: readonly SendRecord[]) => rs.map((r) => r.sendId);
