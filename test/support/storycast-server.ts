/**
 * storycast for tests, at two levels: in memory (createRouterTransport over the
 * server's own handler: no port, no HTTP/2) for what handlers do, and on a real
 * port 0 for what only the wire shows (grpc-js, grpcurl, curl, TLS, shutdown).
 */
import { createRouterTransport, type Transport } from '@connectrpc/connect';
import type { Clock } from '../../src/clock.js';
import { loadConfig } from '../../src/config.js';
import { silentLogger, type Logger } from '../../src/log.js';
import { createRuntime, type Runtime } from '../../src/runtime.js';
import { createStorycastHandler, type HandlerDeps, type StorycastHandler } from '../../src/server/handler.js';
import { listen, type Listener } from '../../src/server/listen.js';

export interface TestOptions {
  /** How long running sends get on drain (default 5 s). */
  readonly graceMs?: number;
  readonly logger?: Logger;
  /** What send retention is measured on (default: real time). */
  readonly sendClock?: Clock;
  /** Extra interceptors and a send observer, as the server's own wiring passes them. */
  readonly interceptors?: HandlerDeps['interceptors'];
  readonly observe?: HandlerDeps['observe'];
}

export interface TestApp {
  readonly runtime: Runtime;
  /** The server's handler: its health, running sends and drain. */
  readonly app: StorycastHandler;
  /** Calls the handler in memory, with the server's interceptors and limits. */
  readonly transport: Transport;
  /** Drains the handler, then closes the runtime; idempotent. */
  close(): Promise<void>;
}

export interface TestServer {
  readonly runtime: Runtime;
  readonly app: StorycastHandler;
  readonly listener: Listener;
  readonly url: string;
  /** host:port, as grpc-js dials it. */
  readonly address: string;
  /** What `npm start` does on SIGTERM: drain, close the port, close the runtime; idempotent. */
  readonly server: { close(): Promise<void> };
}

/** The simulated network at 10,000x on the seed's first-send profile, memory in memory, unless env says otherwise. */
async function build(env: Record<string, string>, opts: TestOptions): Promise<{ runtime: Runtime; app: StorycastHandler }> {
  const config = loadConfig({
    STORYCAST_STORE: 'memory://',
    STORYCAST_SIM_PROFILE: 'seed-first-send',
    STORYCAST_SIM_TIME_SCALE: '10000',
    ...env,
  });
  const logger = opts.logger ?? silentLogger;
  const runtime = await createRuntime(config, logger);
  return {
    runtime,
    app: createStorycastHandler({
      runtime,
      logger,
      graceMs: opts.graceMs ?? 5000,
      ...(opts.sendClock ? { sendClock: opts.sendClock } : {}),
      ...(opts.interceptors ? { interceptors: opts.interceptors } : {}),
      ...(opts.observe ? { observe: opts.observe } : {}),
    }),
  };
}

function once(close: () => Promise<void>): () => Promise<void> {
  let closing: Promise<void> | undefined;
  return () => (closing ??= close());
}

/** storycast in memory: no port, no process. */
export async function createTestApp(env: Record<string, string> = {}, opts: TestOptions = {}): Promise<TestApp> {
  const { runtime, app } = await build(env, opts);
  const transport = createRouterTransport(app.routes, { router: app.routerOptions });
  return {
    runtime,
    app,
    transport,
    close: once(async () => {
      await app.drain();
      await runtime.close();
    }),
  };
}

/** storycast on 127.0.0.1, port 0, listened by the server's own listen(). */
export async function startTestServer(env: Record<string, string> = {}, opts: TestOptions = {}): Promise<TestServer> {
  const { runtime, app } = await build(env, opts);
  const listener = await listen(app.handler, { host: '127.0.0.1', port: 0 }).catch(async (error: unknown) => {
    await runtime.close();
    throw error;
  });
  // With replicas (a redis store), where the others forward calls for this one's sessions.
  await app.advertise(listener.url);
  const close = once(async () => {
    await app.drain();
    await listener.close();
    await runtime.close();
  });
  return { runtime, app, listener, url: listener.url, address: listener.address, server: { close } };
}
