/**
 * `npm start`: the storycast gRPC server on its embedded defaults (simulated
 * WhatsApp network, SQLite session memory, 127.0.0.1:50051). SIGTERM or
 * SIGINT drains it: health goes NOT_SERVING, ON_DISCONNECT_CONTINUE sends are
 * checkpointed for the next start, other running sends get
 * STORYCAST_SHUTDOWN_GRACE_MS to finish, then are cancelled; exit code 0.
 * On start, sends the journal shows unfinished resume.
 */
import { loadConfig } from './config.js';
import { createLogger } from './log.js';
import { createRuntime } from './runtime.js';
import { createStorycastHandler } from './server/handler.js';
import { listen } from './server/listen.js';
import { consoleHandler, startWeb } from './server/web.js';
import { reachableAddress } from './server/advertise.js';
import { operations } from './server/operations.js';
import { exitOnStartupError } from './util/startup-error.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.server.logLevel);
  // Before the runtime: a bad keys file or CA stops start-up before anything connects.
  const ops = await operations(config, logger);
  const runtime = await createRuntime(config, logger);
  const { server: s } = config;
  const app = createStorycastHandler({
    runtime,
    logger,
    graceMs: s.shutdownGraceMs,
    interceptors: ops.interceptors,
    observe: ops.observe,
    ...(ops.contextValues ? { contextValues: ops.contextValues } : {}),
  });
  await ops.start(app, runtime);
  // Before the port opens, so a caller following a resumed send finds it running.
  const resumed = await app.resumeSends();
  if (resumed > 0) logger.info({ resumed }, 'resumed unfinished sends from the journal');
  app.startSchedules();
  const tls = Boolean(s.tlsCert && s.tlsKey);
  // With TLS browsers reach the main port over HTTP/1.1 or HTTP/2 alike, so it serves the console too.
  const listener = await listen(tls ? consoleHandler(app.handler) : app.handler, {
    host: s.host,
    port: s.port,
    ...(s.tlsCert && s.tlsKey
      ? { tls: { certFile: s.tlsCert, keyFile: s.tlsKey, ...(ops.clientCa ? { clientCa: ops.clientCa } : {}) } }
      : {}),
  });
  logger.info({ url: listener.url, tls: listener.tls, ...ops.summary }, 'storycast listening');
  const web = await startWeb(
    app.handler,
    { host: s.host, port: s.webPort, chosen: process.env['STORYCAST_WEB_PORT'] !== undefined },
    logger,
  );
  if (runtime.replicas) {
    const address = s.advertiseAddress ?? reachableAddress(s.host, listener);
    await app.advertise(address);
    logger.info({ replica: runtime.replicas.id, address }, 'replica announced: calls for its sessions are forwarded here');
  }
  let stopping = false;
  const stop = (signal: string) => {
    // `npm start` under a supervisor that signals the whole process group (systemd, a
    // terminal's Ctrl-C) delivers it twice: once directly, once relayed by tsx. One drain.
    if (stopping) {
      logger.info({ signal }, 'already shutting down');
      return;
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    // The port stays open while sends drain, so late callers hear UNAVAILABLE rather than a refused connection.
    (async () => {
      await app.drain();
      await Promise.all([listener.close(), web?.close()]);
      await ops.close();
      await runtime.close();
      logger.info('storycast stopped');
    })().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch(exitOnStartupError('storycast'));
