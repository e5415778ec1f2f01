/**
 * What to do after a Baileys connection closes, by DisconnectReason. Pure: the
 * caller reads `(lastDisconnect.error as Boom)?.output?.statusCode`, applies
 * the decision (open a socket, sleep, or stop and delete creds) and owns the
 * attempt counter: reset it to 0 once a connection reaches 'open', or a flaky
 * link would creep up to the cap and stay there.
 *
 * | code | DisconnectReason          | decision                                                    |
 * |------|---------------------------|-------------------------------------------------------------|
 * | 515  | restartRequired           | reconnect now: the server asks for it right after pairing   |
 * |      |                           | and the creds are fine; waiting only delays the first send. |
 * | 401  | loggedOut                 | stop 'logged-out', delete creds: the device was unlinked,   |
 * |      |                           | they will never authenticate again; only a re-pair helps.   |
 * | 440  | connectionReplaced        | stop 'replaced', keep creds: another client (another        |
 * |      |                           | instance of us?) opened this session. Reconnecting would    |
 * |      |                           | kick it out and be kicked back; report it, never fight.     |
 * | 403  | forbidden                 | stop 'forbidden', keep creds: the account is banned or      |
 * |      |                           | restricted. Retrying is pointless and looks abusive; the    |
 * |      |                           | creds may work again if the restriction is lifted.          |
 * | 500  | badSession                | back off for BAD_SESSION_RETRIES attempts, then stop        |
 * |      |                           | 'bad-session' keeping creds. Baileys uses 500 as the        |
 * |      |                           | fallback for ANY stream:error without a code or known tag   |
 * |      |                           | (Utils/generics getErrorCodeFromStreamError), so it is not  |
 * |      |                           | proof the keys are corrupt. The common advice (delete the   |
 * |      |                           | session, re-pair) is irreversible and needs a human with a  |
 * |      |                           | phone; stopping is reversible, so that choice is theirs.    |
 * | 411  | multideviceMismatch       | stop 'multidevice-mismatch', delete creds: the session was  |
 * |      |                           | not made for multi-device and has to be paired again.       |
 * | 428  | connectionClosed          | back off: the socket dropped (network, keep-alive miss).    |
 * | 408  | connectionLost / timedOut | back off: same value for both in Baileys; transient.        |
 * | 503  | unavailableService        | back off: WhatsApp side outage; capped so we come back.     |
 * | none | (no Boom, socket error)   | back off: nothing says the session is broken.               |
 * | else | unknown code              | back off, reason names the code: stopping on an unknown     |
 * |      |                           | code would need a human for what is usually a blip.         |
 *
 * Backoff is "full jitter": uniform in [0, min(cap, base * 2^attempt)], so many
 * sessions dropped by one outage do not reconnect in lockstep.
 */
import { DisconnectReason } from '@whiskeysockets/baileys';

export const RECONNECT_BASE_MS = 1_000;
export const RECONNECT_CAP_MS = 60_000;
/** A badSession close stops once this many closes came before it without an open in between. */
export const BAD_SESSION_RETRIES = 3;

export type StopState = 'logged-out' | 'replaced' | 'forbidden' | 'bad-session' | 'multidevice-mismatch';

export type ReconnectDecision =
  | { action: 'reconnect-now' | 'reconnect-after'; delayMs: number; reason: string }
  | { action: 'stop'; state: StopState; deleteCredentials: boolean; reason: string };

export interface BackoffOptions {
  baseMs?: number;
  capMs?: number;
}

/**
 * @param attempt closes since the last 'open' (0 for the first): the backoff exponent, and how long a badSession is tolerated.
 * @param rng returns [0, 1); injectable so tests can seed it.
 */
export function reconnectDecision(
  statusCode: number | undefined,
  attempt: number,
  rng: () => number = Math.random,
  backoff: BackoffOptions = {},
): ReconnectDecision {
  switch (statusCode) {
    case DisconnectReason.restartRequired:
      return { action: 'reconnect-now', delayMs: 0, reason: 'restart required (515), usually right after pairing' };
    case DisconnectReason.loggedOut:
      return stop('logged-out', true, 'logged out (401): the device was unlinked; pair again');
    case DisconnectReason.connectionReplaced:
      return stop('replaced', false, 'connection replaced (440): another client took this session');
    case DisconnectReason.forbidden:
      return stop('forbidden', false, 'forbidden (403): the account is banned or restricted');
    case DisconnectReason.badSession:
      if (attempt >= BAD_SESSION_RETRIES) {
        return stop('bad-session', false, `bad session (500) ${attempt + 1} times in a row; check the session or pair again`);
      }
      break;
    case DisconnectReason.multideviceMismatch:
      return stop('multidevice-mismatch', true, 'multi-device mismatch (411): pair again');
  }
  const delayMs = backoffDelay(attempt, rng, backoff);
  return { action: 'reconnect-after', delayMs, reason: `${transientName(statusCode)}; retry in ${delayMs} ms` };
}

/** Full-jitter exponential backoff: uniform in [0, min(cap, base * 2^attempt)]. */
export function backoffDelay(attempt: number, rng: () => number = Math.random, opts: BackoffOptions = {}): number {
  const base = opts.baseMs ?? RECONNECT_BASE_MS;
  const cap = opts.capMs ?? RECONNECT_CAP_MS;
  // Clamp the exponent: 2^1100 is Infinity, and a negative attempt is a caller bug, not a shorter wait.
  const exp = Math.min(Math.max(0, Math.floor(attempt)), 30);
  const ceiling = Math.min(cap, base * 2 ** exp);
  const r = Math.min(Math.max(rng(), 0), 1);
  return Math.floor(r * ceiling);
}

function stop(state: StopState, deleteCredentials: boolean, reason: string): ReconnectDecision {
  return { action: 'stop', state, deleteCredentials, reason };
}

function transientName(statusCode: number | undefined): string {
  switch (statusCode) {
    case undefined:
      return 'connection closed without a status code';
    case DisconnectReason.connectionClosed:
      return 'connection closed (428)';
    case DisconnectReason.connectionLost: // === timedOut
      return 'connection lost or timed out (408)';
    case DisconnectReason.unavailableService:
      return 'service unavailable (503)';
    case DisconnectReason.badSession:
      return 'bad session or unexplained stream error (500)';
    default:
      return `unexpected disconnect code ${statusCode}`;
  }
}
