/**
 * The web console's port (STORYCAST_WEB_PORT): HTTP/1.1, because browsers do
 * not speak cleartext HTTP/2. It serves the built console and, on the same
 * origin, the very services of the gRPC port over Connect and gRPC-Web: the
 * console is a plain client of the public API, with the same interceptors
 * (API keys, metrics, traces) and limits, and no endpoint of its own.
 */
import { createServer } from 'node:http';
import type { Logger } from '../log.js';
import { bind, FORCE_CLOSE_MS, trackSockets } from './listen.js';
import { isBuilt, NOT_BUILT_HINT, serveStatic, WEB_BUILD_DIR, type WebRequest, type WebResponse } from './web-static.js';

export type WebHandler = (req: WebRequest, res: WebResponse) => void;

/** /package.Service/Method: what Connect, gRPC-Web and gRPC put on the wire. Nothing the console builds looks like it. */
const RPC_PATH = /^\/[A-Za-z_][\w]*(\.[A-Za-z_]\w*)+\/[A-Za-z_]\w*$/;

/** The API's handler for RPC paths, the console's files for the rest. */
export function consoleHandler(api: WebHandler, dir: string = WEB_BUILD_DIR): WebHandler {
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (RPC_PATH.test(path)) {
      api(req, res);
      return;
    }
    serveStatic(dir, req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('internal error\n');
    });
  };
}

export interface WebListener {
  /** http://host:port/, the console's address. */
  readonly url: string;
  readonly port: number;
  /** Stops accepting, lets open streams finish for a while, then cuts them; idempotent. */
  close(): Promise<void>;
}

/** Rejects with the listen error (EADDRINUSE...) rather than emitting it. */
export async function listenWeb(
  handler: WebHandler,
  options: { readonly host: string; readonly port: number; readonly forceCloseMs?: number },
): Promise<WebListener> {
  const server = createServer(handler);
  const sockets = trackSockets(server);
  const { port, host } = await bind(server, options.host, options.port);
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // Open streams (WatchSend in a browser tab) get the grace they get on the gRPC port.
      const timer = setTimeout(() => {
        for (const socket of sockets) socket.destroy();
      }, options.forceCloseMs ?? FORCE_CLOSE_MS);
      await closed;
      clearTimeout(timer);
    })());
  return { url: `http://${host}:${port}/`, port, close };
}

export interface WebSettings {
  readonly host: string;
  /** 0: no console port. */
  readonly port: number;
  /** Whether the port was chosen (a variable) rather than the default, which gives way when taken. */
  readonly chosen: boolean;
  readonly dir?: string;
}

/**
 * The console's port as `npm start` opens it, or undefined when it is off or
 * when the default port is taken (several servers on one machine would
 * otherwise each need a setting just to start). Says when there is no build.
 */
export async function startWeb(api: WebHandler, settings: WebSettings, logger: Logger): Promise<WebListener | undefined> {
  if (settings.port === 0) return undefined;
  const dir = settings.dir ?? WEB_BUILD_DIR;
  const listener = await listenWeb(consoleHandler(api, dir), settings).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EADDRINUSE' || settings.chosen) throw error;
    logger.warn({ port: settings.port }, 'the default web console port is taken: no console here (set STORYCAST_WEB_PORT)');
    return undefined;
  });
  if (!listener) return undefined;
  const built = await isBuilt(dir);
  logger.info({ url: listener.url, built }, 'web console listening');
  if (!built) logger.warn(NOT_BUILT_HINT);
  return listener;
}
