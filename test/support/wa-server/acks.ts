/**
 * How the fake server acks each message stanza. WhatsApp answers every
 * `<message>` with `<ack class="message" id=… from=<the stanza's to> t=…/>`,
 * carrying `error="…"` when it refuses it. A script says, per stanza, whether
 * that ack comes, when, with which error, twice, or only when the test
 * releases it.
 *
 * Which plan a stanza gets: the first plan queued for its id (forId), else the
 * first plan queued for any stanza (next), else `fallback`.
 */
export type AckPlan =
  /** Ack (with `error` when given) after delayMs (0: at once). */
  | { readonly kind: 'ack'; readonly delayMs?: number; readonly error?: string | number }
  /** The same ack twice, gapMs apart. */
  | { readonly kind: 'duplicate'; readonly delayMs?: number; readonly gapMs?: number; readonly error?: string | number }
  /** No ack, ever. */
  | { readonly kind: 'lost' }
  /** Keep the ack until FakeWhatsApp.releaseAck / releaseAll. */
  | { readonly kind: 'hold'; readonly error?: string | number };

export const ack = (delayMs = 0, error?: string | number): AckPlan => ({ kind: 'ack', delayMs, ...(error !== undefined ? { error } : {}) });
export const errorAck = (error: string | number, delayMs = 0): AckPlan => ({ kind: 'ack', delayMs, error });
export const lost: AckPlan = { kind: 'lost' };
export const hold: AckPlan = { kind: 'hold' };
export const duplicate = (gapMs = 0, delayMs = 0): AckPlan => ({ kind: 'duplicate', gapMs, delayMs });

export class AckScript {
  private readonly queue: AckPlan[] = [];
  private readonly byId = new Map<string, AckPlan[]>();
  /** The plan when nothing is queued. */
  fallback: AckPlan = { kind: 'ack' };

  /** Plans for the next stanzas, in arrival order. */
  next(...plans: AckPlan[]): this {
    this.queue.push(...plans);
    return this;
  }

  /** Plans for the next stanzas with this message id (a re-relay reuses the id). */
  forId(id: string, ...plans: AckPlan[]): this {
    this.byId.set(id, [...(this.byId.get(id) ?? []), ...plans]);
    return this;
  }

  take(id: string): AckPlan {
    const own = this.byId.get(id);
    if (own?.length) {
      const plan = own.shift()!;
      if (!own.length) this.byId.delete(id);
      return plan;
    }
    return this.queue.shift() ?? this.fallback;
  }

  /** Plans not used yet. */
  get pending(): number {
    return this.queue.length + [...this.byId.values()].reduce((n, plans) => n + plans.length, 0);
  }
}
