/**
 * What running storycast in production adds around the handler, each part
 * from its own setting and absent when it is off: Prometheus metrics
 * (STORYCAST_METRICS_PORT), OpenTelemetry traces (OTEL_EXPORTER_OTLP_ENDPOINT),
 * API keys (STORYCAST_API_KEYS) and client certificates
 * (STORYCAST_TLS_CLIENT_CA). main.ts builds them before the runtime, so a bad
 * keys file stops start-up before anything connects.
 */
import type { ContextValues, Interceptor } from '@connectrpc/connect';
import { clientCaOptions, clientCertificateValues, type ClientCaOptions } from '../auth/client-cert.js';
import { apiKeyAuth } from '../auth/interceptor.js';
import { ApiKeys } from '../auth/keys.js';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { createMetrics, type MetricsEndpoint, rpcMetrics, sendMetrics, serveMetrics } from '../metrics/index.js';
import type { Runtime } from '../runtime.js';
import type { SendObserver } from '../sends/registry-types.js';
import { createTracing } from '../tracing/index.js';
import { bindLogFields } from './context.js';
import type { InterceptorParts, StorycastHandler } from './handler.js';
import type { RequestHandler } from './listen.js';

export interface Operations {
  /** Metrics first and traces next, so calls that auth refuses are still counted and traced. */
  interceptors(parts: InterceptorParts): readonly Interceptor[];
  readonly observe: SendObserver;
  /** For the TLS listener: client certificates verified against this CA. */
  readonly clientCa: ClientCaOptions | undefined;
  /** What each request carries into its handler: the verified client certificate. */
  readonly contextValues: ((req: Parameters<RequestHandler>[0]) => ContextValues) | undefined;
  /** Once the handler exists: the scrape reads it, and /metrics opens. */
  start(app: StorycastHandler, runtime: Runtime): Promise<void>;
  /** After the drain: the last spans exported, /metrics closed. */
  close(): Promise<void>;
  /** What the start-up log says is on. */
  readonly summary: Record<string, unknown>;
}

export async function operations(config: Config, logger: Logger): Promise<Operations> {
  const s = config.server;
  const keys = s.apiKeysFile ? ApiKeys.load(s.apiKeysFile) : undefined;
  const clientCa = s.tlsClientCa ? clientCaOptions(s.tlsClientCa, { apiKeys: keys !== undefined }) : undefined;
  const metrics = createMetrics();
  const tracing = await createTracing(process.env, { logger });
  const observeMetrics = sendMetrics(metrics);
  let endpoint: MetricsEndpoint | undefined;
  return {
    interceptors: ({ registry, schedules }) => {
      tracing?.follow(registry);
      return [
        rpcMetrics(metrics),
        ...(tracing ? [tracing.interceptor()] : []),
        ...(keys
          ? [
              apiKeyAuth({
                keys,
                registry,
                schedules,
                authReflection: s.authReflection,
                onAuthenticated: (values, who) => bindLogFields(values, { tenant: who.tenant, key: who.label }),
              }),
            ]
          : []),
      ];
    },
    observe: tracing
      ? (send, event) => {
          observeMetrics(send, event);
          tracing.observe(send, event);
        }
      : observeMetrics,
    clientCa,
    contextValues: clientCa ? clientCertificateValues : undefined,
    async start(app, runtime) {
      metrics.watch({ sendsInFlight: () => app.sends.size, sessions: () => runtime.sessions.list() });
      if (s.metricsPort === 0) return;
      endpoint = await serveMetrics(metrics, { host: s.host, port: s.metricsPort }).catch((error: NodeJS.ErrnoException) => {
        // Only the default port gives way: several servers on one machine (replicas, a second
        // checkout) would otherwise need a setting each just to start.
        if (error.code !== 'EADDRINUSE' || process.env['STORYCAST_METRICS_PORT'] !== undefined) throw error;
        logger.warn({ port: s.metricsPort }, 'the default metrics port is taken: no /metrics here (set STORYCAST_METRICS_PORT)');
        return undefined;
      });
      if (endpoint) logger.info({ url: endpoint.url }, 'metrics listening');
    },
    async close() {
      await tracing?.shutdown();
      await endpoint?.close();
    },
    summary: { apiKeys: keys !== undefined, clientCertificates: clientCa !== undefined, tracing: tracing !== undefined },
  };
}
