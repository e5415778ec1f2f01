/**
 * An in-memory Signal key store that remembers every write, so a test can see
 * what reached the store and when: Baileys' socket wraps the store with
 * addTransactionCapability, so inside relayMessage nothing arrives here until
 * the transaction commits, and then everything arrives in one set() call.
 */
import type { SignalDataSet, SignalDataTypeMap, SignalKeyStore } from '@whiskeysockets/baileys';

export type KeyType = keyof SignalDataTypeMap;

export interface KeyWrite {
  /** Which set() call carried it (1-based); a transaction commit is one call. */
  readonly call: number;
  readonly type: KeyType;
  readonly id: string;
  /** Written as null: Baileys deleting the key. */
  readonly deleted: boolean;
}

export class MemoryKeyStore implements SignalKeyStore {
  private readonly data = new Map<KeyType, Map<string, unknown>>();
  readonly writes: KeyWrite[] = [];
  /** How many times set() was called. */
  setCalls = 0;
  /** Make the next set() calls reject, as a failing database would. */
  failWrites = 0;
  /** set() calls that were made to fail. */
  failedSetCalls = 0;

  get<T extends KeyType>(type: T, ids: string[]): { [id: string]: SignalDataTypeMap[T] } {
    const found: { [id: string]: SignalDataTypeMap[T] } = {};
    const bucket = this.data.get(type);
    for (const id of ids) {
      const value = bucket?.get(id);
      if (value !== undefined) found[id] = value as SignalDataTypeMap[T];
    }
    return found;
  }

  async set(data: SignalDataSet): Promise<void> {
    if (this.failWrites > 0) {
      this.failWrites -= 1;
      this.failedSetCalls += 1;
      throw new Error('MemoryKeyStore: scripted write failure');
    }
    const call = ++this.setCalls;
    for (const type of Object.keys(data) as KeyType[]) {
      let bucket = this.data.get(type);
      if (!bucket) {
        bucket = new Map();
        this.data.set(type, bucket);
      }
      for (const [id, value] of Object.entries(data[type] ?? {})) {
        this.writes.push({ call, type, id, deleted: value === null || value === undefined });
        if (value === null || value === undefined) bucket.delete(id);
        else bucket.set(id, value);
      }
    }
  }

  clear(): void {
    this.data.clear();
  }

  /** The ids currently held for a type (e.g. 'session': "15551230001.0", "15551230001.1"). */
  ids(type: KeyType): string[] {
    return [...(this.data.get(type)?.keys() ?? [])];
  }

  /** The distinct ids written (not deleted) for a type, in order of first write. */
  written(type: KeyType): string[] {
    return [...new Set(this.writes.filter((w) => w.type === type && !w.deleted).map((w) => w.id))];
  }
}
