/**
 * Each session's WhatsApp contacts, as its transport reports them (Baileys'
 * history sync and contacts events; the simulator's generated address book),
 * so a send can go to all of them (SendStoryRequest.all_contacts) and
 * SessionService.ListContacts can page through them.
 *
 * One Keyv record per session (the same store as session memory and Baileys'
 * auth: memory, SQLite or redis): contacts change rarely and arrive in big
 * batches, so a record rewritten per batch costs little, and one adapter
 * serves every store. Writes to a session are chained, so a burst of events
 * never loses one to a read-modify-write race, and reads wait for writes
 * already made. Contacts are personal data: nothing here logs one.
 */
import type { Keyv } from 'keyv';
import { normalizeRecipients } from '../recipients.js';

export interface Contact {
  /** The contact's user JID. */
  readonly jid: string;
  /** The name this account saved for them. */
  readonly name?: string;
  /** The name they set for themselves. */
  readonly notify?: string;
}

/** What a transport tells the book. */
export interface ContactSink {
  /**
   * New or changed contacts; names given replace those kept, names absent are
   * kept. `synced`: they came from a sync of the address book (a history sync),
   * so all_contacts may send from now on.
   */
  update(sessionId: string, contacts: readonly Contact[], options?: { synced?: boolean }): Promise<void>;
  /** The session is gone (logged out): its contacts with it. */
  forget(sessionId: string): Promise<void>;
}

interface StoredBook {
  /** When the contacts first synced; absent until then. */
  syncedAt?: number;
  contacts: Record<string, { n?: string; p?: string }>;
}

export interface ContactPage {
  /** By JID. */
  readonly contacts: readonly Contact[];
  readonly total: number;
  /** Absent until the session's contacts have synced. */
  readonly syncedAt?: number;
}

export class ContactBook implements ContactSink {
  private readonly chains = new Map<string, Promise<unknown>>();

  constructor(
    private readonly keyv: Keyv,
    private readonly now: () => number = Date.now,
  ) {}

  async update(sessionId: string, contacts: readonly Contact[], options: { synced?: boolean } = {}): Promise<void> {
    // Only user JIDs can see a status: groups, broadcast lists and newsletters are dropped here.
    const { valid, indexes } = normalizeRecipients(contacts.map((c) => c.jid));
    if (valid.length === 0 && !options.synced) return;
    // One write for the contacts and the mark: a read never sees them synced without them, or them without the mark.
    await this.write(sessionId, (book) => {
      valid.forEach((jid, i) => {
        const { name, notify } = contacts[indexes[i]!]!;
        const kept = book.contacts[jid] ?? {};
        book.contacts[jid] = { ...kept, ...(name ? { n: name } : {}), ...(notify ? { p: notify } : {}) };
      });
      if (options.synced && book.syncedAt === undefined) book.syncedAt = this.now();
      return book;
    });
  }

  async forget(sessionId: string): Promise<void> {
    await this.write(sessionId, () => undefined);
  }

  /** Contacts by JID after `after` (exclusive), at most `limit`. */
  async page(sessionId: string, query: { after?: string; limit: number }): Promise<ContactPage> {
    const book = await this.read(sessionId);
    const jids = Object.keys(book?.contacts ?? {}).sort();
    const from = query.after === undefined ? 0 : upperBound(jids, query.after);
    const contacts = jids.slice(from, from + query.limit).map((jid) => {
      const { n, p } = book!.contacts[jid]!;
      return { jid, ...(n ? { name: n } : {}), ...(p ? { notify: p } : {}) };
    });
    return { contacts, total: jids.length, ...(book?.syncedAt === undefined ? {} : { syncedAt: book.syncedAt }) };
  }

  /** Every contact's JID, or undefined while the session's contacts have not synced. */
  async jids(sessionId: string): Promise<string[] | undefined> {
    const book = await this.read(sessionId);
    return book?.syncedAt === undefined ? undefined : Object.keys(book.contacts);
  }

  private async read(sessionId: string): Promise<StoredBook | undefined> {
    await this.chains.get(sessionId)?.catch(() => undefined);
    return (await this.keyv.get<StoredBook>(key(sessionId))) ?? undefined;
  }

  private write(sessionId: string, change: (book: StoredBook) => StoredBook | undefined): Promise<void> {
    const previous = this.chains.get(sessionId) ?? Promise.resolve();
    const next = previous
      .catch(() => undefined)
      .then(async () => {
        const book = (await this.keyv.get<StoredBook>(key(sessionId))) ?? { contacts: {} };
        const changed = change(book);
        if (changed === undefined) await this.keyv.delete(key(sessionId));
        else await this.keyv.set(key(sessionId), changed);
      });
    this.chains.set(sessionId, next);
    const done = () => {
      if (this.chains.get(sessionId) === next) this.chains.delete(sessionId);
    };
    next.then(done, done);
    return next;
  }
}

const key = (sessionId: string) => `contacts:${sessionId}`;

/** The first index whose value is greater than `value` in sorted `values`. */
function upperBound(values: readonly string[], value: string): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (values[mid]! <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
