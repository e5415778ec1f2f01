/**
 * What to do after a Baileys connection closes. Pure: the caller reads the
 * close with closeInfo(lastDisconnect.error), applies the decision (open a
 * socket, sleep, or stop and maybe delete creds) and owns the attempt counter:
 * reset it to 0 once a connection reaches 'open', or a flaky link would creep
 * up to the cap and stay there.
 *
 * Where the codes come from (Baileys 6.17, Socket/socket.js): a `<failure
 * reason="N">` frame at login ends the socket with Boom('Connection Failure',
 * { statusCode: N, data: <the frame's attributes> }); a `<stream:error>` with
 * its `code` (or 440 for `conflict`, 500 for anything else); the socket's own
 * closes (428, 408, 515, 401 on logout); a WebSocket error (the HTTP status of
 * a refused upgrade, 408 for network errors, else 500). The meanings of the
 * failure reasons are not documented by WhatsApp: they are what WhatsApp Web's
 * code and the other reverse-engineered clients (whatsmeow, Baileys issue
 * #1490) agree on. Stopping is reversible (ConnectSession tries again, the
 * creds are kept); deleting creds is not, so only codes that prove the creds
 * dead delete them. A stop names the session state it leaves the session in
 * (src/transport/sessions.ts); its reason tells the causes of one state apart.
 *
 * | code | what it is                              | decision                                                |
 * |------|-----------------------------------------|---------------------------------------------------------|
 * | 515  | restartRequired                         | reconnect now: asked for right after pairing; waiting   |
 * |      |                                         | only delays the first send.                             |
 * | 401  | loggedOut: the device was unlinked      | stop 'logged-out', delete creds: they will never        |
 * |      |                                         | authenticate again; only a re-pair helps.               |
 * | 402  | failure: temporarily banned; the frame  | stop 'banned', keep creds: retrying during a ban looks  |
 * |      | carries `code` (why) and `expire` (s)   | like the abuse that caused it; the reason says why and  |
 * |      |                                         | when it lifts, then ConnectSession again.               |
 * | 403  | forbidden (LOCKED in WhatsApp Web):     | stop 'forbidden', keep creds: retrying is pointless and |
 * |      | banned or restricted, or the phone gone | looks abusive; the creds may work once it is lifted.    |
 * | 405  | failure: client outdated (the WA Web    | stop 'failed', keep creds: every retry is refused       |
 * |      | version Baileys announces is refused)   | until Baileys is updated.                               |
 * | 406  | failure: BANNED in WhatsApp Web         | stop 'banned', keep creds.                              |
 * | 409  | failure: bad user agent                 | stop 'failed', keep creds (as 405).                     |
 * | 411  | multideviceMismatch                     | stop 'logged-out', delete creds: pair again.            |
 * | 419  | unauthorized (Baileys' UNAUTHORIZED_    | stop 'forbidden', keep creds: the server refuses these  |
 * |      | CODES are 401, 403, 419)                | creds; LogoutSession + ConnectSession re-pairs.         |
 * | 440  | connectionReplaced                      | stop 'replaced', keep creds: another client (another    |
 * |      |                                         | instance of us?) took the session; never fight for it.  |
 * | 408  | 'QR refs attempts ended': nobody        | stop 'unpaired', keep creds: new QR                     |
 * |      | scanned any of the QR codes             | codes forever with nobody watching is a socket held     |
 * |      |                                         | open for nothing; ConnectSession starts linking again.  |
 * | 408  | connectionLost / timedOut (any other)   | back off: transient.                                    |
 * | 413  | failure: auth token expired / invalid   | back off: the server rotates it; whatsmeow reconnects   |
 * | 414  | (Messenger CAT)                         | too.                                                    |
 * | 428  | connectionClosed                        | back off: the socket dropped (network, keep-alive).     |
 * | 500  | badSession                              | back off BAD_SESSION_RETRIES times, then stop 'failed', |
 * |      |                                         | keep creds. Baileys uses 500 for ANY                    |
 * |      |                                         | stream:error without a code or known tag, so it is no   |
 * |      |                                         | proof the keys are corrupt; re-pairing needs a person   |
 * |      |                                         | with the phone, so that choice is theirs.               |
 * | 503  | unavailableService                      | back off: WhatsApp side outage; capped so we come back. |
 * | else | from a `<failure>` frame                | stop 'failed', keep creds, reason names the             |
 * |      |                                         | code: the server refused the login for a reason nobody  |
 * |      |                                         | has mapped; whatsmeow does not reconnect on those       |
 * |      |                                         | either, and repeated refused logins get accounts        |
 * |      |                                         | flagged.                                                |
 * | else | anything else (no Boom, a WebSocket     | back off, reason names the code: a refused upgrade or a |
 * |      | error, an unknown stream error code)    | network error says nothing about the account.           |
 *
 * Backoff is "full jitter": uniform in [0, min(cap, base * 2^attempt)], so many
 * sessions dropped by one outage do not reconnect in lockstep.
 */
import { DisconnectReason } from '@whiskeysockets/baileys';
import type { TerminalStateName } from '../sessions.js';

export const RECONNECT_BASE_MS = 1_000;
export const RECONNECT_CAP_MS = 60_000;
/** A badSession close stops once this many closes came before it without an open in between. */
export const BAD_SESSION_RETRIES = 3;

/** Failure reasons with a meaning of their own (see the table); DisconnectReason has none of them. */
const FailureReason = {
  tempBanned: 402,
  clientOutdated: 405,
  banned: 406,
  badUserAgent: 409,
  tokenExpired: 413,
  tokenInvalid: 414,
  unauthorized: 419,
} as const;

/** Baileys' message when every QR code of a pairing went unscanned (socket.js, genPairQR). */
export const QR_ATTEMPTS_ENDED = 'QR refs attempts ended';
/** Baileys' message for a `<failure>` frame (socket.js, 'CB:failure'). */
const CONNECTION_FAILURE = 'Connection Failure';

export type ReconnectDecision =
  | { action: 'reconnect-now' | 'reconnect-after'; delayMs: number; reason: string }
  /** `state` is the session's state from then on; the reason tells apart the closes that share one (405 and 500 both stop 'failed'). */
  | { action: 'stop'; state: TerminalStateName; deleteCredentials: boolean; reason: string };

export interface BackoffOptions {
  baseMs?: number;
  capMs?: number;
}

/** What a close says, read off Baileys' Boom. */
export interface CloseInfo {
  statusCode?: number;
  /** The Boom's message: tells 'QR refs attempts ended' from any other 408. */
  message?: string;
  /** The Boom's data: for a `<failure>` frame, its attributes (reason, code, expire, location). */
  data?: unknown;
}

/** Reads a `lastDisconnect.error`; anything that is not a Boom gives an empty CloseInfo. */
export function closeInfo(error: unknown): CloseInfo {
  if (typeof error !== 'object' || error === null) return {};
  const boom = error as { output?: { statusCode?: unknown }; message?: unknown; data?: unknown };
  const statusCode = boom.output?.statusCode;
  return {
    ...(typeof statusCode === 'number' ? { statusCode } : {}),
    ...(typeof boom.message === 'string' ? { message: boom.message } : {}),
    ...(boom.data !== undefined ? { data: boom.data } : {}),
  };
}

/**
 * @param close a CloseInfo, or just the status code.
 * @param attempt closes since the last 'open' (0 for the first): the backoff exponent, and how long a badSession is tolerated.
 * @param rng returns [0, 1); injectable so tests can seed it.
 */
export function reconnectDecision(
  close: CloseInfo | number | undefined,
  attempt: number,
  rng: () => number = Math.random,
  backoff: BackoffOptions = {},
): ReconnectDecision {
  const info: CloseInfo = typeof close === 'object' ? close : close === undefined ? {} : { statusCode: close };
  const stopped = stopDecision(info, attempt);
  if (stopped) return stopped;
  if (info.statusCode === DisconnectReason.restartRequired) {
    return { action: 'reconnect-now', delayMs: 0, reason: 'restart required (515), usually right after pairing' };
  }
  const delayMs = backoffDelay(attempt, rng, backoff);
  return { action: 'reconnect-after', delayMs, reason: `${transientName(info.statusCode)}; retry in ${delayMs} ms` };
}

function stopDecision(info: CloseInfo, attempt: number): ReconnectDecision | undefined {
  const code = info.statusCode;
  switch (code) {
    case DisconnectReason.loggedOut:
      return stop('logged-out', true, 'logged out (401): the device was unlinked; pair again');
    case DisconnectReason.connectionReplaced:
      return stop('replaced', false, 'connection replaced (440): another client took this session');
    case DisconnectReason.forbidden:
      return stop('forbidden', false, 'forbidden (403): the account is banned or restricted');
    case FailureReason.unauthorized:
      return stop('forbidden', false, 'unauthorized (419): WhatsApp refuses these credentials; log out and pair again');
    case FailureReason.tempBanned:
      return stop('banned', false, `temporarily banned (402): ${tempBanDetails(info.data)}`);
    case FailureReason.banned:
      return stop('banned', false, 'banned (406): WhatsApp banned the account');
    case FailureReason.clientOutdated:
      return stop('failed', false, 'client outdated (405): WhatsApp refuses the version Baileys announces; update Baileys');
    case FailureReason.badUserAgent:
      return stop('failed', false, 'bad user agent (409): WhatsApp refuses the client Baileys announces; update Baileys');
    case DisconnectReason.multideviceMismatch:
      return stop('logged-out', true, 'multi-device mismatch (411): pair again');
    case DisconnectReason.timedOut:
      if (info.message === QR_ATTEMPTS_ENDED) {
        return stop('unpaired', false, 'pairing expired: no QR code was scanned in time; connect again to link');
      }
      return undefined;
    case DisconnectReason.badSession:
      if (attempt >= BAD_SESSION_RETRIES) {
        return stop('failed', false, `bad session (500) ${attempt + 1} times in a row; check the session or pair again`);
      }
      return undefined;
  }
  if (code !== undefined && isFailureFrame(info) && !RETRIED_FAILURES.has(code)) {
    return stop('failed', false, `connection refused by WhatsApp (failure ${code}); check the account on the phone`);
  }
  return undefined;
}

/** Failure reasons that are the server's trouble, not the account's. */
const RETRIED_FAILURES: ReadonlySet<number> = new Set([
  DisconnectReason.unavailableService,
  FailureReason.tokenExpired,
  FailureReason.tokenInvalid,
]);

function isFailureFrame(info: CloseInfo): boolean {
  const reason = (info.data as { reason?: unknown } | undefined)?.reason;
  return info.message === CONNECTION_FAILURE || (typeof reason === 'string' && reason === String(info.statusCode));
}

const TEMP_BAN_CAUSES: Readonly<Record<string, string>> = {
  '101': 'messages to too many people who have not saved this number',
  '102': 'blocked by too many people',
  '103': 'too many groups created with people who have not saved this number',
  '104': 'the same message sent to too many people',
  '106': 'too many messages to a broadcast list',
};

/** "messages to too many people ... (101); lifts in about 23 h": from the failure frame's code and expire (seconds). */
function tempBanDetails(data: unknown): string {
  const attrs = (typeof data === 'object' && data !== null ? data : {}) as { code?: unknown; expire?: unknown };
  const code = typeof attrs.code === 'string' ? attrs.code : undefined;
  const cause = code ? `${TEMP_BAN_CAUSES[code] ?? 'cause not given'} (${code})` : 'cause not given';
  const expire = Number(attrs.expire);
  const lifts = Number.isFinite(expire) && expire > 0 ? `lifts in about ${humanSeconds(expire)}` : 'end not given';
  return `${cause}; ${lifts}; connect again after that`;
}

function humanSeconds(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`;
  if (seconds < 48 * 3600) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86_400)} days`;
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

function stop(state: TerminalStateName, deleteCredentials: boolean, reason: string): ReconnectDecision {
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
    case FailureReason.tokenExpired:
    case FailureReason.tokenInvalid:
      return `auth token expired or invalid (${statusCode})`;
    default:
      return `unexpected disconnect code ${statusCode}`;
  }
}
