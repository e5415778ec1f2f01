/** A real storycast server on 127.0.0.1, port 0, for integration tests. */
import { loadConfig } from '../../src/config.js';
import { silentLogger, type Logger } from '../../src/log.js';
import { createRuntime, type Runtime } from '../../src/runtime.js';
import { startServer, type StorycastServer } from '../../src/server/server.js';

export interface TestServer {
  readonly server: StorycastServer;
  readonly runtime: Runtime;
  readonly url: string;
  /** host:port, as grpc-js dials it. */
  readonly address: string;
}

export async function startTestServer(env: Record<string, string> = {}, opts: { graceMs?: number; logger?: Logger } = {}): Promise<TestServer> {
  const config = loadConfig({
    STORYCAST_STORE: 'memory://',
    STORYCAST_SIM_PROFILE: 'seed-first-send',
    STORYCAST_SIM_TIME_SCALE: '10000',
    ...env,
  });
  const runtime = await createRuntime(config, opts.logger ?? silentLogger);
  const server = await startServer(runtime, { host: '127.0.0.1', port: 0, graceMs: opts.graceMs ?? 5000, logger: opts.logger ?? silentLogger });
  return { server, runtime, url: server.url, address: `127.0.0.1:${server.port}` };
}
