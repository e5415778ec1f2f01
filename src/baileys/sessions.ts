/**
 * The Baileys session manager: one socket per session id, its auth state in
 * the store (so sessions come back by themselves after a restart), QR codes or
 * a pairing code while linking, and the reconnect policy of reconnect.ts when
 * a connection closes. It is the API's SessionDirectory, and `sockets` is
 * the transport's view of it.
 */
import { EventEmitter } from 'node:events';
import type { Keyv } from 'keyv';
import type { AuthenticationState } from '@whiskeysockets/baileys';
import type { Logger } from '../log.js';
import { maskAccount, TERMINAL_STATES, type ConnectEvent, type SessionDirectory, type SessionInfo, type SessionStateName } from '../sessions/types.js';
import { createKeyvAuthState, listAuthSessions, type KeyvAuthState } from './auth-state.js';
import { reconnectDecision, type StopState } from './reconnect.js';
import type { SessionEntry, SessionSockets, WASocketLike } from './socket.js';

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

interface ConnectionUpdate {
  connection?: 'open' | 'connecting' | 'close';
  qr?: string;
  lastDisconnect?: { error?: { output?: { statusCode?: number } } & Error };
}

const STOPPED: Record<StopState, SessionStateName> = {
  'logged-out': 'logged-out',
  replaced: 'replaced',
  forbidden: 'forbidden',
  'bad-session': 'closed',
  'multidevice-mismatch': 'logged-out',
};

interface Entry {
  info: SessionInfo;
  socket?: ManagedSocket;
  auth?: KeyvAuthState;
  attempt: number;
  phoneNumber?: string;
  pairingRequested: boolean;
  timer?: NodeJS.Timeout;
  /** A manager-driven end (logout, close): its close event must not trigger a reconnect. */
  ending: boolean;
  readonly events: EventEmitter;
}

export class BaileysSessions implements SessionDirectory {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly options: { keyv: Keyv; makeSocket: SocketFactory; logger: Logger; rng?: () => number },
  ) {}

  /** Starts every session whose credentials are stored. */
  async restore(): Promise<string[]> {
    const ids = await listAuthSessions(this.options.keyv);
    await Promise.all(ids.map((id) => this.start(id)));
    return ids;
  }

  async *connect(id: string, options: { phoneNumber?: string; signal: AbortSignal }): AsyncIterable<ConnectEvent> {
    const entry = this.entry(id);
    const queue: ConnectEvent[] = [];
    let wake: (() => void) | undefined;
    const onEvent = (event: ConnectEvent) => {
      queue.push(event);
      wake?.();
    };
    const onAbort = () => wake?.();
    entry.events.on('event', onEvent);
    options.signal.addEventListener('abort', onAbort);
    try {
      if (entry.info.state === 'open') {
        yield { type: 'state', session: entry.info };
        return;
      }
      if (!entry.socket || TERMINAL_STATES.includes(entry.info.state)) {
        await this.start(id, options.phoneNumber);
      }
      while (!options.signal.aborted) {
        const event = queue.shift();
        if (!event) {
          await new Promise<void>((resolve) => (wake = resolve));
          continue;
        }
        yield event;
        if (event.type === 'state' && (event.session.state === 'open' || TERMINAL_STATES.includes(event.session.state))) return;
      }
    } finally {
      entry.events.off('event', onEvent);
      options.signal.removeEventListener('abort', onAbort);
    }
  }

  get(id: string): SessionInfo | undefined {
    return this.entries.get(id)?.info;
  }

  list(): SessionInfo[] {
    return [...this.entries.values()].map((e) => e.info).sort((a, b) => a.id.localeCompare(b.id));
  }

  /** The transport's view of the sessions: state and, when open, the socket. */
  readonly sockets: SessionSockets = { get: (id) => this.socketEntry(id) };

  private socketEntry(id: string): SessionEntry | undefined {
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    const state = entry.info.state;
    return {
      // 'closed' here means stopped for good (replaced, forbidden, a bad session); a close that is
      // being retried is 'connecting' to the transport, which waits for it mid-send.
      state:
        state === 'open'
          ? 'open'
          : state === 'logged-out'
            ? 'logged-out'
            : state === 'replaced' || state === 'forbidden' || (state === 'closed' && !entry.timer && !entry.socket)
              ? 'closed'
              : 'connecting',
      ...(entry.socket && state === 'open' ? { socket: entry.socket as unknown as WASocketLike } : {}),
    };
  }

  async logout(id: string): Promise<boolean> {
    const entry = this.entries.get(id);
    if (!entry) return false;
    clearTimeout(entry.timer);
    entry.ending = true;
    try {
      await entry.socket?.logout();
    } catch (error) {
      this.options.logger.warn({ err: error, sessionId: id }, 'logout call failed; deleting credentials anyway');
    }
    entry.socket?.end(undefined);
    entry.socket = undefined;
    await (entry.auth ?? (await createKeyvAuthState(this.options.keyv, id, { logger: this.options.logger }))).clear();
    this.set(entry, 'logged-out', 'logged out by request');
    return true;
  }

  async close(): Promise<void> {
    for (const entry of this.entries.values()) {
      clearTimeout(entry.timer);
      entry.ending = true;
      entry.socket?.end(undefined);
    }
  }

  private entry(id: string): Entry {
    let entry = this.entries.get(id);
    if (!entry) {
      entry = { info: { id, state: 'closed', updatedAt: Date.now() }, attempt: 0, pairingRequested: false, ending: false, events: new EventEmitter() };
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
    entry.auth ??= await createKeyvAuthState(this.options.keyv, id, { logger: this.options.logger });
    const logger = this.options.logger.child({ sessionId: id });
    const socket = this.options.makeSocket({ auth: entry.auth.state, logger, sessionId: id });
    entry.socket = socket;
    const auth = entry.auth;
    socket.ev.on('creds.update', () => {
      // Every write, or the next login cannot decrypt: log loudly if the store refuses it.
      auth.saveCreds().catch((error: unknown) => logger.error({ err: error }, 'could not save credentials'));
    });
    socket.ev.on('connection.update', ((update: ConnectionUpdate) => this.onUpdate(entry, socket, update)) as (arg: never) => void);
    this.set(entry, 'connecting');
  }

  private onUpdate(entry: Entry, socket: ManagedSocket, update: ConnectionUpdate): void {
    if (entry.socket !== socket) return; // an old socket's late event
    if (update.qr) {
      if (entry.phoneNumber && !entry.auth?.state.creds.registered) {
        if (!entry.pairingRequested) {
          entry.pairingRequested = true;
          socket.requestPairingCode(entry.phoneNumber).then(
            (code) => this.emit(entry, { type: 'pairing-code', code }),
            (error: unknown) => this.options.logger.warn({ err: error, sessionId: entry.info.id }, 'pairing code request failed'),
          );
        }
      } else {
        this.emit(entry, { type: 'qr', code: update.qr });
      }
      if (entry.info.state !== 'pairing') this.set(entry, 'pairing');
    }
    if (update.connection === 'open') {
      entry.attempt = 0;
      this.set(entry, 'open', undefined, socket.user?.id ? maskAccount(socket.user.id) : undefined);
    } else if (update.connection === 'close') {
      if (entry.ending) return;
      const code = update.lastDisconnect?.error?.output?.statusCode;
      const decision = reconnectDecision(code, entry.attempt++, this.options.rng);
      this.options.logger.info({ sessionId: entry.info.id, code, decision }, 'connection closed');
      entry.socket = undefined;
      if (decision.action === 'stop') {
        clearTimeout(entry.timer);
        entry.timer = undefined;
        if (decision.deleteCredentials) void entry.auth?.clear().catch(() => {});
        if (decision.deleteCredentials) entry.auth = undefined;
        this.set(entry, STOPPED[decision.state], decision.reason);
      } else if (decision.action === 'reconnect-now') {
        void this.start(entry.info.id);
      } else {
        this.set(entry, 'closed', decision.reason);
        entry.timer = setTimeout(() => void this.start(entry.info.id), decision.delayMs);
        entry.timer.unref();
      }
    }
  }

  private set(entry: Entry, state: SessionStateName, reason?: string, account?: string): void {
    entry.info = {
      id: entry.info.id,
      state,
      ...(reason ? { reason } : {}),
      ...((account ?? entry.info.account) ? { account: account ?? entry.info.account! } : {}),
      updatedAt: Date.now(),
    };
    this.emit(entry, { type: 'state', session: entry.info });
  }

  private emit(entry: Entry, event: ConnectEvent): void {
    entry.events.emit('event', event);
  }
}
