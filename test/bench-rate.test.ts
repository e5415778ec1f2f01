/** Fractional rate limits in network profiles: accepted, and honoured by the simulator to the millisecond. */
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../src/clock.js';
import { perSecondWindow, rateWindows } from '../src/transport/sim/model.js';
import { SimulatedNetwork } from '../src/transport/sim/network.js';
import { parseProfile, type SimProfileInput } from '../src/transport/sim/profile.js';
import type { PreparedStory, TransportError } from '../src/transport/port.js';

const story: PreparedStory = { story: { kind: 'text', text: 'hello' } };
const jids = (n: number) => Array.from({ length: n }, (_, i) => `${2000000 + i}@s.whatsapp.net`);

/** Sends one call starting at virtual time `at` and says how it went. */
function network(input: SimProfileInput) {
  const clock = new VirtualClock();
  const net = new SimulatedNetwork({ profile: parseProfile(input), clock, seed: 1 });
  const at = async (ms: number) => {
    await clock.advance(ms - clock.now());
    try {
      await clock.run(net.send({ sessionId: 's', story, recipients: jids(5) }, new AbortController().signal));
      return { ok: true as const };
    } catch (error) {
      const e = error as TransportError;
      return { ok: false as const, code: e.code, retryAfterMs: e.retryAfterMs, endedAt: clock.now() };
    }
  };
  return { at };
}

const base = { name: 'r', baseMs: 100, perRecipientMs: 0 };

describe('fractional rateLimitPerSecond', () => {
  it('is accepted where it used to be refused as not an integer', () => {
    expect(parseProfile({ ...base, rateLimitPerSecond: 0.5 }).rateLimitPerSecond).toBe(0.5);
    expect(() => parseProfile({ ...base, rateLimitPerSecond: -0.5 })).toThrow(/rateLimitPerSecond/);
  });

  it('keeps the whole part of the rate in the window that gives exactly that rate', () => {
    expect(perSecondWindow(0.5)).toEqual({ calls: 1, windowMs: 2000 });
    expect(perSecondWindow(2.5)).toEqual({ calls: 2, windowMs: 800 });
    expect(perSecondWindow(0.3)).toEqual({ calls: 1, windowMs: 3333 });
    expect(perSecondWindow(0)).toBeUndefined();
  });

  it('leaves whole rates as they were: N calls per 1000 ms, next to the extra windows', () => {
    const profile = parseProfile({ ...base, rateLimitPerSecond: 2, rateLimits: [{ calls: 3, windowMs: 3000 }] });
    expect(rateWindows(profile)).toEqual([
      { calls: 2, windowMs: 1000 },
      { calls: 3, windowMs: 3000 },
    ]);
  });

  it('0.5 lets one call through per 2 s sliding window, to the millisecond', async () => {
    const { at } = network({ ...base, rateLimitPerSecond: 0.5 });
    expect(await at(0)).toEqual({ ok: true });
    // Refused after baseMs, told to come back when the call at 0 leaves the window (2000).
    expect(await at(1000)).toEqual({ ok: false, code: 'RATE_LIMITED', retryAfterMs: 900, endedAt: 1100 });
    expect(await at(1999)).toMatchObject({ ok: false, code: 'RATE_LIMITED' });
    expect(await at(2000)).toEqual({ ok: true });
    expect(await at(3999)).toMatchObject({ ok: false, code: 'RATE_LIMITED' });
    expect(await at(4000)).toEqual({ ok: true });
  });

  it('1 call per second is still 1 per 1000 ms: the call at 1000 that 0.5 refuses goes through', async () => {
    const { at } = network({ ...base, rateLimitPerSecond: 1 });
    expect(await at(0)).toEqual({ ok: true });
    expect(await at(999)).toMatchObject({ ok: false, code: 'RATE_LIMITED', retryAfterMs: 0 });
    expect(await at(1000)).toEqual({ ok: true });
  });
});
