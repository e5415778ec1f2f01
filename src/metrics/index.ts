/**
 * Prometheus metrics for storycast (issue 18): a registry per server, an
 * interceptor for the RPC families, a send observer for storycast's own, and
 * the /metrics endpoint. Wiring: createMetrics, pass rpcMetrics and
 * sendMetrics to the handler, watch its sends and the runtime's sessions,
 * serveMetrics when a port is configured.
 */
export { createMetrics, type Metrics } from './registry.js';
export { rpcMetrics } from './rpc.js';
export { sendMetrics } from './sends.js';
export { serveMetrics, type MetricsEndpoint } from './serve.js';
