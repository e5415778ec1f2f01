/**
 * Puts a request handler on an HTTP/2 port: cleartext (h2c, what gRPC clients
 * dial without TLS) or TLS with HTTP/1.1 allowed (gRPC-Web and Connect from
 * browsers and curl). Knows nothing of what the handler serves.
 */
import { readFileSync } from 'node:fs';
import * as http2 from 'node:http2';
import type { AddressInfo, Server, Socket } from 'node:net';
import { SESSION_MEMORY_MB } from './limits.js';

/** Sessions and sockets still open this long after close() starts are cut. */
export const FORCE_CLOSE_MS = 5000;

export type RequestHandler = (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void;

export interface ListenOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** PEM files; without them the port speaks cleartext HTTP/2. clientCa: ask clients for a certificate it signed. */
  readonly tls?: {
    readonly certFile: string;
    readonly keyFile: string;
    readonly clientCa?: { readonly ca: Buffer; readonly requestCert: true; readonly rejectUnauthorized: boolean };
  };
  /** How long open sessions may finish their streams on close() before they are cut. */
  readonly forceCloseMs?: number;
}

export interface Listener {
  /** Base URL clients dial, e.g. http://127.0.0.1:50051 or https://[::1]:8443. */
  readonly url: string;
  /** The port bound (the one picked, when 0 was asked for). */
  readonly port: number;
  /** host:port, as grpc-js, grpcurl and grpc-health-probe take it. */
  readonly address: string;
  readonly tls: boolean;
  /** Stops accepting, lets open streams finish (GOAWAY), then cuts what is left; idempotent. */
  close(): Promise<void>;
}

/** Rejects with the listen error (EADDRINUSE, EACCES...) rather than emitting it. */
export async function listen(handler: RequestHandler, options: ListenOptions): Promise<Listener> {
  const tls = options.tls;
  const server = tls
    ? http2.createSecureServer(
        {
          cert: readFileSync(tls.certFile),
          key: readFileSync(tls.keyFile),
          allowHTTP1: true,
          maxSessionMemory: SESSION_MEMORY_MB,
          ...tls.clientCa,
        },
        handler,
      )
    : http2.createServer({ maxSessionMemory: SESSION_MEMORY_MB }, handler);
  // grpc-js keeps its session open until its client is closed: close() has to end sessions itself.
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  // A destroyed session can leave its socket open (a stream its peer stopped reading): cut those too.
  const sockets = trackSockets(server, tls ? 'secureConnection' : 'connection');
  const { port, host } = await bind(server, options.host, options.port);
  const forceCloseMs = options.forceCloseMs ?? FORCE_CLOSE_MS;

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const session of sessions) session.close();
      const timer = setTimeout(() => {
        for (const session of sessions) session.destroy();
        for (const socket of sockets) socket.destroy();
      }, forceCloseMs);
      await closed;
      clearTimeout(timer);
    })());

  return { url: `${tls ? 'https' : 'http'}://${host}:${port}`, port, address: `${host}:${port}`, tls: Boolean(tls), close };
}

/** The sockets a server holds open, so that close() can cut what is left after its grace. */
export function trackSockets(server: Server, event: 'connection' | 'secureConnection' = 'connection'): Set<Socket> {
  const sockets = new Set<Socket>();
  server.on(event, (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return sockets;
}

/** Binds, rejecting with the listen error (EADDRINUSE, EACCES...) rather than emitting it: the port bound, and the host as a URL spells it. */
export async function bind(server: Server, host: string, port: number): Promise<{ port: number; host: string }> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return { port: (server.address() as AddressInfo).port, host: host.includes(':') ? `[${host}]` : host };
}
