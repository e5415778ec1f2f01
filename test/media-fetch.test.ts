/**
 * The guarded fetcher against a real HTTP server on 127.0.0.1. The production
 * policy refuses loopback, so these tests widen it by exactly that one address
 * (everything else is judged as in production) and play DNS with a fake
 * resolver; no request leaves this machine.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { MediaError } from '../src/media/errors.js';
import { fetchMedia, type FetchMediaOptions } from '../src/media/fetch-media.js';
import { isPublicAddress, type Resolver } from '../src/media/url-guard.js';
import { TransportError } from '../src/transport/port.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const routes = new Map<string, Handler>();
/** Per path: how the response ended, seen from the server. */
const ended = new Map<string, { finished: boolean; closed: boolean; bytes: number }>();
const requests: string[] = [];
let server: http.Server;
let base: string;
let port: number;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    requests.push(req.url ?? '');
    const handler = routes.get(new URL(req.url ?? '/', 'http://x').pathname);
    if (!handler) {
      res.writeHead(404).end();
      return;
    }
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function route(path: string, handler: Handler): string {
  routes.set(path, handler);
  return `${base}${path}`;
}

/** Writes `chunk` until the client goes away or `limit` chunks are out; records how it ended. */
function stream(path: string, chunk: Buffer, limit: number, opts: { contentLength?: number; stallAfter?: number } = {}): string {
  return route(path, (_req, res) => {
    const record = { finished: false, closed: false, bytes: 0 };
    ended.set(path, record);
    res.once('close', () => (record.closed = true));
    res.writeHead(200, { 'content-type': 'video/mp4', ...(opts.contentLength ? { 'content-length': String(opts.contentLength) } : {}) });
    let sent = 0;
    const pump = () => {
      while (sent < limit && !res.destroyed) {
        if (opts.stallAfter !== undefined && sent >= opts.stallAfter) return; // hangs: never ends the response
        sent++;
        record.bytes += chunk.length;
        if (!res.write(chunk)) {
          res.once('drain', pump);
          return;
        }
      }
      if (!res.destroyed && sent >= limit) res.end(() => (record.finished = true));
    };
    pump();
  });
}

/** Production's policy plus the test server's own address. */
const allowTestServer = (address: string) => address === '127.0.0.1' || isPublicAddress(address);

const dns: Resolver = async (host) => {
  const table: Record<string, string[]> = {
    'media.example': ['127.0.0.1'],
    'metadata.example': ['169.254.169.254'],
    'intranet.example': ['10.20.30.40'],
    'split.example': ['127.0.0.1', '192.168.1.1'],
  };
  return (table[host] ?? []).map((address) => ({ address, family: 4 as const }));
};

function opts(extra: Partial<FetchMediaOptions> = {}): FetchMediaOptions {
  return { field: 'story.image.url', maxBytes: 1024 * 1024, timeoutMs: 10_000, allowAddress: allowTestServer, resolve: dns, ...extra };
}

async function refusal(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.fail('expected the fetch to be refused'),
    (error: unknown) => error,
  );
}

describe('fetchMedia', () => {
  it('downloads the body with its content type', async () => {
    const url = route('/photo.png', (_req, res) =>
      res.writeHead(200, { 'content-type': 'image/png; charset=binary' }).end(Buffer.from('PNGDATA')),
    );
    const got = await fetchMedia(url, opts());
    expect(got.data.toString()).toBe('PNGDATA');
    expect(got.contentType).toBe('image/png');
    expect(got.url).toBe(url);
  });

  it('connects to the address its own resolver checked (the name never reaches the system DNS)', async () => {
    route('/named.jpg', (req, res) => res.writeHead(200).end(`host=${req.headers.host}`));
    const got = await fetchMedia(`http://media.example:${port}/named.jpg`, opts());
    expect(got.data.toString()).toBe(`host=media.example:${port}`);
  });

  it('follows relative and absolute redirects, a bounded number of times', async () => {
    route('/final.jpg', (_req, res) => res.writeHead(200).end('final'));
    route('/hop2', (_req, res) => res.writeHead(307, { location: `${base}/final.jpg` }).end());
    const url = route('/hop1', (_req, res) => res.writeHead(302, { location: '/hop2' }).end());
    const got = await fetchMedia(url, opts());
    expect(got.data.toString()).toBe('final');
    expect(got.url).toBe(`${base}/final.jpg`);
  });

  it('refuses more than the allowed number of redirects', async () => {
    const url = route('/loop', (_req, res) => res.writeHead(301, { location: '/loop' }).end());
    const error = await refusal(fetchMedia(url, opts({ maxRedirects: 3 })));
    expect(error).toBeInstanceOf(MediaError);
    expect(error).toMatchObject({
      reason: 'BAD_MEDIA_URL',
      field: 'story.image.url',
      message: 'story.image.url redirects more than 3 times',
    });
  });

  it.each([
    [
      'the metadata address',
      'http://169.254.169.254/latest/meta-data/iam/',
      /redirects to http:\/\/169\.254\.169\.254\/latest\/meta-data\/iam\/, which must point to a public address/,
    ],
    ['an IPv4-mapped loopback', 'http://[::ffff:10.0.0.1]/x', /must point to a public address/],
    ['localhost by name', 'http://localhost/x', /not localhost/],
    ['a name resolving to the metadata address', 'http://metadata.example/latest', /host metadata\.example resolves to 169\.254\.169\.254/],
    ['a name resolving to a private address', 'http://intranet.example/x', /host intranet\.example resolves to 10\.20\.30\.40/],
    ['a name with one private address among allowed ones', 'http://split.example/x', /resolves to 192\.168\.1\.1/],
    ['another scheme', 'file:///etc/passwd', /must be an http\(s\) URL, not file/],
  ])('refuses a redirect to %s', async (_name, target, problem) => {
    const path = `/redirect-${requests.length}-${Math.random().toString(36).slice(2)}`;
    const url = route(path, (_req, res) => res.writeHead(302, { location: target }).end());
    const error = await refusal(fetchMedia(url, opts()));
    expect(error).toBeInstanceOf(MediaError);
    expect(error).toMatchObject({ reason: 'BAD_MEDIA_URL', field: 'story.image.url' });
    expect((error as Error).message).toMatch(problem);
  });

  it('refuses the test server itself under the production policy, without sending it a request', async () => {
    const url = route('/never', (_req, res) => res.writeHead(200).end('leaked'));
    const before = requests.length;
    const error = await refusal(fetchMedia(url, { field: 'story.video.url', maxBytes: 1024, timeoutMs: 10_000 }));
    expect(error).toMatchObject({
      reason: 'BAD_MEDIA_URL',
      field: 'story.video.url',
      message: 'story.video.url must point to a public address, not 127.0.0.1',
    });
    expect(requests.length).toBe(before);
  });

  it('refuses a name resolving to a private address before connecting', async () => {
    const error = await refusal(fetchMedia('http://intranet.example/a.jpg', opts()));
    expect(error).toMatchObject({
      reason: 'BAD_MEDIA_URL',
      message: 'story.image.url host intranet.example resolves to 10.20.30.40, which is not a public address',
    });
  });

  it('stops reading once the body passes the byte cap, and says which limit', async () => {
    const url = stream('/endless.mp4', Buffer.alloc(16 * 1024, 7), 4096);
    const error = await refusal(fetchMedia(url, opts({ maxBytes: 100 * 1024 })));
    expect(error).toBeInstanceOf(MediaError);
    expect(error).toMatchObject({
      reason: 'MEDIA_TOO_LARGE',
      message: 'story.image.url: the media is larger than STORYCAST_MAX_MEDIA_BYTES (102400 bytes)',
    });
    await until(() => ended.get('/endless.mp4')?.closed === true);
    // The server was cut off long before its 64 MiB were out.
    expect(ended.get('/endless.mp4')!.finished).toBe(false);
    expect(ended.get('/endless.mp4')!.bytes).toBeLessThan(4096 * 16 * 1024);
  });

  it('refuses a declared Content-Length over the cap without reading the body', async () => {
    const url = stream('/declared.mp4', Buffer.alloc(1024, 1), 1, { contentLength: 10 * 1024 * 1024 });
    const error = await refusal(fetchMedia(url, opts({ maxBytes: 1024 * 1024 })));
    expect(error).toMatchObject({ reason: 'MEDIA_TOO_LARGE' });
  });

  it('takes a body exactly at the cap', async () => {
    const url = stream('/exact.bin', Buffer.alloc(1000, 3), 4);
    expect((await fetchMedia(url, opts({ maxBytes: 4000 }))).data.length).toBe(4000);
  });

  it('gives up a download that outlasts its time budget (retryable TIMEOUT) and drops the connection', async () => {
    const url = stream('/stall.mp4', Buffer.alloc(1024, 2), 100, { stallAfter: 1 });
    const error = await refusal(fetchMedia(url, opts({ timeoutMs: 200 })));
    expect(error).toBeInstanceOf(TransportError);
    expect(error).toMatchObject({ code: 'TIMEOUT', message: 'story.image.url: fetching the media took more than 200 ms' });
    await until(() => ended.get('/stall.mp4')?.closed === true);
    expect(ended.get('/stall.mp4')!.finished).toBe(false);
  });

  it("stops the download when the caller aborts, with the caller's reason", async () => {
    const controller = new AbortController();
    const reason = new Error('prepare timed out');
    const url = route('/abort.mp4', (_req, res) => {
      res.writeHead(200).write(Buffer.alloc(1024));
      res.once('close', () => ended.set('/abort.mp4', { finished: res.writableFinished, closed: true, bytes: 1024 }));
      // The client has the headers and a first chunk; now the prepare gives up.
      setImmediate(() => controller.abort(reason));
    });
    const error = await refusal(fetchMedia(url, opts({ signal: controller.signal })));
    expect(error).toBe(reason);
    await until(() => ended.has('/abort.mp4'));
    expect(ended.get('/abort.mp4')!.finished).toBe(false);
  });

  it("a 404 is the caller's URL at fault; a 503 may heal", async () => {
    const missing = await refusal(fetchMedia(`${base}/no-such-file.jpg`, opts()));
    expect(missing).toBeInstanceOf(MediaError);
    expect(missing).toMatchObject({ reason: 'BAD_MEDIA_URL', message: `story.image.url: 127.0.0.1:${port} answered 404 Not Found` });
    const url = route('/busy', (_req, res) => res.writeHead(503).end());
    const busy = await refusal(fetchMedia(url, opts()));
    expect(busy).toBeInstanceOf(TransportError);
    expect(busy).toMatchObject({ code: 'SEND_FAILED' });
  });
});

async function until(condition: () => boolean): Promise<void> {
  await vi.waitFor(() => expect(condition()).toBe(true), { timeout: 5_000, interval: 10 });
}
