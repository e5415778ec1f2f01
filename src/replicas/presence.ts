/**
 * This replica's entry in the directory: announced once it listens, renewed
 * several times per TTL with how many sessions it owns, withdrawn first thing
 * on a graceful shutdown so nobody places new sessions on it while it drains.
 */
import type { Logger } from '../log.js';
import type { ReplicaDirectory } from './directory.js';

export interface PresenceOptions {
  readonly replicaId: string;
  readonly directory: Pick<ReplicaDirectory, 'announce' | 'withdraw'>;
  /** How many sessions this replica owns now: what placement compares. */
  readonly sessions: () => number;
  /** Announcements last ttlMs; renewed every third of it, so one late renewal does not drop us. */
  readonly ttlMs: number;
  readonly logger: Logger;
}

export class Presence {
  private timer: NodeJS.Timeout | undefined;
  private address: string | undefined;
  private announcing: Promise<void> | undefined;

  constructor(private readonly options: PresenceOptions) {}

  /** Announces now (a failure is logged and retried on the next beat) and keeps announcing. */
  async start(address: string): Promise<void> {
    this.address = address;
    await this.beat();
    if (this.timer) return;
    this.timer = setInterval(() => void this.beat(), Math.max(100, Math.floor(this.options.ttlMs / 3)));
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.announcing;
    if (this.address === undefined) return;
    this.address = undefined;
    await this.options.directory.withdraw(this.options.replicaId).catch((error: unknown) => {
      this.options.logger.warn({ err: error }, 'could not withdraw from the replica directory; the entry will expire');
    });
  }

  private beat(): Promise<void> {
    const { replicaId, directory, sessions, logger } = this.options;
    const address = this.address;
    if (address === undefined || this.announcing) return this.announcing ?? Promise.resolve();
    this.announcing = directory
      .announce({ id: replicaId, address, sessions: sessions() })
      .then(
        () => undefined,
        (error: unknown) => logger.warn({ err: error }, 'could not announce this replica; others may not forward to it'),
      )
      .finally(() => {
        this.announcing = undefined;
      });
    return this.announcing;
  }
}
