/**
 * The sessions this replica owns: it claims a session's lease before sending
 * for it, renews every lease it holds several times per TTL, and the moment a
 * renewal fails (another owner took over, or Redis cannot confirm it) it lets
 * go and says so, so the sends of that session stop at once. Holding a lease
 * that cannot be confirmed would risk two replicas sending for one session;
 * letting go early only costs a handover.
 */
import type { Logger } from '../log.js';
import type { Fence } from '../sends/store.js';
import type { Lease, SessionLeases } from './leases.js';

export interface OwnershipOptions {
  readonly leases: Pick<SessionLeases, 'acquire' | 'renew' | 'release' | 'fence'>;
  /** How often held leases are renewed: well under the TTL (a third of it), so one late renewal is not a loss. */
  readonly renewEveryMs: number;
  /** Told once per lost lease, before anything else learns of it: stop sending for the session (or set later with whenLost). */
  readonly onLost?: (sessionId: string, why: string) => void;
  readonly logger: Logger;
}

export class SessionOwnership {
  private readonly held = new Map<string, Lease>();
  private readonly claiming = new Map<string, Promise<Lease | undefined>>();
  private timer: NodeJS.Timeout | undefined;
  private renewing: Promise<void> | undefined;
  private lost: (sessionId: string, why: string) => void;
  private claimed: (sessionId: string) => Promise<unknown> | undefined = () => undefined;

  constructor(private readonly options: OwnershipOptions) {
    this.lost = options.onLost ?? (() => {});
  }

  /** Who stops a session's sends when its lease is lost (the send registry, made after this). */
  whenLost(listener: (sessionId: string, why: string) => void): void {
    this.lost = listener;
  }

  /**
   * Who brings a session up here once its lease is taken (the session
   * directory: Baileys reconnects from the shared auth); claim() waits for it,
   * so a send that claims a session finds it coming up.
   */
  whenClaimed(listener: (sessionId: string) => Promise<unknown> | undefined): void {
    this.claimed = listener;
  }

  /** Starts renewing (unref'd: a lease loop must not keep a finished process alive). */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.renewing ??= this.renewAll().finally(() => {
        this.renewing = undefined;
      });
    }, this.options.renewEveryMs);
    this.timer.unref();
  }

  /** The session's lease: ours already, or taken now; undefined when another replica holds it. */
  async claim(sessionId: string): Promise<Lease | undefined> {
    const held = this.held.get(sessionId);
    if (held) return held;
    let pending = this.claiming.get(sessionId);
    if (!pending) {
      pending = this.options.leases.acquire(sessionId).then(async (lease) => {
        if (!lease) return lease;
        this.held.set(sessionId, lease);
        try {
          await this.claimed(sessionId);
        } catch (error) {
          this.options.logger.warn({ err: error, sessionId }, 'a session taken over could not be brought up here');
        }
        return lease;
      });
      this.claiming.set(sessionId, pending);
      const forget = () => this.claiming.delete(sessionId);
      pending.then(forget, forget);
    }
    return pending;
  }

  /** What journal writes for the session carry; undefined when this replica does not own it. */
  fence(sessionId: string): Fence | undefined {
    const lease = this.held.get(sessionId);
    return lease && this.options.leases.fence(lease);
  }

  owns(sessionId: string): boolean {
    return this.held.has(sessionId);
  }

  get sessions(): readonly string[] {
    return [...this.held.keys()];
  }

  /** Renews every held lease once; a failed renewal is a loss. */
  async renewAll(): Promise<void> {
    await Promise.all(
      [...this.held.values()].map(async (lease) => {
        let kept = false;
        let why = 'another replica holds the lease now';
        try {
          kept = await this.options.leases.renew(lease);
        } catch (error) {
          why = `the lease could not be renewed: ${(error as Error).message}`;
        }
        if (kept || this.held.get(lease.sessionId) !== lease) return;
        this.held.delete(lease.sessionId);
        this.options.logger.warn({ sessionId: lease.sessionId, token: lease.token, why }, 'lost a session lease; its sends stop here');
        this.lost(lease.sessionId, why);
      }),
    );
  }

  /** Hands one session over at once (its sends have stopped), rather than letting the lease expire. */
  async release(sessionId: string): Promise<void> {
    const lease = this.held.get(sessionId);
    if (!lease) return;
    this.held.delete(sessionId);
    await this.options.leases.release(lease);
  }

  /** For a graceful shutdown: stops renewing and releases every lease, so others take over without waiting for the TTL. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.renewing;
    const leases = [...this.held.values()];
    this.held.clear();
    await Promise.all(
      leases.map((lease) =>
        this.options.leases.release(lease).catch((error: unknown) => {
          this.options.logger.warn({ err: error, sessionId: lease.sessionId }, 'could not release a session lease; it will expire');
        }),
      ),
    );
  }
}
