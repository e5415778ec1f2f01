/**
 * The learned call rate in session memory: set beside the proven size when the
 * engine's rate control moves it, kept when a call does not say, dropped once
 * back at the maximum; histories stored before it existed still load; the API
 * shows it.
 */
import { Keyv } from 'keyv';
import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../src/clock.js';
import { silentLogger } from '../src/log.js';
import { emptyHistory, freshSendLearning, parseSessionBatchHistory, recordBatch, type BatchRecord } from '../src/memory/history.js';
import { KeyvSessionMemory } from '../src/memory/keyv-memory.js';
import { historyToProto } from '../src/server/translate.js';

const ok = (callsPerSecond?: number): BatchRecord => ({
  size: 500,
  durationMs: 800,
  ok: true,
  sizeRelated: true,
  ...(callsPerSecond !== undefined ? { callsPerSecond } : {}),
});
const limited = (callsPerSecond: number): BatchRecord => ({ size: 500, durationMs: 300, ok: false, sizeRelated: false, callsPerSecond });

function replay(records: readonly BatchRecord[], times: readonly number[]) {
  let history = emptyHistory('s1', 0);
  let learning = freshSendLearning;
  for (const [i, record] of records.entries()) ({ history, learning } = recordBatch(history, learning, record, times[i]!));
  return history;
}

const open: KeyvSessionMemory[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((m) => m.close()));
});

describe('learnedCallsPerSecond in the session history', () => {
  it('is set by a refusal with its time, kept through calls at the same rate or that do not say, and moves with recovery', () => {
    const history = replay([ok(0), limited(1.4), ok(1.4), ok(), ok(1.45)], [10, 20, 30, 40, 50]);
    expect(history).toMatchObject({ learnedCallsPerSecond: 1.45, callRateLearnedAt: 50, maxProvenBatchSize: 500 });
    const held = replay([limited(1.4), ok(1.4), ok()], [20, 30, 40]);
    expect(held).toMatchObject({ learnedCallsPerSecond: 1.4, callRateLearnedAt: 20 });
    // A refused call is not a size failure: the proven size and the limit found stay as they were.
    expect(held.minFailedBatchSize).toBe(0);
  });

  it('is dropped, with its time, once the rate is back at the maximum; a history that never learned one has neither', () => {
    const recovered = replay([limited(1.4), ok(0)], [20, 30]);
    expect(recovered).not.toHaveProperty('learnedCallsPerSecond');
    expect(recovered).not.toHaveProperty('callRateLearnedAt');
    expect(Object.keys(replay([ok(0), ok(0)], [10, 20])).sort()).toEqual(Object.keys(emptyHistory('s1', 0)).sort());
  });

  it('loads from histories stored before it existed, and a bad stored rate costs only the rate', async () => {
    const stored = {
      sessionId: 's1',
      maxProvenBatchSize: 3000,
      lastSuccessfulSend: 5,
      totalSuccessfulSends: 4,
      totalAttempts: 5,
      averageBatchTime: 2600,
      successRate: 0.8,
      minFailedBatchSize: 0,
    };
    expect(parseSessionBatchHistory(stored)).toEqual(stored);
    expect(parseSessionBatchHistory({ ...stored, learnedCallsPerSecond: 0.7, callRateLearnedAt: 4 })).toEqual({
      ...stored,
      learnedCallsPerSecond: 0.7,
      callRateLearnedAt: 4,
    });
    expect(parseSessionBatchHistory({ ...stored, learnedCallsPerSecond: 'fast', callRateLearnedAt: 4 })).toEqual(stored);
    expect(parseSessionBatchHistory({ ...stored, learnedCallsPerSecond: -1 })).toEqual(stored);

    // Through a store, as a process started after the upgrade reads it.
    const keyv = new Keyv({ store: new Map(), namespace: 'h', throwOnErrors: true });
    const clock = new VirtualClock(10);
    const memory = new KeyvSessionMemory({ keyv, ttlMs: 3_600_000, clock, logger: silentLogger, sweepIntervalMs: 0 });
    open.push(memory);
    const { minFailedBatchSize: _, ...older } = stored;
    await keyv.set('s1', older);
    expect(await memory.load('s1')).toEqual(stored);
    const recorder = memory.begin('s1', await memory.load('s1'));
    recorder.record(limited(0.7));
    await recorder.flush();
    expect(await memory.inspect('s1')).toEqual({
      ...stored,
      totalAttempts: 6,
      successRate: 4 / 6,
      learnedCallsPerSecond: 0.7,
      callRateLearnedAt: 10,
    });
  });

  it('is in GetSessionLearning: the rate and when it was learned, or 0 and no time', () => {
    const learned = replay([limited(0.7)], [1_764_547_200_000]);
    const proto = historyToProto(learned, 3_600_000);
    expect(proto.learnedCallsPerSecond).toBe(0.7);
    expect(proto.callRateLearnTime?.seconds).toBe(1_764_547_200n);
    const none = historyToProto(replay([ok(0)], [1_764_547_200_000]), 3_600_000);
    expect(none.learnedCallsPerSecond).toBe(0);
    expect(none.callRateLearnTime).toBeUndefined();
  });
});
