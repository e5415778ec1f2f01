/**
 * The standard gRPC health service (grpc.health.v1) for connect-node, so load
 * balancers, Kubernetes probes and grpc_health_probe can ask whether the server
 * (service "") or one service takes requests. Generic: it knows nothing of the
 * server it runs in, only a status source (HealthStatus, or your own).
 */
import { Code, ConnectError, type ConnectRouter, type HandlerContext } from '@connectrpc/connect';
import {
  file_grpc_health_v1_health,
  Health,
  HealthCheckResponse_ServingStatus as ServingStatus,
  type HealthCheckRequest,
} from '../../gen/grpc/health/v1/health_pb.js';

export { ServingStatus };

/** Fully qualified name of the health service, for reflection's service list. */
export const healthServiceName = Health.typeName;
/** The file that defines it, for reflection's descriptors. */
export const healthFile = file_grpc_health_v1_health;

export type HealthListener = (service: string, status: ServingStatus) => void;

/** What the health service reads: a status per service ("" = the whole server) and its changes. */
export interface HealthStatusSource {
  /** The status of a service, or undefined when the server does not know it (Check answers NOT_FOUND). */
  get(service: string): ServingStatus | undefined;
  /** Calls the listener on every change; returns the function that removes it. */
  onChange(listener: HealthListener): () => void;
}

/** A status as the enum or its proto name ("SERVING"), whichever reads better at the call site. */
export type ServingStatusInput = ServingStatus | keyof typeof ServingStatus;

function toStatus(status: ServingStatusInput): ServingStatus {
  return typeof status === 'number' ? status : ServingStatus[status];
}

/** The serving status of the whole server ("") and of each service it serves. */
export class HealthStatus implements HealthStatusSource {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly listeners = new Set<HealthListener>();
  private shutDown = false;

  constructor(services: Iterable<string>, initial: ServingStatusInput = ServingStatus.SERVING) {
    const status = toStatus(initial);
    this.statuses.set('', status);
    for (const service of services) this.statuses.set(service, status);
  }

  /** The status of a service, or undefined when the server does not know it. */
  get(service: string): ServingStatus | undefined {
    return this.statuses.get(service);
  }

  /** Sets (and, for a new name, registers) a service's status. Ignored after shutdown(). */
  set(service: string, status: ServingStatusInput): void {
    if (this.shutDown) return;
    this.update(service, toStatus(status));
  }

  /** Sets the server ("") and every registered service. Ignored after shutdown(). */
  setAll(status: ServingStatusInput): void {
    if (this.shutDown) return;
    for (const service of [...this.statuses.keys()]) this.update(service, toStatus(status));
  }

  /**
   * Marks everything NOT_SERVING for good: while the server drains, nothing may
   * flip a probe back to SERVING and attract new traffic.
   */
  shutdown(): void {
    if (this.shutDown) return;
    for (const service of [...this.statuses.keys()]) this.update(service, ServingStatus.NOT_SERVING);
    this.shutDown = true;
  }

  get isShutDown(): boolean {
    return this.shutDown;
  }

  /** Calls the listener on every status change; returns the function that removes it. */
  onChange(listener: HealthListener): () => void {
    // Wrapped so that subscribing the same function twice gives two independent subscriptions.
    const entry: HealthListener = (service, status) => listener(service, status);
    this.listeners.add(entry);
    return () => this.listeners.delete(entry);
  }

  /** How many change listeners are subscribed (one per open Watch); lets tests prove none leak. */
  get listenerCount(): number {
    return this.listeners.size;
  }

  private update(service: string, status: ServingStatus): void {
    if (this.statuses.get(service) === status) return;
    this.statuses.set(service, status);
    for (const listener of [...this.listeners]) listener(service, status);
  }
}

/**
 * A caller's service name as an error quotes it: grpc-message is a trailer,
 * and a 1 MiB name quoted whole is a header block HTTP/2 cannot send (node
 * then drops the connection, every call on it included).
 */
function shortened(name: string): string {
  if (name.length <= 200) return name;
  // Not ending on half a surrogate pair: encodeURIComponent, which percent-encodes grpc-message, throws on one.
  return `${name.slice(0, 200).replace(/[\ud800-\udbff]$/, '')}… (${name.length} characters)`;
}

/** Registers grpc.health.v1.Health (Check and Watch) on a connect router. */
export function healthRoutes(health: HealthStatusSource): (router: ConnectRouter) => void {
  return (router) => {
    router.service(Health, {
      check(req: HealthCheckRequest) {
        const status = health.get(req.service);
        if (status === undefined) {
          throw new ConnectError(`unknown service "${shortened(req.service)}"`, Code.NotFound);
        }
        return { status };
      },
      watch: (req: HealthCheckRequest, ctx: HandlerContext) => watchStatus(health, req.service, ctx.signal),
    });
  };
}

/**
 * The current status, then each change, until the signal aborts (client cancelled,
 * deadline, or server shutdown via connect's shutdownSignal). Only the latest status is kept while the client
 * is slow to read, as the protocol allows: a watcher needs the current state, not history.
 */
async function* watchStatus(health: HealthStatusSource, service: string, signal: AbortSignal): AsyncGenerator<{ status: ServingStatus }> {
  let pending: ServingStatus | undefined;
  let wake: (() => void) | undefined;
  const unsubscribe = health.onChange((changed, status) => {
    if (changed !== service) return;
    pending = status;
    wake?.();
  });
  const onAbort = () => wake?.();
  signal.addEventListener('abort', onAbort);
  try {
    let last = health.get(service) ?? ServingStatus.SERVICE_UNKNOWN;
    yield { status: last };
    while (!signal.aborted) {
      if (pending === undefined) {
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
        continue;
      }
      const next = pending;
      pending = undefined;
      if (next !== last) {
        last = next;
        yield { status: next };
      }
    }
    // Ending with the abort's reason tells the client why: its deadline, or the server draining.
    throw ConnectError.from(signal.reason);
  } finally {
    unsubscribe();
    signal.removeEventListener('abort', onAbort);
  }
}
