/**
 * Recently sent statuses, so the socket's getMessage callback can answer
 * recipients' retry requests (a device that failed to decrypt asks for the
 * message again, by id). Bounded: least recently sent goes first.
 */
export interface MessageKeyLike {
  readonly remoteJid?: string | null;
  readonly id?: string | null;
}

export class RecentMessages<T> {
  private readonly entries = new Map<string, T>();

  constructor(private readonly capacity = 500) {
    if (!(capacity >= 1)) throw new RangeError(`capacity must be >= 1, got ${capacity}`);
  }

  /** Adds or refreshes a message; every batch of a story refreshes it, keeping live sends warm. */
  remember(id: string, message: T): void {
    this.entries.delete(id);
    this.entries.set(id, message);
    while (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
  }

  get(key: MessageKeyLike): T | undefined {
    return key.id ? this.entries.get(key.id) : undefined;
  }

  get size(): number {
    return this.entries.size;
  }
}
