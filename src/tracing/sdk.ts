/**
 * The OpenTelemetry SDK behind Tracing: imported by index.ts only when
 * tracing is on. Spans go through a BatchSpanProcessor (sizes and delays from
 * OTEL_BSP_*, the sampler from OTEL_TRACES_SAMPLER: the SDK reads those from
 * process.env itself) to the OTLP/HTTP exporter, or to an injected exporter.
 */
import { context, diag, DiagLogLevel, type DiagLogger } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { Logger } from '../log.js';
import type { Tracing } from './index.js';
import { rpcSpans } from './rpc-span.js';
import { sendSpans } from './send-spans.js';

const SCOPE = 'storycast';

export function startTracing(options: { serviceName: string; logger?: Logger } & ({ exporter: SpanExporter } | { url: string })): Tracing {
  const log = options.logger?.child({ component: 'tracing' });
  // Export failures reach nobody but the SDK's diag logger: without this, a collector that is down loses every span silently.
  if (log) diag.setLogger(diagTo(log), DiagLogLevel.WARN);
  const exporter = 'exporter' in options ? options.exporter : new OTLPTraceExporter({ url: options.url });
  const provider = new BasicTracerProvider({
    // OTEL_RESOURCE_ATTRIBUTES (deployment.environment=...) too; the name was settled by createTracing.
    resource: detectResources({ detectors: [envDetector] }).merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: options.serviceName })),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  // The send span's parent is whatever call is active when the send is planned: that needs a context that follows awaits.
  // Another one already registered (someone else's SDK) serves as well, and stays theirs.
  const contextManager = new AsyncLocalStorageContextManager();
  const ownsContext = context.setGlobalContextManager(contextManager.enable());
  if (!ownsContext) contextManager.disable();
  const tracer = provider.getTracer(SCOPE);
  const sends = sendSpans(tracer);
  // Always W3C, whatever the global propagator is: that is what the callers are told to send.
  const propagator = new W3CTraceContextPropagator();
  let stopped: Promise<void> | undefined;
  return {
    interceptor: () => rpcSpans(tracer, propagator),
    observe: sends.observe,
    follow: sends.follow,
    flush: () => provider.forceFlush(),
    shutdown: () =>
      (stopped ??= (async () => {
        sends.endAll();
        try {
          await provider.shutdown();
        } catch (error) {
          // Traces are worth a warning, not a failed stop.
          log?.warn({ err: error }, 'traces could not be exported on shutdown; they are lost');
        } finally {
          if (ownsContext) context.disable();
          if (log) diag.disable();
        }
      })()),
  };
}

function diagTo(log: Logger): DiagLogger {
  const to =
    (level: 'warn' | 'error') =>
    (message: string, ...args: unknown[]) => {
      const err = args.find((arg) => arg instanceof Error);
      log[level](err ? { err } : {}, `opentelemetry: ${message}`);
    };
  const ignore = () => {};
  return { error: to('error'), warn: to('warn'), info: ignore, debug: ignore, verbose: ignore };
}
