/**
 * The Baileys session manager: one socket per session id, its auth state and
 * its lifecycle (state and reason) in the store, QR codes or a pairing code
 * while linking, and the reconnect policy of reconnect.ts when a connection
 * closes. It is the API's SessionDirectory, and `sockets` is the transport's
 * view of it.
 *
 * After a restart only sessions that were open or reconnecting come back by
 * themselves; one that stopped (replaced, forbidden, banned, failed, logged
 * out) or never finished linking stays stopped, with its stored reason, until
 * someone calls connect: a socket per stopped session would fight another
 * client, hammer a ban, or show QR codes to nobody.
 *
 * Several replicas on one redis: a replica runs only the sessions whose lease
 * it holds. adopt() brings a session up from the shared store when its lease
 * is taken, release() ends it here without a trace in the store when the lease
 * goes, and `fence` makes every auth and lifecycle write carry the lease's
 * token, so a replica that lost a session without noticing cannot overwrite
 * the new owner's keys: redis refuses the write, and this replica lets the
 * session go.
 */
import { EventEmitter } from 'node:events';
import type { Keyv } from 'keyv';
import type { Logger } from '../../log.js';
import { FencedError } from '../../replicas/leases.js';
import type { Fence } from '../../sends/store.js';
import { maskAccount, type ConnectEvent, type SessionDirectory, type SessionInfo, type SessionStateName } from '../sessions.js';
import {
  createKeyvAuthState,
  isLinked,
  listStoredSessions,
  readStoredSession,
  saveLifecycle,
  type KeyCommit,
  type KeyvAuthState,
} from './auth-state.js';
import { backoffDelay, closeInfo, reconnectDecision } from './reconnect.js';
import type { SessionEntry, SessionSockets, WASocketLike } from './socket.js';
import { waitForLink } from './link-waiter.js';
import {
  type ConnectionUpdate,
  type Entry,
  type ManagedSocket,
  newEntry,
  pinnedFence,
  type SocketFactory,
  stoppedInfo,
  underEarlierLease,
} from './session-entry.js';

export type { ManagedSocket, SocketFactory } from './session-entry.js';

export interface BaileysSessionsOptions {
  keyv: Keyv;
  makeSocket: SocketFactory;
  logger: Logger;
  rng?: () => number;
  /** Several replicas: the session's lease now (SessionOwnership.fence); auth and lifecycle writes carry it. */
  fence?: (sessionId: string) => Fence | undefined;
}

export class BaileysSessions implements SessionDirectory {
  private readonly entries = new Map<string, Entry>();
  /** Apart from the entries: subscribing must not make a session appear in list(). */
  private readonly commits = new Map<string, EventEmitter>();
  private readonly adopting = new Map<string, Promise<boolean>>();

  constructor(private readonly options: BaileysSessionsOptions) {}

  /** Starts the stored sessions that were open or reconnecting; the others are listed with their stored state. Returns the started ids. */
  async restore(): Promise<string[]> {
    const started: string[] = [];
    for (const stored of await listStoredSessions(this.options.keyv)) {
      const entry = this.entry(stored.id);
      const stopped = stoppedInfo(stored);
      if (stopped) {
        entry.info = stopped;
        continue;
      }
      if (stored.lifecycle?.account) entry.info = { ...entry.info, account: stored.lifecycle.account };
      started.push(stored.id);
    }
    await Promise.all(started.map((id) => this.start(id)));
    return started;
  }

  async *connect(id: string, options: { phoneNumber?: string; signal: AbortSignal }): AsyncIterable<ConnectEvent> {
    const entry = this.entry(id);
    yield* waitForLink(entry, options, {
      start: () => this.start(id, options.phoneNumber),
      linking: () => this.linking(entry),
      stopLinking: (reason) => this.stopLinking(entry, reason),
    });
  }

  get(id: string): SessionInfo | undefined {
    return this.entries.get(id)?.info;
  }

  list(): SessionInfo[] {
    return [...this.entries.values()].map((e) => e.info).sort((a, b) => a.id.localeCompare(b.id));
  }

  /**
   * Calls `listener` after every commit of the session's signal keys to the
   * store (see KeyvAuthState.onCommit), across reconnects and re-pairs;
   * returns the function that stops it. The transport uses it to fail a
   * batch whose keys were not saved.
   */
  onKeyCommit(id: string, listener: (commit: KeyCommit) => void): () => void {
    const events = this.commitEvents(id);
    events.on('commit', listener);
    return () => void events.off('commit', listener);
  }

  /** The transport's view of the sessions: state and, when open, the socket. */
  readonly sockets: SessionSockets = { get: (id) => this.socketEntry(id), onKeyCommit: (id, listener) => this.onKeyCommit(id, listener) };

  private socketEntry(id: string): SessionEntry | undefined {
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    const { state, reason } = entry.info;
    return {
      state,
      ...(entry.socket && state === 'open' ? { socket: entry.socket as unknown as WASocketLike } : {}),
      ...(reason && state !== 'open' ? { reason } : {}),
    };
  }

  async logout(id: string): Promise<boolean> {
    const entry = this.entries.get(id);
    if (!entry) return false;
    clearTimeout(entry.timer);
    entry.timer = undefined;
    entry.ending = true;
    try {
      await entry.socket?.logout();
    } catch (error) {
      this.options.logger.warn({ err: error, sessionId: id }, 'logout call failed; deleting credentials anyway');
    }
    entry.socket?.end(undefined);
    entry.socket = undefined;
    const auth = entry.auth ?? (await createKeyvAuthState(this.options.keyv, id, { logger: this.options.logger, fence: entry.fence }));
    // Dropped before the await: the next connect must pair afresh, never reuse these creds from memory.
    entry.auth = undefined;
    try {
      await auth.clear();
    } catch (error) {
      this.refused(entry, error);
      throw error;
    }
    this.set(entry, 'logged-out', 'logged out by request');
    return true;
  }

  /** Ends every socket and waits for the last lifecycle writes, so a restart sees the states as they were. */
  async close(): Promise<void> {
    for (const entry of this.entries.values()) {
      clearTimeout(entry.timer);
      entry.ending = true;
      entry.socket?.end(undefined);
    }
    await Promise.all([...this.entries.values()].map((e) => e.saving));
  }

  /** Starts the session from the store, as restore() would, now that this replica holds its lease. */
  async adopt(id: string): Promise<boolean> {
    let pending = this.adopting.get(id);
    if (!pending) {
      pending = this.bringUp(id).finally(() => this.adopting.delete(id));
      this.adopting.set(id, pending);
    }
    return pending;
  }

  /** Ends the session here without a logout or a write: the store is the new owner's. */
  async release(id: string): Promise<void> {
    // After a pending adopt, or it would start a socket for a session released meanwhile.
    await this.adopting.get(id)?.catch(() => undefined);
    const entry = this.entries.get(id);
    if (entry) this.drop(entry);
  }

  /** The stored sessions restore() would start. */
  async stored(): Promise<string[]> {
    return (await listStoredSessions(this.options.keyv)).filter((s) => !stoppedInfo(s)).map((s) => s.id);
  }

  private async bringUp(id: string): Promise<boolean> {
    const running = this.entries.get(id);
    if (running && (running.socket || running.timer)) {
      if (!underEarlierLease(running, this.options.fence)) return true;
      // Ours before, lost, and taken again: someone else may have owned it in between, so its memory may be behind the store.
      this.drop(running);
    }
    const stored = await readStoredSession(this.options.keyv, id);
    if (!stored) return false;
    const entry = this.entry(id);
    // A new ownership: writes carry its lease, and the auth comes from the store, not from an earlier one in memory.
    entry.fence = pinnedFence(this.options.fence, id);
    entry.auth = undefined;
    const stopped = stoppedInfo(stored);
    if (stopped) {
      entry.info = stopped;
      return false;
    }
    if (stored.lifecycle?.account) entry.info = { ...entry.info, account: stored.lifecycle.account };
    await this.start(id);
    return true;
  }

  /** Forgets the session here: socket ended, retries cancelled, connect() streams told, nothing written. */
  private drop(entry: Entry): void {
    this.entries.delete(entry.info.id);
    clearTimeout(entry.timer);
    entry.timer = undefined;
    entry.ending = true;
    entry.auth = undefined; // a late creds.update from the socket is not saved
    const socket = entry.socket;
    entry.socket = undefined;
    socket?.end(undefined);
    entry.events.emit('released');
  }

  /** A write refused by its fence: another replica owns the session, so it stops here (once, and for good). */
  private refused(entry: Entry, error: unknown): boolean {
    if (!(error instanceof FencedError)) return false;
    if (this.entries.get(entry.info.id) === entry) {
      this.options.logger.warn({ err: error, sessionId: entry.info.id }, 'a write was fenced: another replica owns this session now');
      this.drop(entry);
    }
    return true;
  }

  private entry(id: string): Entry {
    let entry = this.entries.get(id);
    if (!entry) {
      entry = newEntry(id, pinnedFence(this.options.fence, id));
      this.entries.set(id, entry);
    }
    return entry;
  }

  private async start(id: string, phoneNumber?: string): Promise<void> {
    const entry = this.entry(id);
    clearTimeout(entry.timer);
    entry.timer = undefined;
    if (phoneNumber) entry.phoneNumber = phoneNumber;
    entry.pairingRequested = false;
    entry.ending = false;
    const auth = await this.authOf(entry);
    if (this.entries.get(id) !== entry) return; // released while the auth state loaded
    const logger = this.options.logger.child({ sessionId: id });
    const socket = this.options.makeSocket({ auth: auth.state, logger, sessionId: id });
    entry.socket = socket;
    socket.ev.on('creds.update', () => {
      // A logout dropped these creds: saving them again would bring the session back from the dead.
      if (entry.auth !== auth) return;
      // Every write, or the next login cannot decrypt: log loudly if the store refuses it.
      auth.saveCreds().catch((error: unknown) => {
        if (!this.refused(entry, error)) logger.error({ err: error }, 'could not save credentials');
      });
    });
    socket.ev.on('connection.update', ((update: ConnectionUpdate) => this.onUpdate(entry, socket, update)) as (arg: never) => void);
    this.set(entry, 'connecting');
  }

  private commitEvents(id: string): EventEmitter {
    let events = this.commits.get(id);
    if (!events) {
      events = new EventEmitter();
      this.commits.set(id, events);
    }
    return events;
  }

  private async authOf(entry: Entry): Promise<KeyvAuthState> {
    if (entry.auth) return entry.auth;
    const auth = await createKeyvAuthState(this.options.keyv, entry.info.id, { logger: this.options.logger, fence: entry.fence });
    auth.onCommit((commit) => {
      this.commitEvents(entry.info.id).emit('commit', commit);
      if (!commit.ok) this.refused(entry, commit.error);
    });
    entry.auth = auth;
    return auth;
  }

  private onUpdate(entry: Entry, socket: ManagedSocket, update: ConnectionUpdate): void {
    if (entry.socket !== socket) return; // an old socket's late event
    if (update.qr) this.onQr(entry, socket, update.qr);
    if (update.connection === 'open') {
      entry.attempt = 0;
      this.set(entry, 'open', undefined, socket.user?.id ? maskAccount(socket.user.id) : undefined);
    } else if (update.connection === 'close') {
      if (!entry.ending) this.onClose(entry, update.lastDisconnect?.error);
    }
  }

  private onQr(entry: Entry, socket: ManagedSocket, qr: string): void {
    if (entry.phoneNumber && !entry.auth?.state.creds.registered) {
      if (!entry.pairingRequested) {
        entry.pairingRequested = true;
        socket.requestPairingCode(entry.phoneNumber).then(
          (code) => this.emit(entry, { type: 'pairing-code', code }),
          (error: unknown) => this.options.logger.warn({ err: error, sessionId: entry.info.id }, 'pairing code request failed'),
        );
      }
    } else {
      this.emit(entry, { type: 'qr', code: qr });
    }
    if (entry.info.state !== 'pairing') this.set(entry, 'pairing');
  }

  private onClose(entry: Entry, error: Error | undefined): void {
    const close = closeInfo(error);
    const decision = reconnectDecision(close, entry.attempt++, this.options.rng);
    this.options.logger.info({ sessionId: entry.info.id, code: close.statusCode, decision }, 'connection closed');
    entry.socket = undefined;
    if (decision.action === 'stop') {
      clearTimeout(entry.timer);
      entry.timer = undefined;
      if (decision.deleteCredentials) {
        void entry.auth?.clear().catch((error: unknown) => this.refused(entry, error));
        entry.auth = undefined;
      }
      this.set(entry, decision.state, decision.reason);
    } else if (decision.action === 'reconnect-now') {
      this.restart(entry);
    } else {
      this.retryAfter(entry, decision.delayMs, decision.reason);
    }
  }

  private retryAfter(entry: Entry, delayMs: number, reason: string): void {
    this.set(entry, 'closed', reason);
    entry.timer = setTimeout(() => this.restart(entry), delayMs);
    entry.timer.unref();
  }

  /**
   * A reconnect that cannot even start (the store is down, say) is retried
   * like a close: 'closed' must keep meaning "being retried", since a send in
   * progress waits for such a session instead of failing.
   */
  private restart(entry: Entry): void {
    entry.timer = undefined;
    this.start(entry.info.id).catch((error: unknown) => {
      if (entry.ending || entry.socket || entry.timer) return; // stopped, or started again, meanwhile
      const delayMs = backoffDelay(entry.attempt++, this.options.rng);
      this.options.logger.warn({ err: error, sessionId: entry.info.id, delayMs }, 'could not restart the session');
      this.retryAfter(entry, delayMs, `could not restart (${(error as Error)?.message ?? String(error)}); retry in ${delayMs} ms`);
    });
  }

  /** A socket is up (or about to be) for creds that have not finished linking. */
  private linking(entry: Entry): boolean {
    const running = entry.socket !== undefined || entry.timer !== undefined;
    return running && !(entry.auth && isLinked(entry.auth.state.creds));
  }

  private stopLinking(entry: Entry, reason: string): void {
    clearTimeout(entry.timer);
    entry.timer = undefined;
    entry.ending = true;
    const socket = entry.socket;
    entry.socket = undefined;
    socket?.end(undefined);
    this.set(entry, 'unpaired', reason);
  }

  private set(entry: Entry, state: SessionStateName, reason?: string, account?: string): void {
    entry.info = {
      id: entry.info.id,
      state,
      ...(reason ? { reason } : {}),
      ...((account ?? entry.info.account) ? { account: account ?? entry.info.account! } : {}),
      updatedAt: Date.now(),
    };
    this.persist(entry);
    this.emit(entry, { type: 'state', session: entry.info });
  }

  private persist(entry: Entry): void {
    if (this.entries.get(entry.info.id) !== entry) return; // released: the store is another replica's now
    const { id, ...lifecycle } = entry.info;
    entry.saving = entry.saving
      .then(() => saveLifecycle(this.options.keyv, id, lifecycle, entry.fence))
      .catch((error: unknown) => {
        if (this.refused(entry, error)) return;
        this.options.logger.warn({ err: error, sessionId: id }, 'could not save the session state; a restart may not restore it as it was');
      });
  }

  private emit(entry: Entry, event: ConnectEvent): void {
    entry.events.emit('event', event);
  }
}
