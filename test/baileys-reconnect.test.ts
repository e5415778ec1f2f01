import { Boom } from '@hapi/boom';
import { DisconnectReason } from '@whiskeysockets/baileys';
import { describe, expect, it } from 'vitest';
import {
  BAD_SESSION_RETRIES,
  QR_ATTEMPTS_ENDED,
  RECONNECT_BASE_MS,
  RECONNECT_CAP_MS,
  backoffDelay,
  closeInfo,
  reconnectDecision,
} from '../src/transport/baileys/reconnect.js';
import { TERMINAL_STATES } from '../src/transport/sessions.js';

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
    [DisconnectReason.multideviceMismatch, 411, 'logged-out', true],
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
      state: 'failed',
      deleteCredentials: false,
      reason: expect.stringContaining('bad session (500) 4 times in a row'),
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

  it('stops only in a state a session does not leave by itself', () => {
    const closes = [401, 402, 403, 405, 406, 409, 411, 419, 440, 418].map((code) => failure({ reason: String(code) }));
    closes.push(closeInfo(new Boom(QR_ATTEMPTS_ENDED, { statusCode: DisconnectReason.timedOut })));
    const stops = closes.map((close) => reconnectDecision(close, 0, half)).filter((d) => d.action === 'stop');
    expect(stops).toHaveLength(closes.length);
    for (const stop of stops) expect(TERMINAL_STATES).toContain(stop.state);
  });
});

/** What Baileys' socket.js makes of a `<failure reason="N" .../>` frame ('CB:failure'). */
const failure = (attrs: Record<string, string>) =>
  closeInfo(new Boom('Connection Failure', { statusCode: Number(attrs.reason), data: attrs }));

describe('reconnectDecision on failure frames and pairing', () => {
  it('stops a temporarily banned account (402), saying why and when the ban lifts', () => {
    const decision = reconnectDecision(failure({ reason: '402', code: '101', expire: '86400' }), 0, half);
    expect(decision).toMatchObject({ action: 'stop', state: 'banned', deleteCredentials: false });
    expect(decision.reason).toContain('402');
    expect(decision.reason).toContain('people who have not saved this number (101)');
    expect(decision.reason).toContain('lifts in about 24 h');
    expect(reconnectDecision(failure({ reason: '402' }), 0, half).reason).toContain('cause not given; end not given');
  });

  it.each([
    ['406', 'banned', 'banned (406)'],
    ['405', 'failed', 'client outdated (405)'],
    ['409', 'failed', 'bad user agent (409)'],
    ['419', 'forbidden', 'unauthorized (419)'],
    ['403', 'forbidden', 'forbidden (403)'],
  ])('stops on failure %s as %s, keeping the creds', (reason, state, says) => {
    const decision = reconnectDecision(failure({ reason, location: 'frc' }), 0, half);
    expect(decision).toMatchObject({ action: 'stop', state, deleteCredentials: false });
    expect(decision.reason).toContain(says);
  });

  it('stops on a failure reason nobody has mapped, but backs off on the same code from elsewhere', () => {
    const refused = reconnectDecision(failure({ reason: '418' }), 0, half);
    expect(refused).toMatchObject({ action: 'stop', state: 'failed', deleteCredentials: false });
    expect(refused.reason).toContain('failure 418');
    // A refused WebSocket upgrade with the same status says nothing about the account.
    const wsError = closeInfo(new Boom('WebSocket Error (Unexpected server response: 418)', { statusCode: 418 }));
    expect(reconnectDecision(wsError, 0, half).action).toBe('reconnect-after');
  });

  it.each(['503', '413', '414'])("backs off on failure %s: the server's trouble, not the account's", (reason) => {
    const decision = reconnectDecision(failure({ reason }), 1, half);
    expect(decision.action).toBe('reconnect-after');
    expect(decision.reason).toContain(reason);
  });

  it('treats failure 500 as a bad session: a few retries, then stop', () => {
    expect(reconnectDecision(failure({ reason: '500' }), 0, half).action).toBe('reconnect-after');
    expect(reconnectDecision(failure({ reason: '500' }), BAD_SESSION_RETRIES, half)).toMatchObject({
      action: 'stop',
      state: 'failed',
      reason: expect.stringContaining('bad session (500)'),
    });
  });

  it('stops a pairing whose QR codes ran out, but backs off on any other 408', () => {
    const expired = closeInfo(new Boom(QR_ATTEMPTS_ENDED, { statusCode: DisconnectReason.timedOut }));
    expect(reconnectDecision(expired, 0, half)).toMatchObject({
      action: 'stop',
      state: 'unpaired',
      deleteCredentials: false,
      reason: expect.stringContaining('pairing expired'),
    });
    const lost = closeInfo(new Boom('Connection was lost', { statusCode: DisconnectReason.connectionLost }));
    expect(reconnectDecision(lost, 0, half).action).toBe('reconnect-after');
  });

  it('reads a Boom, and nothing from what is not one', () => {
    expect(closeInfo(new Boom('Connection Failure', { statusCode: 402, data: { reason: '402' } }))).toEqual({
      statusCode: 402,
      message: 'Connection Failure',
      data: { reason: '402' },
    });
    expect(closeInfo(undefined)).toEqual({});
    expect(closeInfo(new Error('plain'))).toEqual({ message: 'plain' });
    expect(reconnectDecision(closeInfo(new Error('plain')), 0, half).action).toBe('reconnect-after');
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
