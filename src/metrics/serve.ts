/**
 * Prometheus' scrape endpoint on a port of its own: plain HTTP/1.1, apart from
 * the gRPC port and its TLS and auth, as scrapers expect.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Metrics } from './registry.js';

export interface MetricsEndpoint {
  /** http://host:port/metrics */
  readonly url: string;
  /** Stops listening and drops open connections (scrapers keep theirs alive); idempotent. */
  close(): Promise<void>;
}

/** GET /metrics, 404 anywhere else. Port 0 picks a free port (whether to serve at all is the caller's call). */
export async function serveMetrics(metrics: Metrics, where: { readonly host: string; readonly port: number }): Promise<MetricsEndpoint> {
  const { registry } = metrics;
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: try /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return;
    }
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': registry.contentType }).end(req.method === 'HEAD' ? undefined : text);
      },
      (error: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`metrics failed: ${String(error)}\n`);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(where.port, where.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = where.host.includes(':') ? `[${where.host}]` : where.host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}/metrics`,
    close: () =>
      (closing ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      })),
  };
}
