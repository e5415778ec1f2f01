/**
 * Sessions on the simulated network: every session id is a linked, connected
 * account (no pairing step between a newcomer and a first send); logging out
 * logs it out on the network too, so sends from it then fail as they would.
 * A session that comes up syncs a generated address book to the contact book,
 * as a linked WhatsApp device's history sync would, and a logout forgets it.
 */
import type { ContactSink } from '../../audiences/contacts.js';
import { demoNumbers } from '../../recipients.js';
import type { SimControls } from './controls.js';
import type { ConnectEvent, SessionDirectory, SessionInfo } from '../sessions.js';

export interface SimAddressBook {
  readonly sink: ContactSink;
  /** Contacts per session: the demo numbers +15550000000 onwards, named "Contact 1"... */
  readonly size: number;
  /** A write the book refused: the next all-contacts send says the contacts have not synced. */
  readonly onError: (error: unknown, sessionId: string) => void;
}

/** The generated address book of every simulated session. */
export function simulatedContacts(size: number): { jid: string; name: string }[] {
  return demoNumbers(size).map((number, i) => ({ jid: `${number.slice(1)}@s.whatsapp.net`, name: `Contact ${i + 1}` }));
}

export class SimulatedSessions implements SessionDirectory {
  private readonly sessions = new Map<string, SessionInfo>();
  /** Released to another replica: not made up again on get() until adopted or connected here. */
  private readonly released = new Set<string>();

  constructor(
    private readonly network: SimControls,
    private readonly addressBook?: SimAddressBook,
  ) {}

  async *connect(id: string): AsyncIterable<ConnectEvent> {
    this.released.delete(id);
    if (this.sessions.get(id)?.state === 'logged-out') this.network.relink(id);
    const session = this.set(id, 'open');
    yield { type: 'state', session };
  }

  get(id: string): SessionInfo | undefined {
    return this.sessions.get(id) ?? (this.released.has(id) ? undefined : this.set(id, 'open'));
  }

  list(): SessionInfo[] {
    return [...this.sessions.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  async logout(id: string): Promise<boolean> {
    const existed = this.sessions.has(id);
    this.network.logout(id);
    this.set(id, 'logged-out', 'logged out by request');
    await this.addressBook?.sink.forget(id);
    return existed;
  }

  async close(): Promise<void> {}

  /** The simulated network has no sockets to bring up: an adopted session is open at once. */
  async adopt(id: string): Promise<boolean> {
    this.released.delete(id);
    if (this.sessions.get(id)?.state !== 'open') this.set(id, 'open');
    return true;
  }

  async release(id: string): Promise<void> {
    this.sessions.delete(id);
    this.released.add(id);
  }

  private set(id: string, state: SessionInfo['state'], reason?: string): SessionInfo {
    const before = this.sessions.get(id)?.state;
    const info: SessionInfo = { id, state, ...(reason ? { reason } : {}), account: 'simulated', updatedAt: Date.now() };
    this.sessions.set(id, info);
    if (state === 'open' && before !== 'open') this.syncContacts(id);
    return info;
  }

  /** Not awaited, as a device's sync is not: the book chains it, so a read after this sees it. */
  private syncContacts(id: string): void {
    const book = this.addressBook;
    if (!book) return;
    book.sink.update(id, simulatedContacts(book.size), { synced: true }).catch((error: unknown) => book.onError(error, id));
  }
}
