import { describe, expect, it } from 'vitest';
import { ScaledClock, SystemClock, VirtualClock } from '../src/clock.js';

describe('VirtualClock', () => {
  it('jumps to the next timer when everything is idle, in order', async () => {
    const clock = new VirtualClock(1000);
    const seen: string[] = [];
    await clock.run(async () => {
      await Promise.all([
        clock.sleep(300).then(() => seen.push(`b@${clock.now()}`)),
        clock.sleep(100).then(() => seen.push(`a@${clock.now()}`)),
        clock.sleep(300).then(() => seen.push(`c@${clock.now()}`)),
      ]);
    });
    expect(seen).toEqual(['a@1100', 'b@1300', 'c@1300']);
    expect(clock.now()).toBe(1300);
  });

  it('cancels a sleep on abort without moving time', async () => {
    const clock = new VirtualClock();
    const controller = new AbortController();
    const result = await clock.run(async () => {
      const long = clock.sleep(60_000, controller.signal).then(
        () => 'slept',
        () => 'aborted',
      );
      await clock.sleep(10);
      controller.abort();
      return long;
    });
    expect(result).toBe('aborted');
    expect(clock.now()).toBe(10);
    expect(clock.pending).toBe(0);
  });

  it('advance() fires what is due and stops at the target', async () => {
    const clock = new VirtualClock();
    let fired = 0;
    void clock.sleep(50).then(() => fired++);
    void clock.sleep(150).then(() => fired++);
    await clock.advance(100);
    expect(fired).toBe(1);
    expect(clock.now()).toBe(100);
  });

  it('refuses to wait forever when no timer can wake the work', async () => {
    const clock = new VirtualClock();
    await expect(clock.run(() => new Promise(() => {}), { idleLimitMs: 50 })).rejects.toThrow(/no timer is pending/);
  });
});

describe('SystemClock', () => {
  it('rejects a non-positive scale', () => {
    expect(() => new SystemClock(0)).toThrow(RangeError);
  });
  it('rejects at once when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    await expect(new SystemClock().sleep(10, controller.signal)).rejects.toThrow('stop');
  });
});

describe('ScaledClock', () => {
  it('plays virtual time back in real time: durations are exactly what was slept', async () => {
    const clock = new ScaledClock(10_000, 0);
    const seen: number[] = [];
    await Promise.all([
      clock.sleep(2000).then(() => seen.push(clock.now())),
      clock.sleep(500).then(async () => {
        seen.push(clock.now());
        await clock.sleep(700);
        seen.push(clock.now());
      }),
    ]);
    expect(seen).toEqual([500, 1200, 2000]);
  });

  it('does not move time for an aborted sleep', async () => {
    const clock = new ScaledClock(10_000, 0);
    const controller = new AbortController();
    const long = clock.sleep(1_000_000, controller.signal);
    controller.abort(new Error('stop'));
    await expect(long).rejects.toThrow('stop');
    await clock.sleep(10);
    expect(clock.now()).toBe(10);
  });
});
