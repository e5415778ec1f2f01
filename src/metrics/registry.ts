/**
 * Every metric family storycast exports, in a registry of its own rather than
 * prom-client's global one: several servers in one process (the tests) each
 * get theirs, and nothing another library registers globally leaks into
 * /metrics. The RPC families keep go-grpc-prometheus's names and labels, so
 * existing gRPC dashboards and alerts work unchanged.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { storeErrorCounts } from '../store/throttled-errors.js';
import type { SessionInfo, SessionStateName } from '../transport/sessions.js';

/** What the scrape-time gauges read; each is called on every scrape, so it must be cheap and must not block. */
interface MetricSources {
  /** Sends running in this process (the handler's `sends.size`). */
  readonly sendsInFlight?: () => number;
  /** Every session this process knows (the runtime's `sessions.list()`). */
  readonly sessions?: () => readonly SessionInfo[];
}

export interface Metrics {
  readonly registry: Registry;
  readonly rpc: {
    readonly started: Counter<RpcLabel>;
    readonly handled: Counter<RpcLabel | 'grpc_code'>;
    readonly handlingSeconds: Histogram<RpcLabel>;
    readonly msgReceived: Counter<RpcLabel>;
    readonly msgSent: Counter<RpcLabel>;
  };
  readonly sends: {
    readonly batches: Counter<'strategy' | 'outcome' | 'code'>;
    readonly batchSize: Histogram<'strategy'>;
    readonly batchDurationSeconds: Histogram<'strategy'>;
    readonly recipients: Counter<'outcome'>;
    readonly sends: Counter<'strategy' | 'outcome'>;
    readonly sendDurationSeconds: Histogram<'strategy'>;
    readonly experimentSends: Counter<'experiment' | 'arm' | 'outcome'>;
    readonly experimentRecipients: Counter<'experiment' | 'arm' | 'outcome'>;
  };
  /**
   * Points the scrape-time gauges at what they report. Separate from
   * createMetrics because the in-flight count lives in the handler, which is
   * built with this registry's interceptor and observer. Later calls replace
   * the sources they name.
   */
  watch(sources: MetricSources): void;
}

type RpcLabel = 'grpc_type' | 'grpc_service' | 'grpc_method';
const RPC_LABELS: RpcLabel[] = ['grpc_type', 'grpc_service', 'grpc_method'];

/**
 * Prometheus' default buckets (what go-grpc-prometheus uses) for unary calls,
 * extended because SendStory and WatchSend streams last as long as a send.
 */
const RPC_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];
/** A call carries 1 to 10,000 recipients: roughly 1-2-5 steps. */
const BATCH_SIZES = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000];
/** One WhatsApp call: from a fast ack (~50 ms) to the batch timeout and beyond. */
const BATCH_SECONDS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120];
/** A whole send: a single call to hours for a large list on a slow account. */
const SEND_SECONDS = [1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200];

/** Exhaustive by type: a new session state fails to compile here rather than vanishing from the gauge. */
const SESSION_STATES = Object.keys({
  connecting: true,
  pairing: true,
  open: true,
  closed: true,
  'logged-out': true,
  replaced: true,
  forbidden: true,
  banned: true,
  failed: true,
  unpaired: true,
} satisfies Record<SessionStateName, true>) as SessionStateName[];

/**
 * The stores that log through throttledErrorLogger, by kind. Anything else is
 * "other": a label value must never carry something variable, whatever a
 * future caller puts in its message.
 */
const STORE_KINDS = new Set(['session memory store', 'send store', 'experiment store', 'replicas']);

export function createMetrics(): Metrics {
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry });
  let sources: MetricSources = {};

  const rpc = {
    started: new Counter({
      name: 'grpc_server_started_total',
      help: 'Total number of RPCs started on the server.',
      labelNames: RPC_LABELS,
      registers,
    }),
    handled: new Counter({
      name: 'grpc_server_handled_total',
      help: 'Total number of RPCs completed on the server, regardless of success or failure.',
      labelNames: [...RPC_LABELS, 'grpc_code'],
      registers,
    }),
    handlingSeconds: new Histogram({
      name: 'grpc_server_handling_seconds',
      help: 'Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.',
      labelNames: RPC_LABELS,
      buckets: RPC_SECONDS,
      registers,
    }),
    msgReceived: new Counter({
      name: 'grpc_server_msg_received_total',
      help: 'Total number of RPC stream messages received on the server.',
      labelNames: RPC_LABELS,
      registers,
    }),
    msgSent: new Counter({
      name: 'grpc_server_msg_sent_total',
      help: 'Total number of gRPC stream messages sent by the server.',
      labelNames: RPC_LABELS,
      registers,
    }),
  };

  const sends = {
    batches: new Counter({
      name: 'storycast_batches_total',
      help: 'Transport calls after the anchor, by strategy, outcome (ok, failed, late: given up on, then acknowledged) and transport error code.',
      labelNames: ['strategy', 'outcome', 'code'] as const,
      registers,
    }),
    batchSize: new Histogram({
      name: 'storycast_batch_size',
      help: 'Recipients per transport call after the anchor, by strategy.',
      labelNames: ['strategy'] as const,
      buckets: BATCH_SIZES,
      registers,
    }),
    batchDurationSeconds: new Histogram({
      name: 'storycast_batch_duration_seconds',
      help: 'Duration of each transport call after the anchor, by strategy.',
      labelNames: ['strategy'] as const,
      buckets: BATCH_SECONDS,
      registers,
    }),
    recipients: new Counter({
      name: 'storycast_recipients_total',
      help: 'Recipients of the sends that ended in this process, delivered or failed.',
      labelNames: ['outcome'] as const,
      registers,
    }),
    sends: new Counter({
      name: 'storycast_sends_total',
      help: 'Sends that ended in this process, by strategy and outcome (delivered, partial, stopped, cancelled).',
      labelNames: ['strategy', 'outcome'] as const,
      registers,
    }),
    sendDurationSeconds: new Histogram({
      name: 'storycast_send_duration_seconds',
      help: 'Duration of the sends that ended in this process, by strategy.',
      labelNames: ['strategy'] as const,
      buckets: SEND_SECONDS,
      registers,
    }),
    experimentSends: new Counter({
      name: 'storycast_experiment_sends_total',
      help: 'Sends an experiment chose the strategy for that ended in this process, by experiment, arm and outcome.',
      labelNames: ['experiment', 'arm', 'outcome'] as const,
      registers,
    }),
    experimentRecipients: new Counter({
      name: 'storycast_experiment_recipients_total',
      help: 'Recipients of those sends, by experiment, arm and outcome (delivered, failed).',
      labelNames: ['experiment', 'arm', 'outcome'] as const,
      registers,
    }),
  };

  new Gauge({
    name: 'storycast_sends_in_flight',
    help: 'Sends running in this process.',
    registers,
    collect() {
      this.set(safely(() => sources.sendsInFlight?.(), 0) ?? 0);
    },
  });

  const sessions = new Gauge({
    name: 'storycast_sessions',
    help: 'Sessions this process knows, by state.',
    labelNames: ['state'] as const,
    registers,
    collect() {
      const list = safely(() => sources.sessions?.(), undefined);
      sessions.reset();
      if (!list) return;
      // Every state, zeros included: a state emptying shows as 0, not as a series that stops.
      const counts = new Map<string, number>(SESSION_STATES.map((s) => [s, 0]));
      for (const { state } of list) {
        const key = counts.has(state) ? state : 'other';
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      for (const [state, n] of counts) sessions.set({ state }, n);
    },
  });

  const storeErrors = new Counter({
    name: 'storycast_store_errors_total',
    help: 'Store errors this process has seen (logged or throttled), by store.',
    labelNames: ['store'] as const,
    registers,
    collect() {
      const byStore = new Map<string, number>();
      for (const [kind, n] of storeErrorCounts()) {
        const store = STORE_KINDS.has(kind) ? kind : 'other';
        byStore.set(store, (byStore.get(store) ?? 0) + n);
      }
      storeErrors.reset();
      for (const [store, n] of byStore) storeErrors.inc({ store }, n);
    },
  });

  return {
    registry,
    rpc,
    sends,
    watch(more) {
      sources = { ...sources, ...more };
    },
  };
}

/** A scrape must not fail because a source did (a runtime closing under it): the gauge shows the fallback. */
function safely<T, F>(read: () => T, fallback: F): T | F {
  try {
    return read();
  } catch {
    return fallback;
  }
}
