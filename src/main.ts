/**
 * `npm start`: the storycast gRPC server on its embedded defaults (simulated
 * WhatsApp network, SQLite session memory, 127.0.0.1:50051). SIGTERM or
 * SIGINT drains it: health goes NOT_SERVING, running sends get
 * STORYCAST_SHUTDOWN_GRACE_MS to finish, then are cancelled; exit code 0.
 */
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './log.js';
import { createRuntime, StartupError } from './runtime.js';
import { startServer } from './server/server.js';
import { StrategyLoadError } from './strategy-registry.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.server.logLevel);
  const runtime = await createRuntime(config, logger);
  const { server: s } = config;
  const server = await startServer(runtime, {
    host: s.host,
    port: s.port,
    graceMs: s.shutdownGraceMs,
    logger,
    ...(s.tlsCert && s.tlsKey ? { tls: { certFile: s.tlsCert, keyFile: s.tlsKey } } : {}),
  });
  const stop = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

main().catch((error: unknown) => {
  // Start-up errors (config, strategy modules, profiles, a port in use) are meant to be read, not debugged.
  const known = error instanceof ConfigError || error instanceof StrategyLoadError || error instanceof StartupError;
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE' || code === 'EACCES') console.error(`storycast: cannot listen: ${(error as Error).message}`);
  else console.error(known ? `storycast: ${(error as Error).message}` : error);
  process.exit(1);
});
