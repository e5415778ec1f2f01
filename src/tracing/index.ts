/**
 * OpenTelemetry traces, on only when an OTLP endpoint is configured: a span
 * per RPC, a span per send with a child per transport call, exported over
 * OTLP/HTTP (protobuf). Off, createTracing returns undefined before anything
 * of OpenTelemetry is loaded, so the server installs no interceptor and no
 * observer: tracing that is off costs nothing because nothing of it runs.
 * Only types are imported here; the SDK comes in through sdk.ts, imported
 * when tracing is on.
 */
import type { Interceptor } from '@connectrpc/connect';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { Logger } from '../log.js';
import type { SendRegistry } from '../sends/registry.js';
import type { SendObserver } from '../sends/registry-types.js';

export interface Tracing {
  /** The server span of each call; for HandlerDeps.interceptors. */
  interceptor(): Interceptor;
  /** Send and batch spans; for HandlerDeps.observe. */
  readonly observe: SendObserver;
  /**
   * Ends the span of a send that stops without a summary (it failed, or was
   * suspended for a restart or a failover), which the observer alone is never
   * told of. Call it with the handler's registry before sends start.
   */
  follow(sends: Pick<SendRegistry, 'watch'>): void;
  /** Exports what has ended so far. */
  flush(): Promise<void>;
  /**
   * Ends the send spans still open, exports everything and stops; call it
   * after the drain. Never rejects: spans the collector does not take are
   * logged as lost, and the stop goes on.
   */
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  /** service.name, unless OTEL_SERVICE_NAME says otherwise. Default 'storycast'. */
  readonly serviceName?: string;
  /** Where spans go instead of OTLP (tests: an InMemorySpanExporter); turns tracing on without an endpoint. */
  readonly exporter?: SpanExporter;
  /** Where the SDK's own warnings go (a collector that cannot be reached, spans dropped); none when absent. */
  readonly logger?: Logger;
}

type Env = Readonly<Record<string, string | undefined>>;

/** Tracing per the standard OTEL_* variables, or undefined when they leave it off. */
export async function createTracing(env: Env = process.env, options: TracingOptions = {}): Promise<Tracing | undefined> {
  if (isTrue(env['OTEL_SDK_DISABLED']) || env['OTEL_TRACES_EXPORTER']?.trim().toLowerCase() === 'none') return undefined;
  const url = options.exporter ? undefined : tracesUrl(env);
  if (!options.exporter && !url) return undefined;
  const { startTracing } = await import('./sdk.js');
  return startTracing({
    serviceName: env['OTEL_SERVICE_NAME']?.trim() || options.serviceName || 'storycast',
    ...(options.exporter ? { exporter: options.exporter } : { url: url! }),
    ...(options.logger ? { logger: options.logger } : {}),
  });
}

/**
 * The OTLP traces URL: the signal's own endpoint as given, or the general
 * one with /v1/traces appended (as the OTLP exporter specification says).
 * Throws on what this exporter cannot send to, so a typo fails the start
 * rather than losing every span quietly.
 */
export function tracesUrl(env: Env): string | undefined {
  const own = env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']?.trim();
  const base = env['OTEL_EXPORTER_OTLP_ENDPOINT']?.trim();
  const url = own || (base ? `${base.replace(/\/+$/, '')}/v1/traces` : undefined);
  if (!url) return undefined;
  const protocol = (env['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'] || env['OTEL_EXPORTER_OTLP_PROTOCOL'] || 'http/protobuf').trim();
  if (protocol !== 'http/protobuf') {
    throw new Error(`OTEL_EXPORTER_OTLP_PROTOCOL=${protocol} is not supported: storycast exports traces as http/protobuf (port 4318)`);
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`the OTLP traces endpoint "${url}" is not a URL (e.g. http://collector:4318)`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new Error(`the OTLP traces endpoint "${url}" must be http:// or https://`);
  }
  return url;
}

function isTrue(value: string | undefined): boolean {
  return value?.trim().toLowerCase() === 'true';
}
