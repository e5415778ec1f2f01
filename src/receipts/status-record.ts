/**
 * What one status's recipients have answered, held column by column: a
 * 100,000-recipient status is four flat arrays, not 100,000 objects, both in
 * memory and in the store.
 */
import type { ReceiptCounts, ReceiptTimes, RecipientReceipts } from './types.js';

const USER_SUFFIX = '@s.whatsapp.net';

/** The stored form. Ids are users without `@s.whatsapp.net` where they have it; times are ms since `createdAt`. */
export interface StoredStatus {
  readonly v: 1;
  readonly sessionId: string;
  readonly messageId: string;
  readonly createdAt: number;
  readonly users: readonly string[];
  /** One character per user: '1' when a successful call of ours included them. */
  readonly sent: string;
  readonly delivered: readonly (number | null)[];
  readonly read: readonly (number | null)[];
}

export class StatusRecord {
  private readonly index = new Map<string, number>();
  private readonly jids: string[] = [];
  private readonly sentFlags: boolean[] = [];
  /** 0 = none: no receipt of ours is stamped at the epoch. */
  private readonly deliveredAt: number[] = [];
  private readonly readAt: number[] = [];
  private readonly tally = { sent: 0, delivered: 0, read: 0 };

  constructor(
    readonly sessionId: string,
    readonly messageId: string,
    /** When this status was first seen: its 24 hours count from here. */
    public createdAt: number,
  ) {}

  get size(): number {
    return this.jids.length;
  }

  get counts(): ReceiptCounts {
    return { ...this.tally };
  }

  /** Marks recipients as sent to; true when anything changed. */
  markSent(jids: readonly string[]): boolean {
    let changed = false;
    for (const jid of jids) {
      const i = this.slot(jid);
      if (this.sentFlags[i]) continue;
      this.sentFlags[i] = true;
      this.tally.sent++;
      changed = true;
    }
    return changed;
  }

  /**
   * Keeps the first delivery and the first read (a recipient's devices each
   * answer); a read implies a delivery, so a read alone also counts as one.
   */
  markReceipt(jid: string, times: ReceiptTimes): boolean {
    const delivered = positive(times.deliveredAt) ?? positive(times.readAt);
    const read = positive(times.readAt);
    if (delivered === undefined) return false;
    const i = this.slot(jid);
    let changed = false;
    if (this.deliveredAt[i] === 0 || delivered < this.deliveredAt[i]!) {
      if (this.deliveredAt[i] === 0) this.tally.delivered++;
      this.deliveredAt[i] = delivered;
      changed = true;
    }
    if (read !== undefined && (this.readAt[i] === 0 || read < this.readAt[i]!)) {
      if (this.readAt[i] === 0) this.tally.read++;
      this.readAt[i] = read;
      changed = true;
    }
    return changed;
  }

  /** Recipients in the order they were first seen (stable, so an offset is a page token). */
  list(offset: number, limit: number): RecipientReceipts[] {
    const out: RecipientReceipts[] = [];
    for (let i = offset; i < Math.min(this.jids.length, offset + limit); i++) {
      out.push({
        recipient: this.jids[i]!,
        sent: this.sentFlags[i]!,
        ...(this.deliveredAt[i] ? { deliveredAt: this.deliveredAt[i] } : {}),
        ...(this.readAt[i] ? { readAt: this.readAt[i] } : {}),
      });
    }
    return out;
  }

  /** This record's facts laid over `base` (which keeps its order): what a restart or another writer left in the store. */
  over(base: StatusRecord): StatusRecord {
    base.createdAt = Math.min(base.createdAt, this.createdAt);
    for (let i = 0; i < this.jids.length; i++) {
      const jid = this.jids[i]!;
      base.slot(jid);
      if (this.sentFlags[i]) base.markSent([jid]);
      base.markReceipt(jid, { deliveredAt: this.deliveredAt[i]!, readAt: this.readAt[i]! });
    }
    return base;
  }

  toStored(): StoredStatus {
    const offset = (t: number) => (t === 0 ? null : t - this.createdAt);
    return {
      v: 1,
      sessionId: this.sessionId,
      messageId: this.messageId,
      createdAt: this.createdAt,
      users: this.jids.map((jid) => (jid.endsWith(USER_SUFFIX) ? jid.slice(0, -USER_SUFFIX.length) : jid)),
      sent: this.sentFlags.map((s) => (s ? '1' : '0')).join(''),
      delivered: this.deliveredAt.map(offset),
      read: this.readAt.map(offset),
    };
  }

  /** Null when the value is not a status of this shape (a foreign or corrupt row). */
  static fromStored(value: unknown): StatusRecord | null {
    if (!isStored(value)) return null;
    const record = new StatusRecord(value.sessionId, value.messageId, value.createdAt);
    const at = (t: number | null | undefined) => (typeof t === 'number' ? value.createdAt + t : undefined);
    value.users.forEach((user, i) => {
      const jid = user.includes('@') ? user : `${user}${USER_SUFFIX}`;
      record.slot(jid);
      if (value.sent[i] === '1') record.markSent([jid]);
      record.markReceipt(jid, { deliveredAt: at(value.delivered[i]), readAt: at(value.read[i]) });
    });
    return record;
  }

  private slot(jid: string): number {
    let i = this.index.get(jid);
    if (i === undefined) {
      i = this.jids.length;
      this.index.set(jid, i);
      this.jids.push(jid);
      this.sentFlags.push(false);
      this.deliveredAt.push(0);
      this.readAt.push(0);
    }
    return i;
  }
}

function positive(t: number | undefined): number | undefined {
  return t !== undefined && Number.isFinite(t) && t > 0 ? t : undefined;
}

function isStored(value: unknown): value is StoredStatus {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<StoredStatus>;
  const n = v.users?.length;
  return (
    v.v === 1 &&
    typeof v.sessionId === 'string' &&
    typeof v.messageId === 'string' &&
    typeof v.createdAt === 'number' &&
    Array.isArray(v.users) &&
    v.users.every((u) => typeof u === 'string') &&
    typeof v.sent === 'string' &&
    v.sent.length === n &&
    Array.isArray(v.delivered) &&
    v.delivered.length === n &&
    Array.isArray(v.read) &&
    v.read.length === n
  );
}
