/**
 * One session as the manager (sessions.ts) keeps it, and the rules about it
 * that need no manager: which stored sessions start by themselves, and which
 * fence a session's writes carry when several replicas share the store.
 */
import { EventEmitter } from 'node:events';
import type { AuthenticationState } from '@whiskeysockets/baileys';
import type { Logger } from '../../log.js';
import type { Fence } from '../../sends/store.js';
import { isTerminal, type SessionInfo } from '../sessions.js';
import type { KeyvAuthState, StoredSession } from './auth-state.js';
import type { WASocketLike } from './socket.js';

const NEVER_LINKED = 'linking was never finished (no QR code scanned, no pairing code entered); connect to link';
/** What the manager needs of a socket beyond what the transport uses. */
export type ManagedSocket = Omit<WASocketLike, 'ev'> & {
  readonly ev: {
    on(event: string, listener: (arg: never) => void): unknown;
    off?(event: string, listener: (arg: never) => void): unknown;
  };
  logout(): Promise<void>;
  end(error: Error | undefined): void;
  requestPairingCode(phoneNumber: string): Promise<string>;
};

export type SocketFactory = (options: { auth: AuthenticationState; logger: Logger; sessionId: string }) => ManagedSocket;

export interface ConnectionUpdate {
  connection?: 'open' | 'connecting' | 'close';
  qr?: string;
  lastDisconnect?: { error?: Error };
}

export const MOVED = 'another replica runs this session now';

export interface Entry {
  info: SessionInfo;
  socket?: ManagedSocket;
  auth?: KeyvAuthState;
  attempt: number;
  phoneNumber?: string;
  pairingRequested: boolean;
  timer?: NodeJS.Timeout;
  /** A manager-driven end (logout, close, a cancelled link): its close event must not trigger a reconnect. */
  ending: boolean;
  /** connect() calls still waiting on this session. */
  waiters: number;
  /** The lifecycle writes, in order: a later state must never be overwritten by an earlier one. */
  saving: Promise<void>;
  /** What its auth and lifecycle writes carry (see pin); a new one with each adopt. */
  fence: (() => Fence | undefined) | undefined;
  readonly events: EventEmitter;
}

export function newEntry(id: string, fence: Entry['fence']): Entry {
  return {
    info: { id, state: 'closed', updatedAt: Date.now() },
    attempt: 0,
    pairingRequested: false,
    ending: false,
    waiters: 0,
    saving: Promise.resolve(),
    fence,
    events: new EventEmitter(),
  };
}

/**
 * The session's fence as of the first write that had one, kept from then
 * on: the writes of a socket belong to the ownership it started under, so
 * one that outlives that lease (lost, or handed over and taken back) is
 * refused rather than written under the next one.
 */
export function pinnedFence(current: ((sessionId: string) => Fence | undefined) | undefined, id: string): Entry['fence'] {
  if (!current) return undefined;
  let pinned: Fence | undefined;
  return () => (pinned ??= current(id));
}

/** Running under a lease this replica held before: the lease now is a newer one. */
export function underEarlierLease(entry: Entry, current: ((sessionId: string) => Fence | undefined) | undefined): boolean {
  const now = current?.(entry.info.id);
  const pinned = entry.fence?.();
  return now !== undefined && pinned !== undefined && pinned.token !== now.token;
}

/** How a restart treats a stored session: undefined to start it, else the state it stays in. */
export function stoppedInfo(stored: StoredSession): SessionInfo | undefined {
  const { id, lifecycle } = stored;
  if (lifecycle && isTerminal(lifecycle.state)) return { id, ...lifecycle };
  if (!stored.hasCreds || !stored.linked)
    return { id, state: 'unpaired', reason: NEVER_LINKED, updatedAt: lifecycle?.updatedAt ?? Date.now() };
  return undefined;
}
