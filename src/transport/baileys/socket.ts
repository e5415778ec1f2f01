/**
 * The slice of a Baileys socket the transport touches, typed structurally so
 * tests can hand in a fake and production hands in a real WASocket unchanged
 * (test/baileys-socket-type.test.ts keeps the two in step with the installed Baileys).
 * Socket lifecycle, pairing and auth storage live elsewhere; the transport only
 * looks sockets up by session id.
 */
import type { USyncQuery, USyncQueryResult, WASocket } from '@whiskeysockets/baileys';
import type { SessionStateName } from '../sessions.js';

/** A frame off the wire, as Baileys' binary decoder produces it. */
export interface BinaryNodeLike {
  readonly tag: string;
  readonly attrs: Readonly<Record<string, string>>;
  readonly content?: unknown;
}

/** What relayMessage needs for a status; Baileys accepts more. */
export interface RelayOptions {
  messageId: string;
  statusJidList: string[];
}

/** Media upload, as generateWAMessage calls it (a stream of encrypted bytes in, a media URL out). */
type UploadFunction = WASocket['waUploadToServer'];

export interface ConnectionUpdateLike {
  connection?: 'open' | 'connecting' | 'close';
  lastDisconnect?: { error: Error | undefined; date: Date };
}

export interface WASocketLike {
  /** The account; absent until the connection has authenticated. `lid` is set once WhatsApp moved it to LID addressing. */
  readonly user: { id: string; lid?: string } | undefined;
  /** Resolves once the stanza is written to the socket, not when WhatsApp accepts it. */
  relayMessage(jid: string, message: unknown, opts: RelayOptions): Promise<string>;
  readonly waUploadToServer: UploadFunction;
  /** Which of these JIDs are on WhatsApp (Baileys lists only those that are). */
  onWhatsApp?(...jids: string[]): Promise<{ jid: string; exists: unknown }[] | undefined>;
  /** The usync query behind onWhatsApp, for a protocol that keeps what each answer is for (preflight.ts). */
  executeUSyncQuery?(query: USyncQuery): Promise<USyncQueryResult | undefined>;
  /** The account's privacy settings by category ('status': 'contacts', 'contact_blacklist', ...); cached by Baileys. */
  fetchPrivacySettings?(force?: boolean): Promise<Record<string, string>>;
  /** What prekeys.ts needs to fetch Signal sessions per user before a relay; absent on a fake. */
  readonly getUSyncDevices?: WASocket['getUSyncDevices'];
  readonly query?: WASocket['query'];
  readonly authState?: WASocket['authState'];
  readonly signalRepository?: WASocket['signalRepository'];
  /**
   * The raw frame emitter. Server acks for sent messages are only visible here
   * ('CB:ack,class:message'): Baileys turns an error ack into a messages.update
   * but emits nothing at all for a successful one.
   */
  readonly ws: {
    on(event: string, listener: (frame: BinaryNodeLike) => void): unknown;
    off(event: string, listener: (frame: BinaryNodeLike) => void): unknown;
  };
  /** Baileys' event emitter; the transport only needs to hear the connection close. */
  readonly ev: {
    on(event: 'connection.update', listener: (update: Partial<ConnectionUpdateLike>) => void): unknown;
    off(event: 'connection.update', listener: (update: Partial<ConnectionUpdateLike>) => void): unknown;
  };
}

export interface SessionEntry {
  readonly state: SessionStateName;
  /** Set only while the state is 'open'. */
  readonly socket?: WASocketLike;
  /** Why it is not open, in words (a ban's cause and end, say), for the error a send gets. */
  readonly reason?: string;
}

/** The session manager's view for the transport (BaileysSessions.sockets): it only reads it. */
export interface SessionSockets {
  get(sessionId: string): SessionEntry | undefined;
  /** Reports every commit of the session's signal keys to the store; returns the function that stops it. */
  onKeyCommit?(sessionId: string, listener: (commit: { ms: number; ok: boolean; error?: unknown }) => void): () => void;
}
