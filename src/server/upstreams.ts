/**
 * gRPC transports to the other replicas, one HTTP/2 connection each, made on
 * first use and kept: a forwarded call should cost one stream, not a handshake.
 */
import type { Transport } from '@connectrpc/connect';
import { createGrpcTransport, Http2SessionManager } from '@connectrpc/connect-node';
import { READ_MAX_BYTES, WRITE_MAX_BYTES } from './limits.js';

export class Upstreams {
  private readonly open = new Map<string, { transport: Transport; manager: Http2SessionManager }>();

  /** `address`: host:port (cleartext HTTP/2, like a replica's own port without TLS) or a full http(s) URL. */
  transport(address: string): Transport {
    const baseUrl = /^https?:\/\//.test(address) ? address : `http://${address}`;
    let upstream = this.open.get(baseUrl);
    if (!upstream) {
      // Pings keep an idle connection through NATs and find a dead peer before the next call does.
      const manager = new Http2SessionManager(baseUrl);
      const transport = createGrpcTransport({
        baseUrl,
        sessionManager: manager,
        // Forwarded as they came: the limits are the receiving replica's, the same as ours.
        readMaxBytes: WRITE_MAX_BYTES,
        writeMaxBytes: READ_MAX_BYTES,
      });
      upstream = { transport, manager };
      this.open.set(baseUrl, upstream);
    }
    return upstream.transport;
  }

  close(): void {
    for (const { manager } of this.open.values()) manager.abort();
    this.open.clear();
  }
}
