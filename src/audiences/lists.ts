/**
 * Saved recipient lists: a name per session for a list of WhatsApp JIDs, so a
 * caller that posts to the same people every day names the list instead of
 * passing thousands of numbers on every call. A list is stored once, already
 * normalised (JIDs, first occurrence kept), and read whole when a send names it.
 *
 * Lists are personal data: they belong to their session and go when it is
 * logged out (deleteSession); nothing here logs a recipient.
 */

/** Letters, digits, dot, dash and underscore, 1 to 64: safe in a store key and a URL. */
const LIST_NAME = /^[A-Za-z0-9._-]{1,64}$/;

export const isValidListName = (name: string): boolean => LIST_NAME.test(name);

export interface RecipientList {
  readonly sessionId: string;
  readonly name: string;
  /** Normalised JIDs, unique, in the order they were saved. */
  readonly recipients: readonly string[];
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** A list without its recipients: what a listing pages through. */
export interface RecipientListInfo {
  readonly sessionId: string;
  readonly name: string;
  readonly count: number;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface ListQuery {
  /** Only names after this one (exclusive): the previous page's last. */
  readonly after?: string;
  readonly limit: number;
}

export interface RecipientListStore {
  /** Creates the list or replaces its recipients; a replaced list keeps its createdAt. */
  save(list: { sessionId: string; name: string; recipients: readonly string[]; at: number }): Promise<RecipientList>;
  get(sessionId: string, name: string): Promise<RecipientList | undefined>;
  /** The session's lists by name (code-point order), at most `limit`. */
  list(sessionId: string, query: ListQuery): Promise<RecipientListInfo[]>;
  /** Whether there was such a list. */
  delete(sessionId: string, name: string): Promise<boolean>;
  /** Every list of the session (a logout); how many there were. */
  deleteSession(sessionId: string): Promise<number>;
  close(): Promise<void>;
}

const infoOf = ({ recipients, ...rest }: RecipientList): RecipientListInfo => ({ ...rest, count: recipients.length });

/** Code-point order, which SQLite's BINARY collation and redis' lexicographic ranges also use. */
const byName = (a: { name: string }, b: { name: string }): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

export class MemoryRecipientListStore implements RecipientListStore {
  private readonly sessions = new Map<string, Map<string, RecipientList>>();

  async save(list: { sessionId: string; name: string; recipients: readonly string[]; at: number }): Promise<RecipientList> {
    const lists = this.sessions.get(list.sessionId) ?? new Map<string, RecipientList>();
    this.sessions.set(list.sessionId, lists);
    const saved: RecipientList = {
      sessionId: list.sessionId,
      name: list.name,
      recipients: [...list.recipients],
      createdAt: lists.get(list.name)?.createdAt ?? list.at,
      updatedAt: list.at,
    };
    lists.set(list.name, saved);
    return saved;
  }

  async get(sessionId: string, name: string): Promise<RecipientList | undefined> {
    return this.sessions.get(sessionId)?.get(name);
  }

  async list(sessionId: string, { after, limit }: ListQuery): Promise<RecipientListInfo[]> {
    const lists = [...(this.sessions.get(sessionId)?.values() ?? [])].sort(byName);
    return lists
      .filter((l) => after === undefined || l.name > after)
      .slice(0, limit)
      .map(infoOf);
  }

  async delete(sessionId: string, name: string): Promise<boolean> {
    return this.sessions.get(sessionId)?.delete(name) ?? false;
  }

  async deleteSession(sessionId: string): Promise<number> {
    const count = this.sessions.get(sessionId)?.size ?? 0;
    this.sessions.delete(sessionId);
    return count;
  }

  async close(): Promise<void> {}
}
