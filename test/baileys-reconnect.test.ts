import { DisconnectReason } from '@whiskeysockets/baileys';
import { describe, expect, it } from 'vitest';
import {
  BAD_SESSION_RETRIES,
  RECONNECT_BASE_MS,
  RECONNECT_CAP_MS,
  backoffDelay,
  reconnectDecision,
} from '../src/baileys/reconnect.js';

/** mulberry32: a deterministic [0, 1) source so the jitter is reproducible. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const half = () => 0.5;

describe('reconnectDecision', () => {
  it('reconnects at once when the server asks for a restart (515)', () => {
    expect(reconnectDecision(DisconnectReason.restartRequired, 7, half)).toMatchObject({ action: 'reconnect-now', delayMs: 0 });
  });

  it.each([
    [DisconnectReason.loggedOut, 401, 'logged-out', true],
    [DisconnectReason.connectionReplaced, 440, 'replaced', false],
    [DisconnectReason.forbidden, 403, 'forbidden', false],
    [DisconnectReason.multideviceMismatch, 411, 'multidevice-mismatch', true],
  ] as const)('stops on %i and says whether to delete creds', (code, literal, state, deleteCredentials) => {
    expect(code).toBe(literal);
    const decision = reconnectDecision(code, 0, half);
    expect(decision).toMatchObject({ action: 'stop', state, deleteCredentials });
    expect(decision.reason).toContain(String(literal));
  });

  it('retries a bad session (500) a few times with backoff, then stops keeping creds', () => {
    for (let attempt = 0; attempt < BAD_SESSION_RETRIES; attempt++) {
      expect(reconnectDecision(DisconnectReason.badSession, attempt, half).action).toBe('reconnect-after');
    }
    expect(reconnectDecision(DisconnectReason.badSession, BAD_SESSION_RETRIES, half)).toMatchObject({
      action: 'stop',
      state: 'bad-session',
      deleteCredentials: false,
    });
  });

  it.each([
    ['connectionClosed', DisconnectReason.connectionClosed],
    ['connectionLost', DisconnectReason.connectionLost],
    ['timedOut', DisconnectReason.timedOut],
    ['unavailableService', DisconnectReason.unavailableService],
    ['no status code', undefined],
    ['an unknown code', 499],
  ])('backs off on %s', (_name, code) => {
    const decision = reconnectDecision(code, 2, half);
    expect(decision).toMatchObject({ action: 'reconnect-after', delayMs: 0.5 * 4 * RECONNECT_BASE_MS });
    if (code !== undefined) expect(decision.reason).toContain(String(code));
  });

  it('has a decision for every DisconnectReason value', () => {
    const codes = Object.values(DisconnectReason).filter((v): v is number => typeof v === 'number');
    expect(new Set(codes).size).toBe(9); // 408 is both connectionLost and timedOut
    for (const code of codes) expect(['reconnect-now', 'reconnect-after', 'stop']).toContain(reconnectDecision(code, 0).action);
  });
});

describe('backoffDelay', () => {
  it('grows exponentially up to the cap and stays within [0, ceiling]', () => {
    const rng = seeded(42);
    for (let attempt = 0; attempt < 40; attempt++) {
      const ceiling = Math.min(RECONNECT_CAP_MS, RECONNECT_BASE_MS * 2 ** attempt);
      for (let i = 0; i < 50; i++) {
        const d = backoffDelay(attempt, rng);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(ceiling);
        expect(Number.isInteger(d)).toBe(true);
      }
    }
    // With the rng pinned at the top, the delay is the ceiling: 1 s, 2 s, 4 s ... 60 s.
    const top = () => 0.999999;
    expect([0, 1, 2, 5, 6, 7, 1000].map((a) => Math.round(backoffDelay(a, top) / 1000))).toEqual([1, 2, 4, 32, 60, 60, 60]);
  });

  it('spreads delays (full jitter) and is reproducible with a seed', () => {
    const a = Array.from({ length: 20 }, (_, i) => backoffDelay(6, seeded(i)));
    const b = Array.from({ length: 20 }, (_, i) => backoffDelay(6, seeded(i)));
    expect(a).toEqual(b);
    expect(new Set(a).size).toBeGreaterThan(15);
    expect(Math.min(...a)).toBeLessThan(RECONNECT_CAP_MS / 4);
  });

  it('treats odd inputs as safely as it can', () => {
    expect(backoffDelay(-3, () => 0.999)).toBeLessThanOrEqual(RECONNECT_BASE_MS);
    expect(backoffDelay(Number.POSITIVE_INFINITY, () => 2)).toBe(RECONNECT_CAP_MS);
    expect(backoffDelay(3, () => -1)).toBe(0);
    expect(backoffDelay(3, half, { baseMs: 10, capMs: 50 })).toBe(25);
  });
});
