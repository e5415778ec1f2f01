/**
 * Matches server acks to transport calls. Every batch of a story reuses the
 * anchor's message id, so an ack (`<ack class="message" id=… from="status@broadcast">`)
 * cannot say which call it answers; calls on one id are matched in the order
 * they were made (FIFO). That holds because the engine has at most one call in
 * flight per send, and WhatsApp acks stanzas in the order it reads them.
 *
 * A call given up on (aborted, or past the ack timeout) already wrote, or will
 * write, its stanza, and its ack will still come. Its entry therefore stays in
 * the queue as a tombstone that swallows that late ack; otherwise the late ack
 * would be credited to the next batch. A tombstone older than `tombstoneTtlMs`
 * is presumed lost and skipped. A closed connection fails every waiter: Baileys
 * never delivers acks for stanzas of a socket that has gone.
 */
import type { Clock } from '../clock.js';
import { TransportError } from '../transport.js';
import { classifyAckError, classifyBaileysError } from './errors.js';
import type { BinaryNodeLike, ConnectionUpdateLike, WASocketLike } from './socket.js';

export const STATUS_JID = 'status@broadcast';
/** The raw-frame event Baileys emits for every message ack, good or bad (Socket/socket.js onMessageReceived). */
export const ACK_EVENT = 'CB:ack,class:message';

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (error: TransportError) => void;
  /** Set when the caller stopped waiting; the entry then only absorbs its ack. */
  abandonedAt?: number;
}

export class AckTracker {
  private readonly queues = new Map<string, Waiter[]>();
  private readonly onAck = (frame: BinaryNodeLike) => this.ack(frame);
  private readonly onConnection = (update: Partial<ConnectionUpdateLike>) => {
    if (update.connection === 'close') this.closed(update.lastDisconnect?.error);
  };

  constructor(
    private readonly socket: WASocketLike,
    private readonly clock: Clock,
    private readonly tombstoneTtlMs: number,
  ) {
    socket.ws.on(ACK_EVENT, this.onAck);
    socket.ev.on('connection.update', this.onConnection);
  }

  detach(): void {
    this.socket.ws.off(ACK_EVENT, this.onAck);
    this.socket.ev.off('connection.update', this.onConnection);
  }

  /** Calls waiting (tombstones excluded), for tests and diagnostics. */
  get waiting(): number {
    let n = 0;
    for (const queue of this.queues.values()) n += queue.filter((w) => w.abandonedAt === undefined).length;
    return n;
  }

  /**
   * Registers a call before its stanza is written (the ack may beat relayMessage's
   * own promise). `settled` resolves on a good ack, rejects on a bad one.
   */
  expect(messageId: string): { settled: Promise<void>; abandon: () => void; cancel: () => void } {
    let waiter!: Waiter;
    const settled = new Promise<void>((resolve, reject) => {
      waiter = { resolve, reject };
    });
    settled.catch(() => {});
    const queue = this.queues.get(messageId) ?? [];
    queue.push(waiter);
    this.queues.set(messageId, queue);
    return {
      settled,
      abandon: () => {
        waiter.abandonedAt ??= this.clock.now();
      },
      // The stanza never went out: no ack will come, so leave no tombstone.
      cancel: () => this.remove(messageId, waiter),
    };
  }

  private ack({ attrs }: BinaryNodeLike): void {
    if (attrs.from !== STATUS_JID || !attrs.id) return;
    const queue = this.queues.get(attrs.id);
    if (!queue) return;
    const now = this.clock.now();
    let waiter = queue.shift();
    while (waiter?.abandonedAt !== undefined && now - waiter.abandonedAt > this.tombstoneTtlMs) waiter = queue.shift();
    if (queue.length === 0) this.queues.delete(attrs.id);
    if (!waiter || waiter.abandonedAt !== undefined) return;
    if (attrs.error) waiter.reject(classifyAckError(attrs.error));
    else waiter.resolve();
  }

  private closed(cause: Error | undefined): void {
    const error = cause
      ? classifyBaileysError(cause)
      : new TransportError('SEND_FAILED', 'connection closed before WhatsApp acknowledged the status, retry after reconnect');
    for (const queue of this.queues.values()) for (const waiter of queue) if (waiter.abandonedAt === undefined) waiter.reject(error);
    this.queues.clear();
  }

  private remove(messageId: string, waiter: Waiter): void {
    const queue = this.queues.get(messageId);
    const index = queue?.indexOf(waiter) ?? -1;
    if (!queue || index < 0) return;
    queue.splice(index, 1);
    if (queue.length === 0) this.queues.delete(messageId);
  }
}
