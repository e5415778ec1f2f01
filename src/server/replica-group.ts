/**
 * The server's side of running as one replica among several on one redis:
 * the registry sends only for sessions whose lease is held here, a lost
 * lease stops them at once, sessions a dead replica held are taken over
 * (failover), this replica is announced where others can forward to it, and
 * calls for sessions owned elsewhere are forwarded there.
 */
import type { ConnectRouter, Transport } from '@connectrpc/connect';
import type { Logger } from '../log.js';
import type { Replicas } from '../runtime.js';
import type { SendRegistry } from '../sends/registry.js';
import type { SessionDirectory } from '../transport/sessions.js';
import type { RegistryOptions } from '../sends/registry-types.js';
import { forwarding } from './forward.js';
import { Upstreams } from './upstreams.js';

export interface ReplicaGroup {
  /** What the registry asks before sending for a session, and the fence its journal writes carry. */
  readonly claims: NonNullable<RegistryOptions['ownership']>;
  /** The router with calls for sessions owned elsewhere forwarded there. */
  readonly forwarding: (router: ConnectRouter) => ConnectRouter;
  /** Starts renewing leases and taking over the sessions of dead replicas. */
  start(registry: SendRegistry): void;
  /** Puts this replica in the directory at the address others reach it at. */
  advertise(address: string): Promise<void>;
  /** Leaves the directory, so no new session is placed here while the sends drain. */
  leave(): Promise<void>;
  /** After the drain: hands every session over at once rather than letting the leases expire. */
  stop(): Promise<void>;
}

export function joinReplicas(deps: {
  readonly replicas: Replicas;
  readonly leaseTtlMs: number;
  readonly logger: Logger;
  /** This replica's own services in memory. */
  readonly self: () => Transport;
  /** Aborted when this replica starts shutting down. */
  readonly stopping: AbortSignal;
  /** The sessions' sockets: brought up where a lease is taken, let go where one is lost. */
  readonly sessions: Pick<SessionDirectory, 'adopt' | 'release' | 'stored'>;
}): ReplicaGroup {
  const { replicas, logger, sessions } = deps;
  const { ownership, router, presence } = replicas;
  let adopting: { stop(): Promise<void> } | undefined;
  const upstreams = new Upstreams();
  let registry: SendRegistry | undefined;
  let failover: { stop(): Promise<void> } | undefined;
  return {
    claims: {
      claim: async (sessionId) => (await ownership.claim(sessionId)) !== undefined,
      fence: (sessionId) => ownership.fence(sessionId),
    },
    forwarding: forwarding({
      router,
      sendOf: async (sendId) => {
        const record = await registry?.get(sendId);
        return record && { sessionId: record.sessionId, running: record.state === 'RUNNING' };
      },
      upstream: (address) => upstreams.transport(address),
      others: async () => (await replicas.directory.live()).filter((r) => r.id !== replicas.id),
      self: deps.self,
      stopping: deps.stopping,
      patienceMs: deps.leaseTtlMs + 5000,
      logger,
    }),
    start(sends) {
      registry = sends;
      // A lost lease stops the session's sends here at once; the new owner resumes them from the journal.
      ownership.whenLost((sessionId) => {
        sends.suspendSession(sessionId);
        sessions.release?.(sessionId).catch((error: unknown) => logger.warn({ err: error, sessionId }, 'could not let a session go'));
      });
      ownership.whenClaimed((sessionId) => sessions.adopt?.(sessionId));
      ownership.start();
      // Failover: a dead replica's leases expire after the TTL; whoever claims a session then resumes its sends.
      failover = every(Math.max(250, Math.floor(deps.leaseTtlMs / 2)), () => sends.resumeAll(), logger);
    },
    async advertise(address) {
      await presence.start(address);
      // Linked accounts nobody runs (their replica died with no send pending): this replica's share of them.
      if (sessions.stored) adopting = every(ADOPT_EVERY_MS, () => adoptOrphans(replicas, sessions), logger, true);
    },
    async leave() {
      // A draining replica takes nothing over: it would resume the very sends it is checkpointing.
      await Promise.all([failover?.stop(), adopting?.stop()]);
      router.drain();
      await presence.stop();
    },
    async stop() {
      await Promise.all([failover?.stop(), adopting?.stop()]);
      await ownership.stop();
      upstreams.close();
    },
  };
}

/**
 * How often a replica looks for linked accounts nobody runs. Not every beat:
 * listing the stored sessions scans the auth keys, and an idle account can
 * wait a minute to come back; one with a send pending is taken over within
 * half a lease TTL by the failover beat.
 */
const ADOPT_EVERY_MS = 60_000;

/** Takes the leases of stored sessions nobody holds, up to an even share among the live replicas. */
async function adoptOrphans(replicas: Replicas, sessions: Pick<SessionDirectory, 'stored'>): Promise<void> {
  const stored = (await sessions.stored?.()) ?? [];
  if (stored.length === 0) return;
  const live = Math.max(1, (await replicas.directory.live()).length);
  const share = Math.ceil(stored.length / live);
  for (const sessionId of stored) {
    if (replicas.ownership.sessions.length >= share) return;
    if (replicas.ownership.owns(sessionId) || (await replicas.leases.holder(sessionId))) continue;
    await replicas.ownership.claim(sessionId);
  }
}

/** Runs `work` every `ms` (and at once when `now`), never twice at once; unref'd, so it holds no process open. */
function every(ms: number, work: () => Promise<unknown>, logger: Logger, now = false): { stop(): Promise<void> } {
  let running: Promise<void> | undefined;
  const beat = () => {
    running ??= work()
      .then(
        () => undefined,
        (error: unknown) => logger.warn({ err: error }, 'taking over the sessions of other replicas failed'),
      )
      .finally(() => {
        running = undefined;
      });
  };
  const timer = setInterval(beat, ms);
  timer.unref();
  if (now) beat();
  return {
    // Waits for a run in progress: a stopped beat must not resume anything afterwards.
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
}
