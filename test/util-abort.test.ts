import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../src/clock.js';
import { untilAborted, withinDeadline } from '../src/util/abort.js';
import { deferred } from './support/settle.js';

describe('untilAborted', () => {
  it('settles with the work when nothing aborts', async () => {
    const controller = new AbortController();
    await expect(untilAborted(Promise.resolve(7), controller.signal)).resolves.toBe(7);
    await expect(untilAborted(Promise.reject(new Error('boom')), controller.signal)).rejects.toThrow('boom');
    await expect(untilAborted(Promise.resolve('no signal'))).resolves.toBe('no signal');
  });

  it("rejects with the signal's reason as soon as it aborts, and runs onAbort first", async () => {
    const work = deferred<number>();
    const controller = new AbortController();
    const seen: string[] = [];
    const waiting = untilAborted(work.promise, controller.signal, () => seen.push('onAbort'));
    const reason = new Error('stop');
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    expect(seen).toEqual(['onAbort']);
    // The work settling later changes nothing, and its rejection is handled.
    work.reject(new Error('late'));
  });

  it('rejects at once for a signal already aborted, without onAbort', async () => {
    const controller = new AbortController();
    controller.abort('gone');
    let called = false;
    await expect(untilAborted(Promise.reject(new Error('unheard')), controller.signal, () => (called = true))).rejects.toBe('gone');
    expect(called).toBe(false);
  });

  it('stops listening once the work settles', async () => {
    const controller = new AbortController();
    let called = false;
    await untilAborted(Promise.resolve(1), controller.signal, () => (called = true));
    controller.abort();
    expect(called).toBe(false);
  });
});

describe('withinDeadline', () => {
  it('settles with the work when it beats the deadline, and leaves no timer behind', async () => {
    const clock = new VirtualClock();
    const value = await clock.run(() =>
      withinDeadline(
        clock,
        1000,
        clock.sleep(400).then(() => 'done'),
        () => new Error('late'),
      ),
    );
    expect(value).toBe('done');
    expect(clock.now()).toBe(400);
    expect(clock.pending).toBe(0);
  });

  it('rejects with what expired gives once the deadline passes first', async () => {
    const clock = new VirtualClock();
    const work = deferred<string>();
    const expired = new Error('no answer within 1000 ms');
    const outcome = clock.run(() => withinDeadline(clock, 1000, work.promise, () => expired));
    await expect(outcome).rejects.toBe(expired);
    expect(clock.now()).toBe(1000);
    work.reject(new Error('after the deadline: handled, not thrown'));
  });

  it('lets an async expired hear the work out before it decides', async () => {
    const clock = new VirtualClock();
    const work = deferred<string>();
    const outcome = clock.run(() =>
      withinDeadline(clock, 50, work.promise, async () => {
        work.reject(new Error('told to stop: reconnecting'));
        return work.promise.catch((error: unknown) => error);
      }),
    );
    await expect(outcome).rejects.toThrow('told to stop: reconnecting');
  });

  it("passes the work's own failure through", async () => {
    const clock = new VirtualClock();
    await expect(
      clock.run(() => withinDeadline(clock, 1000, Promise.reject(new Error('refused')), () => new Error('late'))),
    ).rejects.toThrow('refused');
    expect(clock.pending).toBe(0);
  });
});
