/** Any connect-node routes on a real HTTP/2 cleartext port (h2c, 127.0.0.1, port 0), listened by the server's own listen(). */
import { Code, ConnectError, type ConnectRouter } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { listen } from '../../src/server/listen.js';

export interface H2TestServer {
  readonly port: number;
  /** "127.0.0.1:PORT", as gRPC clients and grpcurl take it. */
  readonly address: string;
  /** "http://127.0.0.1:PORT", as connect-node clients take it. */
  readonly url: string;
  /** Aborts every handler's signal (ends open streams), then closes all sessions and the server; idempotent. */
  close(): Promise<void>;
}

export type Protocol = 'grpc' | 'grpcWeb' | 'connect';

/** Serves `protocols` only (gRPC by default): a test then proves what a gRPC client can do with nothing else on offer. */
export async function startH2Server(
  routes: (router: ConnectRouter) => void,
  protocols: readonly Protocol[] = ['grpc'],
): Promise<H2TestServer> {
  // Without this, an open server stream (a Watch nobody cancelled) would keep close() waiting.
  const shutdown = new AbortController();
  const handler = connectNodeAdapter({
    routes,
    grpc: protocols.includes('grpc'),
    grpcWeb: protocols.includes('grpcWeb'),
    connect: protocols.includes('connect'),
    shutdownSignal: shutdown.signal,
  });
  const listener = await listen(handler, { host: '127.0.0.1', port: 0 });
  let closing: Promise<void> | undefined;
  return {
    port: listener.port,
    address: listener.address,
    url: listener.url,
    close: () =>
      (closing ??= (async () => {
        shutdown.abort(new ConnectError('server shutting down', Code.Unavailable));
        await listener.close();
      })()),
  };
}
