/**
 * What every ExperimentStore must do, run against each of them (memory,
 * SQLite, redis), so the service can treat them as one. `make` gives each
 * test a fresh, empty store.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ExperimentExistsError, newestFirst, type ExperimentStore } from '../../src/experiments/store.js';
import type { Experiment, ExperimentState, SendOutcome } from '../../src/experiments/types.js';

export interface ExperimentStoreUnderTest {
  readonly store: ExperimentStore;
  cleanup(): Promise<void>;
}

export function experiment(key: string, createdAt: number, over: Partial<Experiment> = {}): Experiment {
  return {
    key,
    description: `batch sizes for ${key}`,
    arms: [
      { name: 'control', strategy: 'adaptive', weight: 1, control: true },
      { name: 'bold', strategy: 'aggressive', weight: 3, control: false },
    ],
    unit: 'SESSION',
    coverage: 1,
    state: 'RUNNING',
    createdAt,
    ...over,
  };
}

export function outcome(key: string, sendId: string, at: number, over: Partial<SendOutcome> = {}): SendOutcome {
  return {
    experiment: key,
    arm: 'control',
    unit: `session-${sendId}`,
    sendId,
    sessionId: `session-${sendId}`,
    recipients: 1_000,
    delivered: 990,
    givenUp: 10,
    durationMs: 61_234,
    calls: 7,
    failedCalls: 1,
    finished: true,
    at,
    ...over,
  };
}

export function describeExperimentStoreContract(name: string, make: () => Promise<ExperimentStoreUnderTest>): void {
  describe(`${name}: the ExperimentStore contract`, () => {
    let store: ExperimentStore;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await make());
    });

    afterEach(async () => {
      await cleanup();
    });

    it('gives back a created experiment exactly, and nothing for unknown keys', async () => {
      const e = experiment('exp-1', 1_000, {
        description: 'ünï ✓ "quoted", with\nnewline',
        unit: 'SEND',
        // Fractions that only survive if stored as doubles, not as decimal text with fewer digits.
        coverage: 1 / 3,
        arms: [
          { name: 'a', strategy: 'adaptive', weight: 2, control: true },
          { name: 'b', strategy: 'conservative', weight: 5, control: false },
          { name: 'c:d', strategy: 'aggressive', weight: 1, control: false },
        ],
      });
      await store.create(e);
      expect(await store.get('exp-1')).toEqual(e);
      expect(await store.get('exp-1')).not.toHaveProperty('stoppedAt');
      expect(await store.get('exp-1')).not.toHaveProperty('winner');
      expect(await store.get('nope')).toBeUndefined();
    });

    it('refuses a taken key with ExperimentExistsError and keeps the first', async () => {
      const first = experiment('taken', 1_000);
      await store.create(first);
      const second = experiment('taken', 2_000, { description: 'other', coverage: 0.5 });
      const attempt = store.create(second);
      await expect(attempt).rejects.toBeInstanceOf(ExperimentExistsError);
      await expect(attempt).rejects.toMatchObject({ key: 'taken' });
      expect(await store.get('taken')).toEqual(first);
      expect((await store.list({ limit: 10 })).map((e) => e.key)).toEqual(['taken']);
    });

    it('lets exactly one of many concurrent creates of one key win', async () => {
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) => store.create(experiment('race', 1_000 + i, { description: `try ${i}` }))),
      );
      const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
      expect(won).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(ExperimentExistsError);
      expect(await store.get('race')).toEqual(experiment('race', 1_000 + won[0]!, { description: `try ${won[0]}` }));
    });

    it('lists newest first, ties on createdAt by key descending', async () => {
      for (const key of ['b', 'd', 'a', 'c']) await store.create(experiment(key, 5_000));
      await store.create(experiment('z', 4_000));
      await store.create(experiment('e', 6_000));
      expect((await store.list({ limit: 10 })).map((e) => e.key)).toEqual(['e', 'd', 'c', 'b', 'a', 'z']);
    });

    it('filters by state, and pages with limit + 1 and an exclusive key cursor', async () => {
      const made: Experiment[] = [];
      for (let i = 0; i < 23; i++) {
        const key = `exp-${String((i * 7) % 23).padStart(2, '0')}`;
        await store.create(experiment(key, 10_000 + Math.floor(i / 3)));
        if (i % 3 === 1) made.push((await store.stop(key, { at: 20_000 + i, winner: 'bold' }))!);
        else made.push(experiment(key, 10_000 + Math.floor(i / 3)));
      }
      const expected = (state?: ExperimentState) => made.filter((e) => state === undefined || e.state === state).sort(newestFirst);

      expect(await store.list({ limit: 100 })).toEqual(expected());
      expect(await store.list({ limit: 100, state: 'RUNNING' })).toEqual(expected('RUNNING'));
      expect(await store.list({ limit: 100, state: 'STOPPED' })).toEqual(expected('STOPPED'));
      expect(await store.list({ limit: 4 })).toHaveLength(5);
      expect(await store.list({ limit: 0 })).toHaveLength(1);

      for (const state of [undefined, 'RUNNING', 'STOPPED'] as const) {
        const seen: string[] = [];
        let after: string | undefined;
        for (let pages = 0; pages < 30; pages++) {
          const page = await store.list({ limit: 4, ...(state ? { state } : {}), ...(after ? { after } : {}) });
          expect(page.length).toBeLessThanOrEqual(5);
          seen.push(...page.slice(0, 4).map((e) => e.key));
          if (page.length <= 4) break;
          after = page[3]!.key;
        }
        expect(seen).toEqual(expected(state).map((e) => e.key));
      }
      // The cursor is placed by its own (createdAt, key), whatever state it has now.
      const stoppedCursor = expected('STOPPED')[0]!;
      expect(await store.list({ limit: 100, state: 'RUNNING', after: stoppedCursor.key })).toEqual(
        expected('RUNNING').filter((e) => newestFirst(e, stoppedCursor) > 0),
      );
      expect(await store.list({ limit: 100, after: 'never-created' })).toEqual([]);
    });

    it('stops once, with time and winner, and gives undefined for an unknown key', async () => {
      await store.create(experiment('exp-1', 1_000));
      await store.create(experiment('exp-2', 1_001));
      const stopped = await store.stop('exp-1', { at: 5_000, winner: 'bold' });
      expect(stopped).toEqual({ ...experiment('exp-1', 1_000), state: 'STOPPED', stoppedAt: 5_000, winner: 'bold' });
      expect(await store.get('exp-1')).toEqual(stopped);
      // A retried (or late) stop changes nothing: the first one's time and winner stand.
      expect(await store.stop('exp-1', { at: 6_000, winner: 'control' })).toEqual(stopped);
      expect(await store.stop('exp-1', { at: 7_000 })).toEqual(stopped);

      const noWinner = await store.stop('exp-2', { at: 5_500 });
      expect(noWinner).toEqual({ ...experiment('exp-2', 1_001), state: 'STOPPED', stoppedAt: 5_500 });
      expect(noWinner).not.toHaveProperty('winner');
      expect(await store.stop('nope', { at: 5_000, winner: 'bold' })).toBeUndefined();
      expect(await store.get('nope')).toBeUndefined();
      expect((await store.list({ limit: 10, state: 'STOPPED' })).map((e) => e.key)).toEqual(['exp-2', 'exp-1']);
      expect(await store.list({ limit: 10, state: 'RUNNING' })).toEqual([]);
    });

    it("updates a running experiment's coverage, weights and description, leaving the rest and its assignments", async () => {
      const created = experiment('exp-1', 1_000);
      await store.create(created);
      await store.assign('exp-1', 'unit-1', created.arms[1]!.name);
      const arms = created.arms.map((arm, i) => ({ ...arm, weight: arm.weight + i + 2 }));
      const updated = await store.update('exp-1', { coverage: 0.3, arms });
      expect(updated).toEqual({ ...created, coverage: 0.3, arms });
      expect(await store.get('exp-1')).toEqual(updated);
      expect(await store.update('exp-1', { description: 'now with notes' })).toEqual({ ...updated, description: 'now with notes' });
      expect(await store.assignment('exp-1', 'unit-1')).toBe(created.arms[1]!.name);
      expect(await store.update('nope', { coverage: 0.5 })).toBeUndefined();
      const stopped = await store.stop('exp-1', { at: 2_000 });
      // A stopped experiment does not change.
      expect(await store.update('exp-1', { coverage: 0.9 })).toEqual(stopped);
    });

    it('assigns stickily: the first arm stored is the one every later call gets', async () => {
      await store.create(experiment('exp-1', 1_000));
      expect(await store.assignment('exp-1', 'session-1')).toBeUndefined();
      expect(await store.assign('exp-1', 'session-1', 'bold')).toBe('bold');
      expect(await store.assign('exp-1', 'session-1', 'control')).toBe('bold');
      expect(await store.assignment('exp-1', 'session-1')).toBe('bold');
      // Per unit and per experiment: the same unit id elsewhere is a different assignment.
      expect(await store.assign('exp-1', 'session-2', 'control')).toBe('control');
      expect(await store.assign('exp-2', 'session-1', 'control')).toBe('control');
      expect(await store.assignment('exp-1', 'session-1')).toBe('bold');
      expect(await store.assignment('exp-1', 'unknown-unit')).toBeUndefined();
      expect(await store.assignment('unknown-exp', 'session-1')).toBeUndefined();
      // Ids with separators and non-ASCII are opaque.
      expect(await store.assign('exp-1', '4915100000042@s.whatsapp.net:ü', 'control')).toBe('control');
      expect(await store.assignment('exp-1', '4915100000042@s.whatsapp.net:ü')).toBe('control');
    });

    it('gives every concurrent assign of one unit the same arm', async () => {
      await store.create(experiment('exp-1', 1_000));
      const arms = await Promise.all(Array.from({ length: 50 }, (_, i) => store.assign('exp-1', 'contested', i % 2 ? 'bold' : 'control')));
      expect(new Set(arms).size).toBe(1);
      expect(await store.assignment('exp-1', 'contested')).toBe(arms[0]);
      const many = await Promise.all(Array.from({ length: 500 }, (_, i) => store.assign('exp-1', `unit-${i % 100}`, `arm-${i}`)));
      // The first call for each unit (i < 100) is the first to land: later ones see its arm.
      expect(many).toEqual(many.map((_, i) => `arm-${i % 100}`));
    });

    it('records one outcome per send, keeping the first, and lists them by time', async () => {
      await store.create(experiment('exp-1', 1_000));
      const a = outcome('exp-1', 'send-a', 3_000, { arm: 'bold', finished: false, durationMs: 1_500.25 });
      const b = outcome('exp-1', 'send-b', 2_000);
      const c = outcome('exp-1', 'send-c', 3_000, { givenUp: 0, failedCalls: 0, delivered: 1_000 });
      for (const o of [a, b, c]) await store.record(o);
      // A resumed send ending again: the first record stands.
      await store.record({ ...a, delivered: 1_000, finished: true, at: 9_000 });
      await store.record(outcome('exp-2', 'send-a', 1_000));

      expect(await store.outcomes('exp-1')).toEqual([b, a, c]);
      expect((await store.outcomes('exp-1'))[1]).toHaveProperty('finished', false);
      expect(await store.outcomes('exp-2')).toEqual([outcome('exp-2', 'send-a', 1_000)]);
      expect(await store.outcomes('unknown')).toEqual([]);
    });

    it('keeps assignments and outcomes of a stopped experiment, and still takes late outcomes', async () => {
      await store.create(experiment('exp-1', 1_000));
      await store.assign('exp-1', 'session-1', 'bold');
      await store.record(outcome('exp-1', 'send-1', 2_000, { arm: 'bold' }));
      await store.stop('exp-1', { at: 3_000, winner: 'bold' });
      // A send that started before the stop ends after it: its outcome still counts.
      await store.record(outcome('exp-1', 'send-2', 4_000));
      expect(await store.assignment('exp-1', 'session-1')).toBe('bold');
      expect((await store.outcomes('exp-1')).map((o) => o.sendId)).toEqual(['send-1', 'send-2']);
    });

    it('records 5,000 outcomes and reads them all back', async () => {
      await store.create(experiment('bulk', 1_000));
      const all = Array.from({ length: 5_000 }, (_, i) =>
        outcome('bulk', `send-${String(i).padStart(5, '0')}`, 10_000 + i, { arm: i % 4 ? 'bold' : 'control' }),
      );
      await Promise.all(all.map((o) => store.record(o)));
      const back = await store.outcomes('bulk');
      expect(back).toHaveLength(5_000);
      expect(back).toEqual(all);
    });
  });
}
