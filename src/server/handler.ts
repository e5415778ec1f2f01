/**
 * The storycast request handler: every service (routes.ts) with the request
 * context, message limits and drain wiring, and nothing about ports. listen.ts
 * puts it on a port; tests can put the same routes and options behind
 * createRouterTransport and call it in memory.
 */
import { setMaxListeners } from 'node:events';
import { Code, ConnectError, type ConnectRouter, type ConnectRouterOptions } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { systemClock, type Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { Runtime } from '../runtime.js';
import { requestContext } from './context.js';
import { HealthStatus } from './grpc-plugins/index.js';
import { routes, SERVED_SERVICES } from './routes.js';
import { SendRegistry } from '../sends/registry.js';
import { outcomeOf } from '../experiments/outcome.js';
import type { SessionOwnership } from '../replicas/ownership.js';
import { RunningSends } from './sends.js';

/** Large enough for 100,000 recipients per request and a summary that lists them all as failed. */
const READ_MAX_BYTES = 16 * 1024 * 1024;
const WRITE_MAX_BYTES = 64 * 1024 * 1024;

export interface HandlerDeps {
  readonly runtime: Runtime;
  readonly logger: Logger;
  /** How long running sends get on drain() before they are cancelled. */
  readonly graceMs: number;
  /** What send retention is measured on (default: real time, like session memory and receipts). */
  readonly sendClock?: Clock;
}

export interface StorycastHandler {
  /** For node:http2 (or node:http) servers: gRPC, gRPC-Web and Connect on one handler. */
  readonly handler: ReturnType<typeof connectNodeAdapter>;
  /** The same services and options, for createRouterTransport(routes, { router: routerOptions }). */
  readonly routes: (router: ConnectRouter) => void;
  readonly routerOptions: ConnectRouterOptions;
  /** SERVING from the start: nothing reaches the handler before someone serves it. */
  readonly health: HealthStatus;
  readonly sends: RunningSends;
  /** Every send of this process, running or finished within the retention. */
  readonly registry: SendRegistry;
  /** Resumes the sends the journal shows unfinished (a crash, or a restart that checkpointed them); how many. */
  resumeSends(): Promise<number>;
  /**
   * Health NOT_SERVING for good, no new sends; ON_DISCONNECT_CONTINUE sends
   * stop after their call in flight and stay in the journal for the next
   * process; the others get graceMs, then are cancelled; every open stream
   * ends with UNAVAILABLE. Idempotent.
   * Ports and the runtime belong to whoever opened them: close those after.
   */
  drain(): Promise<void>;
}

/** Runs `work` every half lease TTL, never twice at once; unref'd, so it holds no process open. */
function everyHalfLease(ttlMs: number, work: () => Promise<unknown>, logger: Logger): { stop(): void } {
  let running = false;
  const timer = setInterval(
    () => {
      if (running) return;
      running = true;
      work()
        .catch((error: unknown) => logger.warn({ err: error }, 'resuming sends of sessions taken over failed'))
        .finally(() => {
          running = false;
        });
    },
    Math.max(250, Math.floor(ttlMs / 2)),
  );
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

function claimsOf(ownership: SessionOwnership) {
  return {
    claim: async (sessionId: string) => (await ownership.claim(sessionId)) !== undefined,
    fence: (sessionId: string) => ownership.fence(sessionId),
  };
}

export function createStorycastHandler(deps: HandlerDeps): StorycastHandler {
  const { runtime, logger, graceMs } = deps;
  const health = new HealthStatus(SERVED_SERVICES);
  const sends = new RunningSends();
  const shutdown = new AbortController();
  // Every call in flight listens to it (connect wires it into each handler's signal).
  setMaxListeners(0, shutdown.signal);
  const routerOptions: ConnectRouterOptions = {
    interceptors: [requestContext(logger)],
    readMaxBytes: READ_MAX_BYTES,
    writeMaxBytes: WRITE_MAX_BYTES,
    shutdownSignal: shutdown.signal,
  };
  const registry = new SendRegistry({
    engine: runtime.engine,
    strategyNamed: (name) => runtime.strategies.get(name),
    store: runtime.sendStore,
    clock: deps.sendClock ?? systemClock,
    retentionMs: runtime.config.server.sendRetentionMs,
    tracker: sends,
    logger,
    // A send an experiment chose the strategy for counts for its arm once it has ended.
    ...(runtime.ownership ? { ownership: claimsOf(runtime.ownership) } : {}),
    onEnd: async ({ record, events }) => {
      const outcome = outcomeOf({ sendId: record.sendId, sessionId: record.sessionId, events, at: record.finishedAt ?? record.updatedAt });
      if (outcome) await runtime.experiments.record(outcome);
    },
  });
  // A lost lease stops the session's sends here at once; the new owner resumes them from the journal.
  runtime.ownership?.whenLost((sessionId) => registry.suspendSession(sessionId));
  runtime.ownership?.start();
  // Failover: a dead replica's leases expire after the TTL; whoever claims a session then resumes its sends.
  const failover = runtime.ownership ? everyHalfLease(runtime.config.server.leaseTtlMs, () => registry.resumeAll(), logger) : undefined;
  const serviceRoutes = routes({ runtime, health, sends, registry, clock: deps.sendClock ?? systemClock });

  let draining: Promise<void> | undefined;
  const drain = () =>
    (draining ??= (async () => {
      health.shutdown();
      // Sends that outlive their callers are left in the journal for the next process rather than cancelled.
      const checkpointed = registry.suspendContinuing();
      logger.info({ running: sends.size, checkpointed, graceMs }, 'draining');
      logger.info(await sends.drain(graceMs), 'sends drained');
      // Handed over at once rather than left to expire: another replica takes the sessions now.
      failover?.stop();
      await runtime.ownership?.stop();
      registry.close();
      // Ends what is still open (health Watch streams) with a code clients retry elsewhere on.
      shutdown.abort(new ConnectError('server shutting down', Code.Unavailable));
    })());

  return {
    handler: connectNodeAdapter({ ...routerOptions, routes: serviceRoutes }),
    routes: serviceRoutes,
    routerOptions,
    health,
    sends,
    registry,
    resumeSends: () => registry.resumeAll(),
    drain,
  };
}
