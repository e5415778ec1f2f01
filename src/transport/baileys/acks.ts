/**
 * Which ack belongs to which stanza. Every batch of a story reuses the
 * anchor's message id, and WhatsApp's ack (`<ack class="message" id=…
 * from="status@broadcast">`) carries nothing else that names the stanza it
 * answers. So an ack can only be attributed if, at the moment it arrives, one
 * stanza of that id can be waiting for it. The ledger keeps it that way: per
 * socket and message id, at most one stanza is in doubt at a time, and the
 * next one is not written until the doubt is settled:
 *
 * - its ack arrives: to the caller if it still waits; otherwise (the caller
 *   gave up) as a late outcome, so the engine counts those recipients
 *   delivered and does not send them again, or learns the late rejection;
 * - or a quiet period passes after its write with no ack: presumed lost; its
 *   recipients were already handed back for a retry.
 *
 * In doubt are: a call still waiting; one given up on (timed out, aborted),
 * whose relay may still be running inside Baileys and write after we stopped
 * waiting; one whose relay threw after the frame may have gone out (a slow
 * write callback is a 408); and a relay Baileys makes by itself when a
 * recipient's phone asks for a retry (the transport's getMessage announces it
 * with `expectForeign` before handing Baileys the message). An ack with no
 * stanza in doubt is logged and ignored. A lost ack costs one quiet period.
 *
 * A closed socket settles everything on it: Baileys never delivers acks for
 * stanzas of a socket that has gone, and a call still waiting fails with
 * DISCONNECTED, which says nothing about its batch.
 */
import type { Clock } from '../../clock.js';
import type { Logger } from '../../log.js';
import { untilAborted } from '../../util/abort.js';
import { TransportError, type LateOutcome } from '../port.js';
import { classifyAckError } from './errors.js';
import type { BinaryNodeLike, ConnectionUpdateLike, WASocketLike } from './socket.js';

export const STATUS_JID = 'status@broadcast';
/** The raw-frame event Baileys emits for every message ack, good or bad (Socket/socket.js onMessageReceived). */
const ACK_EVENT = 'CB:ack,class:message';

export interface AckLedgerOptions {
  readonly clock: Clock;
  readonly logger: Logger;
  /** How long after a stanza was written, with its caller gone, its ack is still awaited. */
  readonly quietMs: number;
  /** A late ack for a call the engine gave up on. */
  readonly onLate: (messageId: string, outcome: LateOutcome) => void;
}

/** One relay's view of its stanza. */
export interface StanzaCall {
  /** Resolves on a good ack; rejects on an error ack or a closed socket. */
  readonly acked: Promise<void>;
  /** relayMessage resolved: the stanza is on the wire. */
  written(): void;
  /** relayMessage threw; `maybeWritten` when the frame may have gone out all the same. */
  failed(maybeWritten: boolean): void;
  /** The caller stops waiting; the stanza stays in doubt until its ack or the quiet period. */
  giveUp(): void;
}

interface Stanza {
  readonly messageId: string;
  /** A batch of ours, or a relay Baileys makes by itself (answering a retry request). */
  readonly kind: 'batch' | 'foreign';
  readonly recipients: readonly string[];
  readonly batchIndex?: number;
  readonly startedAt: number;
  writtenAt?: number;
  /** The caller, while it still waits. */
  waiter?: { resolve: () => void; reject: (error: TransportError) => void };
  quiet?: AbortController;
  settled: boolean;
  readonly done: Promise<void>;
  readonly markDone: () => void;
}

export class AckLedger {
  private readonly inDoubt = new Map<string, Stanza>();
  /** WhatsApp accepted a status stanza on this socket: its error acks are not the account-wide kind. */
  private accepted = false;
  private readonly onAck = (frame: BinaryNodeLike) => this.ack(frame);
  private readonly onConnection = (update: Partial<ConnectionUpdateLike>) => {
    if (update.connection === 'close') this.closed();
  };

  constructor(
    private readonly socket: WASocketLike,
    private readonly options: AckLedgerOptions,
  ) {
    socket.ws.on(ACK_EVENT, this.onAck);
    socket.ev.on('connection.update', this.onConnection);
  }

  detach(): void {
    this.socket.ws.off(ACK_EVENT, this.onAck);
    this.socket.ev.off('connection.update', this.onConnection);
  }

  /** Whether a stanza of this id is in doubt on this socket. */
  busy(messageId: string): boolean {
    return this.inDoubt.has(messageId);
  }

  /** Resolves once no stanza of this id is in doubt; rejects with the signal's reason if it aborts first. */
  async idle(messageId: string, signal?: AbortSignal): Promise<void> {
    for (let stanza = this.inDoubt.get(messageId); stanza; stanza = this.inDoubt.get(messageId)) {
      await untilAborted(stanza.done, signal);
    }
  }

  /**
   * Opens the stanza of a batch about to be relayed, once no other stanza of
   * the id is in doubt. The last check and the opening happen in one turn, so
   * two callers can never both find the id free.
   */
  async open(messageId: string, recipients: readonly string[], batchIndex?: number, signal?: AbortSignal): Promise<StanzaCall> {
    for (let other = this.inDoubt.get(messageId); other; other = this.inDoubt.get(messageId)) {
      await untilAborted(other.done, signal);
    }
    const stanza = this.add(messageId, 'batch', recipients, batchIndex);
    const acked = new Promise<void>((resolve, reject) => (stanza.waiter = { resolve, reject }));
    acked.catch(() => {});
    return {
      acked,
      written: () => {
        if (stanza.settled) return;
        stanza.writtenAt ??= this.options.clock.now();
        if (!stanza.waiter) this.startQuiet(stanza);
      },
      failed: (maybeWritten) => {
        if (stanza.settled) return;
        stanza.waiter = undefined;
        if (!maybeWritten) return this.settle(stanza);
        stanza.writtenAt ??= this.options.clock.now();
        this.startQuiet(stanza);
      },
      giveUp: () => {
        if (stanza.settled || !stanza.waiter) return;
        stanza.waiter = undefined;
        // Still relaying: the quiet period starts once the relay settles (written/failed).
        if (stanza.writtenAt !== undefined) this.startQuiet(stanza);
      },
    };
  }

  /**
   * Baileys is about to relay this id by itself (a recipient asked for a
   * retry): waits until the id is free, then holds it for that relay. Its ack,
   * from status@broadcast or from the device that asked, is that relay's; if
   * none comes, a quiet period frees the id.
   */
  async expectForeign(messageId: string): Promise<void> {
    for (let other = this.inDoubt.get(messageId); other; other = this.inDoubt.get(messageId)) await other.done;
    const stanza = this.add(messageId, 'foreign', []);
    stanza.writtenAt = stanza.startedAt;
    this.startQuiet(stanza);
  }

  private add(messageId: string, kind: Stanza['kind'], recipients: readonly string[], batchIndex?: number): Stanza {
    let markDone!: () => void;
    const done = new Promise<void>((resolve) => (markDone = resolve));
    const stanza: Stanza = {
      messageId,
      kind,
      recipients,
      ...(batchIndex !== undefined ? { batchIndex } : {}),
      startedAt: this.options.clock.now(),
      settled: false,
      done,
      markDone,
    };
    this.inDoubt.set(messageId, stanza);
    return stanza;
  }

  private ack({ attrs }: BinaryNodeLike): void {
    const id = attrs.id;
    if (!id) return;
    const stanza = this.inDoubt.get(id);
    // A foreign relay to one device is acked from that device; our batches go to status@broadcast only.
    if (!stanza || (stanza.kind === 'batch' && attrs.from !== STATUS_JID)) {
      if (attrs.from === STATUS_JID)
        this.options.logger.info({ messageId: id, error: attrs.error }, 'status ack with no stanza in doubt; ignored');
      return;
    }
    // socket.user is a copy from before login; the creds carry the LID WhatsApp announced in <success>.
    const account = { lid: this.socket.authState?.creds.me?.lid ?? this.socket.user?.lid, statusAccepted: this.accepted };
    const error = attrs.error ? classifyAckError(attrs.error, account) : undefined;
    if (!error && attrs.from === STATUS_JID) this.accepted = true;
    if (stanza.waiter) {
      if (error) stanza.waiter.reject(error);
      else stanza.waiter.resolve();
    } else if (stanza.kind === 'batch') {
      const afterMs = this.options.clock.now() - stanza.startedAt;
      this.options.onLate(id, {
        ...(stanza.batchIndex !== undefined ? { batchIndex: stanza.batchIndex } : {}),
        recipients: stanza.recipients,
        delivered: !error,
        afterMs,
        ...(error ? { error } : {}),
      });
    }
    this.settle(stanza);
  }

  private startQuiet(stanza: Stanza): void {
    if (stanza.quiet || stanza.settled) return;
    stanza.quiet = new AbortController();
    const { clock, quietMs, logger } = this.options;
    const wait = Math.max(0, (stanza.writtenAt ?? clock.now()) + quietMs - clock.now());
    clock.sleep(wait, stanza.quiet.signal).then(
      () => {
        logger.warn(
          { messageId: stanza.messageId, kind: stanza.kind, recipients: stanza.recipients.length, quietMs },
          'no ack within the quiet period; presumed lost',
        );
        this.settle(stanza);
      },
      () => {},
    );
  }

  private settle(stanza: Stanza): void {
    if (stanza.settled) return;
    stanza.settled = true;
    stanza.waiter = undefined;
    stanza.quiet?.abort();
    if (this.inDoubt.get(stanza.messageId) === stanza) this.inDoubt.delete(stanza.messageId);
    stanza.markDone();
  }

  private closed(): void {
    const error = new TransportError(
      'DISCONNECTED',
      'the connection closed before WhatsApp acknowledged the status; it goes again after the reconnect',
    );
    for (const stanza of [...this.inDoubt.values()]) {
      stanza.waiter?.reject(error);
      this.settle(stanza);
    }
  }
}
