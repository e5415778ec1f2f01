/**
 * The storycast request handler: every service (routes.ts) with the request
 * context, message limits and drain wiring, and nothing about ports. listen.ts
 * puts it on a port; tests can put the same routes and options behind
 * createRouterTransport and call it in memory.
 */
import { setMaxListeners } from 'node:events';
import {
  Code,
  ConnectError,
  createRouterTransport,
  type ConnectRouter,
  type ConnectRouterOptions,
  type ContextValues,
  type Interceptor,
  type Transport,
} from '@connectrpc/connect';
import type { SendObserver } from '../sends/registry-types.js';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { systemClock, type Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { Runtime } from '../runtime.js';
import { requestContext } from './context.js';
import { HealthStatus } from './grpc-plugins/index.js';
import { routes, SERVED_SERVICES, sendRequestDepsOf } from './routes.js';
import { Scheduler } from '../schedules/scheduler.js';
import type { ScheduleStore } from '../schedules/store.js';
import { ScheduledSends } from '../schedules/pending-sends.js';
import { fireScheduled } from './schedule-fire.js';
import { SendRegistry } from '../sends/registry.js';
import { outcomeOf } from '../experiments/outcome.js';
import { joinReplicas } from './replica-group.js';
import { RunningSends } from './sends.js';
import { READ_MAX_BYTES, WRITE_MAX_BYTES } from './limits.js';
import { dropEndlessDeadlines } from './deadlines.js';
import type { RequestHandler } from './listen.js';

/** What interceptors may look calls up in: whose send, whose schedule. */
export interface InterceptorParts {
  readonly registry: SendRegistry;
  readonly schedules: ScheduleStore;
}

export interface HandlerDeps {
  readonly runtime: Runtime;
  readonly logger: Logger;
  /** How long running sends get on drain() before they are cancelled. */
  readonly graceMs: number;
  /** What send retention is measured on (default: real time, like session memory and receipts). */
  readonly sendClock?: Clock;
  /** Run on every call after the request context (auth, metrics, traces), given what they may need to look up. */
  readonly interceptors?: (parts: InterceptorParts) => readonly Interceptor[];
  /** Told of each event a send makes here (metrics, traces). */
  readonly observe?: SendObserver;
  /** What each request carries into its call from the connection (a verified client certificate). */
  readonly contextValues?: (req: Parameters<RequestHandler>[0]) => ContextValues;
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
  /** With replicas: announces where other replicas forward calls for this one's sessions (host:port or URL). */
  advertise(address: string): Promise<void>;
  /** Resumes the sends the journal shows unfinished (a crash, or a restart that checkpointed them); how many. */
  resumeSends(): Promise<number>;
  /** Starts firing schedules: those due while no server ran fire now, once each. After resumeSends. */
  startSchedules(): void;
  /**
   * Health NOT_SERVING for good, no new sends; ON_DISCONNECT_CONTINUE sends
   * stop after their call in flight and stay in the journal for the next
   * process; the others get graceMs, then are cancelled; every open stream
   * ends with UNAVAILABLE. Idempotent.
   * Ports and the runtime belong to whoever opened them: close those after.
   */
  drain(): Promise<void>;
}

export function createStorycastHandler(deps: HandlerDeps): StorycastHandler {
  const { runtime, logger, graceMs } = deps;
  const health = new HealthStatus(SERVED_SERVICES);
  const sends = new RunningSends();
  const shutdown = new AbortController();
  // Every call in flight listens to it (connect wires it into each handler's signal).
  setMaxListeners(0, shutdown.signal);
  let selfTransport: Transport | undefined;
  const stopping = new AbortController();
  const self = () => {
    if (!selfTransport) throw new Error('the handler is not built yet');
    return selfTransport;
  };
  const group = runtime.replicas
    ? joinReplicas({
        replicas: runtime.replicas,
        leaseTtlMs: runtime.config.server.leaseTtlMs,
        logger,
        self,
        stopping: stopping.signal,
        sessions: runtime.sessions,
      })
    : undefined;
  // Filled once the registry exists: the interceptors are read per call, never before a call arrives.
  const interceptors: Interceptor[] = [requestContext(logger)];
  const routerOptions: ConnectRouterOptions = {
    interceptors,
    readMaxBytes: READ_MAX_BYTES,
    writeMaxBytes: WRITE_MAX_BYTES,
    shutdownSignal: shutdown.signal,
  };
  const clock = deps.sendClock ?? systemClock;
  // The registry asks the scheduler about sends that have not started; the scheduler starts them through the registry.
  let registry: SendRegistry | undefined;
  const scheduler = new Scheduler({
    store: runtime.schedules,
    clock,
    logger,
    retentionMs: runtime.config.server.sendRetentionMs,
    cancelStarted: (sendId) => registry!.cancel(sendId),
    fire: fireScheduled({
      store: runtime.schedules,
      registry: { start: (request, mode) => registry!.start(request, mode) },
      requests: sendRequestDepsOf(runtime),
      logger,
    }),
  });
  registry = new SendRegistry({
    engine: runtime.engine,
    strategyNamed: (name) => runtime.strategies.get(name),
    store: runtime.sendStore,
    clock,
    retentionMs: runtime.config.server.sendRetentionMs,
    tracker: sends,
    pending: new ScheduledSends({ store: runtime.schedules, scheduler, clock }),
    logger,
    ...(group ? { ownership: group.claims } : {}),
    ...(deps.observe ? { observe: deps.observe } : {}),
    // A send an experiment chose the strategy for counts for its arm once it has ended.
    onEnd: async ({ record, events }) => {
      const outcome = outcomeOf({ sendId: record.sendId, sessionId: record.sessionId, events, at: record.finishedAt ?? record.updatedAt });
      if (outcome) await runtime.experiments.record(outcome);
    },
  });
  group?.start(registry);
  interceptors.push(...(deps.interceptors?.({ registry, schedules: runtime.schedules }) ?? []));
  const served = routes({ runtime, health, sends, registry, scheduler, clock });
  const serviceRoutes = group ? (router: ConnectRouter) => served(group.forwarding(router)) : served;
  // Following a send that moved goes through routing again, in memory.
  selfTransport = createRouterTransport(serviceRoutes, { router: routerOptions });

  let draining: Promise<void> | undefined;
  const drain = () =>
    (draining ??= (async () => {
      health.shutdown();
      stopping.abort();
      // Nothing new starts while the running sends drain; what falls due meanwhile fires at the next start.
      await scheduler.stop();
      // Out of the directory first: no new session is placed here while the sends drain.
      await group?.leave();
      // Sends that outlive their callers are left in the journal for the next process rather than cancelled.
      const checkpointed = registry.suspendContinuing();
      logger.info({ running: sends.size, checkpointed, graceMs }, 'draining');
      logger.info(await sends.drain(graceMs), 'sends drained');
      // Handed over at once rather than left to expire: another replica takes the sessions now.
      await group?.stop();
      registry.close();
      // Ends what is still open (health Watch streams) with a code clients retry elsewhere on.
      shutdown.abort(new ConnectError('server shutting down', Code.Unavailable));
    })());

  const adapter = connectNodeAdapter({
    ...routerOptions,
    routes: serviceRoutes,
    ...(deps.contextValues ? { contextValues: deps.contextValues as (req: unknown) => ContextValues } : {}),
  });
  return {
    handler: (req, res) => {
      dropEndlessDeadlines(req.headers);
      adapter(req, res);
    },
    routes: serviceRoutes,
    routerOptions,
    health,
    sends,
    registry,
    resumeSends: () => registry.resumeAll(),
    startSchedules: () => scheduler.start(),
    advertise: async (address) => group?.advertise(address),
    drain,
  };
}
