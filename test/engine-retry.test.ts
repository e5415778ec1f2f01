import { describe, expect, it } from 'vitest';
import { retry, type Attempt } from '../src/engine/retry.js';
import { TransportError } from '../src/transport/port.js';

const fail = (code: 'TIMEOUT' | 'SEND_FAILED' | 'LOGGED_OUT' = 'SEND_FAILED', n = 0): Attempt<never> => ({
  ok: false,
  error: new TransportError(code, `attempt ${n}`),
});
const live = () => new AbortController().signal;

describe('retry', () => {
  it('returns the first success, numbering attempts from 1', async () => {
    const tried: number[] = [];
    const outcome = await retry<string>({
      maxAttempts: 3,
      signal: live(),
      attempt: async (n) => {
        tried.push(n);
        return n < 2 ? fail('TIMEOUT', n) : { ok: true, value: `ok on ${n}` };
      },
    });
    expect(outcome).toEqual({ ok: true, value: 'ok on 2' });
    expect(tried).toEqual([1, 2]);
  });

  it('gives the last failure once every attempt failed, waiting between attempts but not after the last', async () => {
    const events: string[] = [];
    const outcome = await retry({
      maxAttempts: 3,
      signal: live(),
      attempt: async (n) => {
        events.push(`attempt ${n}`);
        return fail('SEND_FAILED', n);
      },
      beforeRetry: async (error) => {
        events.push(`wait after ${error.message}`);
        return true;
      },
    });
    expect(outcome?.ok).toBe(false);
    expect(outcome?.ok === false && outcome.error.message).toBe('attempt 3');
    expect(events).toEqual(['attempt 1', 'wait after attempt 1', 'attempt 2', 'wait after attempt 2', 'attempt 3']);
  });

  it('stops at a fatal error without waiting', async () => {
    let attempts = 0;
    let waits = 0;
    const outcome = await retry({
      maxAttempts: 5,
      signal: live(),
      attempt: async () => {
        attempts++;
        return fail('LOGGED_OUT');
      },
      beforeRetry: async () => {
        waits++;
        return true;
      },
    });
    expect(outcome?.ok === false && outcome.error.code).toBe('LOGGED_OUT');
    expect([attempts, waits]).toEqual([1, 0]);
  });

  it('starts no attempt once the signal has aborted', async () => {
    const controller = new AbortController();
    let attempts = 0;
    const outcome = await retry({
      maxAttempts: 3,
      signal: controller.signal,
      attempt: async () => {
        attempts++;
        controller.abort();
        return fail();
      },
    });
    expect(outcome).toBeUndefined();
    expect(attempts).toBe(1);
  });

  it('is cancelled when an attempt or the wait between two says so', async () => {
    expect(await retry({ maxAttempts: 3, signal: live(), attempt: async () => undefined })).toBeUndefined();
    let attempts = 0;
    const outcome = await retry({
      maxAttempts: 3,
      signal: live(),
      attempt: async () => {
        attempts++;
        return fail();
      },
      beforeRetry: async () => false,
    });
    expect(outcome).toBeUndefined();
    expect(attempts).toBe(1);
  });

  it('lets an attempt or the wait end the retries by throwing', async () => {
    await expect(retry({ maxAttempts: 3, signal: live(), attempt: async () => Promise.reject(new Error('bad request')) })).rejects.toThrow(
      'bad request',
    );
    await expect(
      retry({
        maxAttempts: 3,
        signal: live(),
        attempt: async () => fail('TIMEOUT'),
        beforeRetry: async () => Promise.reject(new Error('still running')),
      }),
    ).rejects.toThrow('still running');
  });
});
