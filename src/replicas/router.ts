/**
 * Where a call for a session is served when replicas share one redis: here
 * when this replica holds the session's lease, at the holder's advertised
 * address when another does, and, for a session nobody holds, at the least
 * loaded live replica (placement). Knows nothing of gRPC: the forwarding
 * interceptor (src/server/forward.ts) acts on the answer.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ReplicaDirectory, ReplicaInfo } from './directory.js';
import type { LeaseHolder } from './leases.js';

export type Route =
  | { readonly kind: 'local' }
  /** `place`: the session is free and was placed there; the receiver claims it rather than placing it again. */
  | { readonly kind: 'remote'; readonly replicaId: string; readonly address: string; readonly place: boolean }
  /** No replica could be found to serve it in time (its owner died and its lease has not expired yet, say). */
  | { readonly kind: 'unavailable'; readonly why: string };

/**
 * - `place`: the call starts work on the session (SendStory, ConnectSession): a free session is claimed, here or elsewhere.
 * - `find`: the call reads or ends what exists (GetSession, LogoutSession, following a send): a free session is served here.
 * - `claim`: another replica placed the session here: claim it, or follow whoever beat us to it.
 */
export type RouteMode = 'place' | 'find' | 'claim';

export interface RouterDeps {
  readonly replicaId: string;
  readonly owns: (sessionId: string) => boolean;
  /** How many sessions this replica owns now: fresher than its last announcement. */
  readonly load: () => number;
  /** Takes the session's lease for this replica; false when another holds it. */
  readonly claim: (sessionId: string) => Promise<boolean>;
  readonly holder: (sessionId: string) => Promise<LeaseHolder | undefined>;
  readonly directory: Pick<ReplicaDirectory, 'live' | 'addressOf' | 'bump'>;
  /** How long to keep looking for a reachable owner: the lease TTL and a margin (a dead owner's lease runs out by then). */
  readonly patienceMs: number;
  /** Between looks while waiting for a dead owner's lease to expire. */
  readonly pollMs?: number;
  readonly random?: () => number;
}

export class SessionRouter {
  private draining = false;

  constructor(private readonly deps: RouterDeps) {}

  /** A draining replica places nothing on itself: new sessions go to the others. */
  drain(): void {
    this.draining = true;
  }

  /**
   * Where to serve a call for `sessionId`. `avoid` names replicas found
   * unreachable this call: their leases will expire, so routing waits for that
   * rather than dialling them again.
   */
  async route(sessionId: string, mode: RouteMode, avoid: ReadonlySet<string> = new Set()): Promise<Route> {
    const deadline = Date.now() + this.deps.patienceMs;
    let why = '';
    for (;;) {
      if (this.deps.owns(sessionId)) return { kind: 'local' };
      const holder = await this.deps.holder(sessionId);
      if (holder) {
        if (holder.replicaId === this.deps.replicaId) return { kind: 'local' };
        const address = avoid.has(holder.replicaId) ? undefined : await this.deps.directory.addressOf(holder.replicaId);
        if (address !== undefined) return { kind: 'remote', replicaId: holder.replicaId, address, place: false };
        why = `session ${sessionId} is held by replica ${holder.replicaId}, which cannot be reached; its lease has ${holder.remainingMs} ms left`;
      } else {
        const placed = await this.placeFree(sessionId, mode, avoid);
        if (placed) return placed;
        why = `session ${sessionId} was taken by another replica while it was being placed`;
      }
      const left = deadline - Date.now();
      if (left <= 0) return { kind: 'unavailable', why };
      await sleep(Math.min(this.deps.pollMs ?? 200, left));
    }
  }

  /** A session nobody holds: served here (find, claim) or on the least loaded live replica (place). Undefined: look again. */
  private async placeFree(sessionId: string, mode: RouteMode, avoid: ReadonlySet<string>): Promise<Route | undefined> {
    if (mode === 'find') return { kind: 'local' };
    const target = mode === 'claim' ? undefined : await this.leastLoaded(avoid);
    if (!target) return (await this.deps.claim(sessionId)) ? { kind: 'local' } : undefined;
    // Counted now rather than at its next announcement, so a burst of new sessions spreads out.
    await this.deps.directory.bump(target.id);
    return { kind: 'remote', replicaId: target.id, address: target.address, place: true };
  }

  /** The least loaded live replica other than us, or undefined when we are (or nobody else is live). */
  private async leastLoaded(avoid: ReadonlySet<string>): Promise<ReplicaInfo | undefined> {
    const live = (await this.deps.directory.live()).filter((r) => !avoid.has(r.id));
    const others = live.filter((r) => r.id !== this.deps.replicaId);
    if (others.length === 0) return undefined;
    const least = Math.min(...others.map((r) => r.sessions));
    // Our own count from the ownership itself: the announcement may be a beat old.
    if (!this.draining && this.deps.load() <= least) return undefined;
    const tied = others.filter((r) => r.sessions === least);
    return tied[Math.floor((this.deps.random ?? Math.random)() * tied.length)];
  }
}
