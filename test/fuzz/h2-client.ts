/**
 * HTTP/2 requests with nothing in between: node:http2 sends whatever headers
 * and bytes it is given, so invalid encodings and broken frames reach the
 * server as they are, and the answer comes back as it was (headers, body,
 * trailers, or the reset that replaced them).
 */
import * as http2 from 'node:http2';

export interface RawAnswer {
  /** Response headers; undefined when the stream ended without any. */
  readonly headers: http2.IncomingHttpHeaders | undefined;
  readonly trailers: http2.IncomingHttpHeaders | undefined;
  readonly body: Buffer;
  /** The RST_STREAM code the stream closed with (0: closed cleanly). */
  readonly rstCode: number | undefined;
  /** A stream or session error, in words. */
  readonly error: string | undefined;
  /** The client gave up waiting and cancelled the stream. */
  readonly timedOut: boolean;
}

export interface ExchangeOptions {
  readonly timeoutMs: number;
  /** Leave the request stream open after the body (half-closed from neither side). */
  readonly keepOpen?: boolean;
}

/** A few client sessions to one server, replaced when one closes (a GOAWAY, a reset connection). */
export class H2Pool {
  private readonly sessions: http2.ClientHttp2Session[] = [];
  private next = 0;

  constructor(
    private readonly url: string,
    private readonly size: number,
  ) {}

  session(): http2.ClientHttp2Session {
    const i = this.next++ % this.size;
    const current = this.sessions[i];
    if (current && !current.closed && !current.destroyed) return current;
    const fresh = connect(this.url);
    this.sessions[i] = fresh;
    return fresh;
  }

  async close(): Promise<void> {
    await Promise.all(this.sessions.map((s) => closeSession(s)));
    this.sessions.length = 0;
  }
}

export function connect(url: string): http2.ClientHttp2Session {
  // node's default (10 MB) is the client's own limit: one 16 MiB body over it and the session refuses
  // every later stream with ENHANCE_YOUR_CALM, which would read as the server's failure.
  const session = http2.connect(url, { maxSessionMemory: 1024 });
  // Errors surface on each stream; unlistened, a session error would be thrown out of the event loop.
  session.on('error', () => {});
  return session;
}

export function closeSession(session: http2.ClientHttp2Session): Promise<void> {
  if (session.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      session.destroy();
      resolve();
    }, 2000);
    session.close(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

export function exchange(
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  body: Uint8Array | undefined,
  options: ExchangeOptions,
): Promise<RawAnswer> {
  return new Promise((resolve) => {
    let responseHeaders: http2.IncomingHttpHeaders | undefined;
    let trailers: http2.IncomingHttpHeaders | undefined;
    let error: string | undefined;
    let timedOut = false;
    const chunks: Buffer[] = [];
    let stream: http2.ClientHttp2Stream;
    try {
      stream = session.request(headers, { endStream: body === undefined && !options.keepOpen });
    } catch (e) {
      resolve({ headers: undefined, trailers: undefined, body: Buffer.alloc(0), rstCode: undefined, error: String(e), timedOut: false });
      return;
    }
    const timer = setTimeout(() => {
      timedOut = true;
      stream.close(http2.constants.NGHTTP2_CANCEL);
    }, options.timeoutMs);
    stream.on('response', (h) => {
      responseHeaders = h;
    });
    stream.on('trailers', (t) => {
      trailers = t;
    });
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    // The answer is complete, but a server that stopped reading (a body over its limit) leaves the upload
    // waiting on flow control: cancel it, as gRPC clients do once they have the status.
    stream.once('end', () => setTimeout(() => stream.close(http2.constants.NGHTTP2_CANCEL), 100).unref());
    stream.on('error', (e: Error) => {
      error ??= e.message;
    });
    stream.on('close', () => {
      clearTimeout(timer);
      resolve({ headers: responseHeaders, trailers, body: Buffer.concat(chunks), rstCode: stream.rstCode, error, timedOut });
    });
    if (body !== undefined) {
      if (options.keepOpen) stream.write(body);
      else stream.end(body);
    }
  });
}
