/**
 * The storycast server: one HTTP/2 port (cleartext, or TLS when a key and
 * certificate are configured) serving gRPC, gRPC-Web and the Connect protocol
 * at once, with health, reflection and a graceful shutdown.
 */
import { setMaxListeners } from 'node:events';
import { readFileSync } from 'node:fs';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { Code, ConnectError } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import type { Logger } from '../log.js';
import type { Runtime } from '../runtime.js';
import { requestContext } from './context.js';
import { HealthStatus } from './health.js';
import { routes, SERVED_SERVICES } from './routes.js';
import { RunningSends } from './sends.js';

/** Large enough for 100,000 recipients per request and a summary that lists them all as failed. */
export const READ_MAX_BYTES = 16 * 1024 * 1024;
export const WRITE_MAX_BYTES = 64 * 1024 * 1024;
/** HTTP/2 sessions still open this long after the drain are cut. */
const SESSION_CLOSE_MS = 5000;

export interface ServerOptions {
  readonly host: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
  /** How long running sends get on shutdown before they are cancelled. */
  readonly graceMs: number;
  readonly logger: Logger;
}

export interface StorycastServer {
  /** Base URL clients dial, e.g. http://127.0.0.1:50051. */
  readonly url: string;
  readonly port: number;
  readonly health: HealthStatus;
  readonly sends: RunningSends;
  /** Drains and stops: health NOT_SERVING, no new sends, grace for running ones, then cancel; closes the store. */
  close(): Promise<void>;
}

export async function startServer(runtime: Runtime, options: ServerOptions): Promise<StorycastServer> {
  const { logger } = options;
  const health = new HealthStatus(SERVED_SERVICES);
  const sends = new RunningSends();
  const shutdown = new AbortController();
  // Every call in flight listens to it (connect wires it into each handler's signal).
  setMaxListeners(0, shutdown.signal);
  const handler = connectNodeAdapter({
    routes: routes({ runtime, health, sends }),
    interceptors: [requestContext(logger)],
    readMaxBytes: READ_MAX_BYTES,
    writeMaxBytes: WRITE_MAX_BYTES,
    shutdownSignal: shutdown.signal,
  });
  const server = options.tls
    ? http2.createSecureServer({ cert: readFileSync(options.tls.certFile), key: readFileSync(options.tls.keyFile), allowHTTP1: true }, handler)
    : http2.createServer(handler);
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  const url = `${options.tls ? 'https' : 'http'}://${host}:${port}`;
  health.setAll('SERVING');
  logger.info({ url, tls: Boolean(options.tls) }, 'storycast listening');

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      health.shutdown();
      logger.info({ running: sends.size, graceMs: options.graceMs }, 'draining');
      const drained = await sends.drain(options.graceMs);
      logger.info(drained, 'sends drained');
      // Ends what is still open (health Watch streams) with a code clients retry elsewhere on.
      shutdown.abort(new ConnectError('server shutting down', Code.Unavailable));
      await closeHttp2(server, sessions);
      await runtime.close();
      logger.info('storycast stopped');
    })());

  return { url, port, health, sends, close };
}

/** Stops accepting connections, lets open streams finish (GOAWAY), then cuts whatever is left. */
async function closeHttp2(server: http2.Http2Server | http2.Http2SecureServer, sessions: Set<http2.ServerHttp2Session>): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  for (const session of sessions) session.close();
  const timer = setTimeout(() => {
    for (const session of sessions) session.destroy();
  }, SESSION_CLOSE_MS);
  await closed;
  clearTimeout(timer);
}
