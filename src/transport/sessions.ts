/**
 * WhatsApp sessions as the rest of storycast sees them: linked accounts with a
 * state, whatever the transport behind them (the simulator, or Baileys).
 */

/**
 * The one session-state vocabulary: the directories keep it, the reconnect
 * policy decides in it, the transport reads it, and the server maps it to the
 * proto enum (src/server/session-state.ts).
 */
export type SessionStateName =
  | 'connecting'
  | 'pairing'
  | 'open'
  /** Disconnected, and being retried. */
  | 'closed'
  | TerminalStateName;

/** A state a session does not leave by itself (see TERMINAL_STATES). */
export type TerminalStateName =
  | 'logged-out'
  | 'replaced'
  | 'forbidden'
  /** WhatsApp banned the account, for a time or for good (the reason says which). */
  | 'banned'
  /** Stopped after an error that retrying does not fix (a bad session, an outdated client, a refused login). */
  | 'failed'
  /** Linking was started and never finished: the QR codes ran out, or the caller stopped waiting. */
  | 'unpaired';

/**
 * States a session does not leave by itself: a person has to act (link again, stop the other
 * client, wait out a ban). They survive a restart: such a session is not started again.
 */
export const TERMINAL_STATES: readonly TerminalStateName[] = ['logged-out', 'replaced', 'forbidden', 'banned', 'failed', 'unpaired'];

export function isTerminal(state: SessionStateName): state is TerminalStateName {
  return (TERMINAL_STATES as readonly SessionStateName[]).includes(state);
}

/**
 * Not open, but on its way back without anyone acting (a socket is up, or a
 * retry is scheduled): a send in progress waits for it instead of failing,
 * since the recipients it holds would otherwise be reported failed for a blip.
 */
export function isReconnecting(state: SessionStateName): boolean {
  return state === 'connecting' || state === 'pairing' || state === 'closed';
}

export interface SessionInfo {
  readonly id: string;
  readonly state: SessionStateName;
  /** Why it is in this state, for closed and terminal states. */
  readonly reason?: string;
  /** The account's number with its middle digits hidden, once known. */
  readonly account?: string;
  /** ms since the epoch. */
  readonly updatedAt: number;
}

export type ConnectEvent =
  | { readonly type: 'qr'; readonly code: string }
  | { readonly type: 'pairing-code'; readonly code: string }
  | { readonly type: 'state'; readonly session: SessionInfo };

export interface SessionDirectory {
  /** Links or reconnects; yields QR/pairing codes and states until open (then ends) or a terminal state. */
  connect(id: string, options: { phoneNumber?: string; signal: AbortSignal }): AsyncIterable<ConnectEvent>;
  get(id: string): SessionInfo | undefined;
  list(): SessionInfo[];
  /** Logs out and deletes credentials; false when the session was unknown. */
  logout(id: string): Promise<boolean>;
  close(): Promise<void>;
  /**
   * Several replicas: this replica has just taken the session's lease, so it
   * brings the session up here from the shared store (a reconnect, never a
   * pairing). False when the store has nothing to start: never linked, or
   * stopped in a terminal state. A session already running here is left alone.
   */
  adopt?(id: string): Promise<boolean>;
  /**
   * Several replicas: this replica no longer owns the session. Its socket ends
   * without a logout and nothing is written (the store is the new owner's now);
   * it leaves list() and get(), since another replica reports it.
   */
  release?(id: string): Promise<void>;
  /** Ids of the stored sessions a restart would start (linked, not stopped): those a replica may claim. */
  stored?(): Promise<string[]>;
}

const SESSION_ID = /^[A-Za-z0-9._-]{1,64}$/;

export function isValidSessionId(id: string): boolean {
  return SESSION_ID.test(id);
}

/** "+44 7700 900123" -> "+44*******23": enough to recognise an account, never the whole number. */
export function maskAccount(jidOrNumber: string): string {
  const digits = jidOrNumber.split(/[@:]/)[0]!.replace(/\D/g, '');
  if (digits.length <= 4) return '*'.repeat(digits.length);
  return `+${digits.slice(0, 2)}${'*'.repeat(digits.length - 4)}${digits.slice(-2)}`;
}
