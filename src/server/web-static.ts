/**
 * The web console's built files (web/dist, made by `npm run build:web`), served
 * read-only. The build is not committed, so a server started from a fresh
 * clone answers with a page that says how to make it rather than a bare 404.
 */
import { createReadStream, type Stats } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { stat } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where `npm run build:web` writes the console (vite.config's outDir). */
export const WEB_BUILD_DIR = fileURLToPath(new URL('../../web/dist/', import.meta.url));

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

/**
 * The console talks only to this origin (its API is the same port) and is never framed;
 * blob: and data: are the previews of an uploaded image or video and the QR canvas.
 */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

export const NOT_BUILT_HINT = 'the web console is not built: run `npm run build:web`, then reload';

const NOT_BUILT_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>storycast console: not built</title></head>
<body><main><h1>The storycast console is not built</h1>
<p>Run <code>npm run build:web</code> in the storycast checkout, then reload this page.
The API on this port works without it.</p></main></body></html>
`;

/** What node:http and node:http2's compatibility API both give: the console is served on either. */
export type WebRequest = IncomingMessage | Http2ServerRequest;
export type WebResponse = ServerResponse | Http2ServerResponse;

export async function isBuilt(dir: string): Promise<boolean> {
  return (await fileAt(join(dir, 'index.html'))) !== undefined;
}

async function fileAt(path: string): Promise<Stats | undefined> {
  try {
    const found = await stat(path);
    return found.isFile() ? found : undefined;
  } catch {
    return undefined;
  }
}

/** GET and HEAD of the build; anything not a file is the app itself, whose router reads the URL. */
export async function serveStatic(dir: string, req: WebRequest, res: WebResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
    res.end('method not allowed\n');
    return;
  }
  const root = resolve(dir);
  let path: string;
  try {
    path = decodeURIComponent(new URL(req.url ?? '/', 'http://console').pathname);
  } catch {
    res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('bad path\n');
    return;
  }
  const wanted = resolve(root, `.${path}`);
  // resolve() has already folded any ../ : what is left outside the build is refused, not looked up.
  const inside = wanted === root || wanted.startsWith(root + sep);
  const asset = inside && path !== '/' ? await fileAt(wanted) : undefined;
  // A missing built file is a stale page asking for an old hash: the app in its place would only confuse the browser.
  if (!asset && path.startsWith('/assets/')) {
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
    res.end('not found: reload the page\n');
    return;
  }
  const file = asset ? wanted : join(root, 'index.html');
  const found = asset ?? (await fileAt(file));
  if (!found) {
    res.writeHead(503, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', ...SECURITY_HEADERS });
    if (req.method === 'HEAD') res.end();
    else res.end(NOT_BUILT_PAGE);
    return;
  }
  // Vite names what it builds under assets/ by content hash: those never change under one name.
  const immutable = asset !== undefined && path.startsWith('/assets/');
  res.writeHead(200, {
    'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
    'content-length': found.size,
    'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    ...SECURITY_HEADERS,
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  createReadStream(file)
    .on('error', () => res.end())
    .pipe(res as NodeJS.WritableStream);
}
