/** A real HTTP/2 cleartext server (h2c) on 127.0.0.1, port 0, serving connect-node routes. */
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { Code, ConnectError, type ConnectRouter } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';

export interface H2TestServer {
  readonly port: number;
  /** "127.0.0.1:PORT", as gRPC clients and grpcurl take it. */
  readonly address: string;
  /** Aborts every handler's signal (ends open streams), then closes all sessions and the server; idempotent. */
  close(): Promise<void>;
}

export async function startH2Server(routes: (router: ConnectRouter) => void): Promise<H2TestServer> {
  // Without this, an open server stream (a Watch nobody cancelled) would keep close() waiting forever.
  const shutdown = new AbortController();
  const handler = connectNodeAdapter({
    routes,
    grpc: true,
    grpcWeb: false,
    connect: false,
    shutdownSignal: shutdown.signal,
  });
  const server = http2.createServer(handler);
  // grpc-js keeps its session open until the client is closed; track sessions so close() can end them.
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    port,
    address: `127.0.0.1:${port}`,
    close: () =>
      (closing ??= new Promise<void>((resolve, reject) => {
        shutdown.abort(new ConnectError('server shutting down', Code.Unavailable));
        server.close((err) => (err ? reject(err) : resolve()));
        for (const session of sessions) session.close();
      })),
  };
}
