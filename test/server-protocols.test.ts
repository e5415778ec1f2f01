/** The server on the wire: every protocol on one port, TLS (with HTTP/1.1), deadlines; and, in memory, what it writes to its logs. */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ErrorInfoSchema } from '../src/gen/google/rpc/error_details_pb.js';
import { StoryService, type SendStoryResponse } from '../src/gen/storycast/v1/story_service_pb.js';
import { loadConfig } from '../src/config.js';
import { silentLogger } from '../src/log.js';
import { createRuntime } from '../src/runtime.js';
import { createStorycastHandler } from '../src/server/handler.js';
import { listen } from '../src/server/listen.js';
import type { SimulatedNetwork } from '../src/transport/sim/network.js';
import { numbers } from './support/scripted-transport.js';
import { selfSignedCert } from './support/tls.js';
import { createTestApp, startTestServer, type TestServer } from './support/storycast-server.js';

const story = { content: { case: 'text' as const, value: { text: 'hi' } } };

async function sendAll(stream: AsyncIterable<SendStoryResponse>): Promise<SendStoryResponse[]> {
  const events: SendStoryResponse[] = [];
  for await (const e of stream) events.push(e);
  return events;
}

/** The error a stream ended with, as a ConnectError. */
async function failure(stream: AsyncIterable<unknown>): Promise<ConnectError> {
  try {
    for await (const _ of stream);
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error('the call succeeded');
}

describe('the protocol matrix on one cleartext HTTP/2 port', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(async () => {
    await t.server.close();
  });

  const protocols = {
    grpc: () => createGrpcTransport({ baseUrl: t.url }),
    'grpc-web': () => createGrpcWebTransport({ baseUrl: t.url, httpVersion: '2' }),
    'connect-binary': () => createConnectTransport({ baseUrl: t.url, httpVersion: '2', useBinaryFormat: true }),
    'connect-json': () => createConnectTransport({ baseUrl: t.url, httpVersion: '2' }),
  };

  describe.each(Object.entries(protocols))('%s', (name, transport) => {
    it('streams a whole send', async () => {
      const client = createClient(StoryService, transport());
      const events = await sendAll(client.sendStory({ sessionId: `p-${name}`, story, recipients: numbers(3000) }));
      expect(events.map((e) => e.event.case)).toEqual(['planned', 'anchor', ...Array(events.length - 3).fill('batch'), 'summary']);
      const last = events.at(-1)!.event;
      expect(last.case === 'summary' && last.value.delivered).toBe(3000);
    });

    it('errors carry a google.rpc.ErrorInfo a program can branch on', async () => {
      const client = createClient(StoryService, transport());
      const error = await failure(client.sendStory({ sessionId: 's', story, recipients: ['x'] }));
      expect(error.code).toBe(Code.InvalidArgument);
      const [info] = error.findDetails(ErrorInfoSchema);
      expect(info).toMatchObject({ reason: 'NO_VALID_RECIPIENTS', domain: 'storycast', metadata: { field: 'recipients' } });
    });
  });
});

describe('listen', () => {
  it('binds port 0 to a free port, refuses a port in use with the listen error, and frees it on close', async () => {
    const handler = (_req: unknown, res: { end: (body: string) => void }) => res.end('ok');
    const first = await listen(handler, { host: '127.0.0.1', port: 0 });
    expect(first.port).toBeGreaterThan(0);
    expect(first).toMatchObject({ url: `http://127.0.0.1:${first.port}`, address: `127.0.0.1:${first.port}`, tls: false });
    // main.ts turns this rejection into a one-line message; it must not surface as an 'error' event instead.
    await expect(listen(handler, { host: '127.0.0.1', port: first.port })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    await Promise.all([first.close(), first.close()]); // idempotent: shutdown paths may race
    const again = await listen(handler, { host: '127.0.0.1', port: first.port });
    await again.close();
  });
});

describe('TLS', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'storycast-tls-'));
    await selfSignedCert(dir);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('serves over TLS when a certificate and key are configured', async () => {
    const config = loadConfig({ STORYCAST_STORE: 'memory://', STORYCAST_SIM_TIME_SCALE: '10000' });
    const runtime = await createRuntime(config, silentLogger);
    const app = createStorycastHandler({ runtime, logger: silentLogger, graceMs: 1000 });
    const server = await listen(app.handler, {
      host: '127.0.0.1',
      port: 0,
      tls: { certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem') },
    });
    try {
      expect(server.url).toMatch(/^https:\/\//);
      const ca = await readFile(join(dir, 'cert.pem'));
      const client = createClient(StoryService, createGrpcTransport({ baseUrl: server.url, nodeOptions: { ca } }));
      const list = await client.listStrategies({});
      expect(list.defaultStrategy).toBe('adaptive');
      // HTTP/1.1 is allowed next to HTTP/2 on TLS, for Connect and gRPC-Web callers that cannot speak h2.
      for (const transport of [
        createConnectTransport({ baseUrl: server.url, httpVersion: '1.1', nodeOptions: { ca } }),
        createGrpcWebTransport({ baseUrl: server.url, httpVersion: '1.1', nodeOptions: { ca } }),
      ]) {
        expect((await createClient(StoryService, transport).listStrategies({})).defaultStrategy).toBe('adaptive');
      }
      // A client that does not trust the certificate is refused.
      const untrusting = createClient(StoryService, createGrpcTransport({ baseUrl: server.url }));
      await expect(untrusting.listStrategies({})).rejects.toThrow(/certificate/i);
    } finally {
      await app.drain();
      await server.close();
      await runtime.close();
    }
  });
});

describe('deadlines', () => {
  it('a deadline ends the call with DEADLINE_EXCEEDED and stops the send', async () => {
    // Real time x10: the send would run for seconds; the deadline cuts it short.
    const t = await startTestServer({ STORYCAST_SIM_TIME_SCALE: '10' });
    try {
      const { loadSync } = await import('@grpc/proto-loader');
      const pkg = grpc.loadPackageDefinition(
        loadSync('storycast/v1/story_service.proto', { includeDirs: [new URL('../proto', import.meta.url).pathname], oneofs: true }),
      ) as never as {
        storycast: {
          v1: {
            StoryService: new (
              a: string,
              c: grpc.ChannelCredentials,
            ) => grpc.Client & { sendStory: (req: object, opts: grpc.CallOptions) => grpc.ClientReadableStream<unknown> };
          };
        };
      };
      const client = new pkg.storycast.v1.StoryService(t.address, grpc.credentials.createInsecure());
      const call = client.sendStory(
        { sessionId: 'deadline', story: { text: { text: 'x' } }, recipients: numbers(19_000) },
        { deadline: new Date(Date.now() + 300) },
      );
      const error = await new Promise<grpc.ServiceError | undefined>((resolve) => {
        call.on('data', () => {});
        call.on('error', resolve);
        call.on('end', () => resolve(undefined));
      });
      expect(error?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
      await vi.waitFor(() => expect(t.app.sends.size).toBe(0), { timeout: 5000 });
      const network = t.runtime.transport as SimulatedNetwork;
      // The send has ended (no send is running), and it ended early: far fewer recipients went out than were asked for.
      const calls = network.oracle.calls.filter((c) => c.sessionId === 'deadline');
      expect(calls.length).toBeGreaterThan(0);
      expect(calls.every((c) => c.outcome !== 'pending')).toBe(true);
      expect(calls.reduce((n, c) => n + c.size, 0)).toBeLessThan(19_000);
      client.close();
    } finally {
      await t.server.close();
    }
  });
});

describe('logs', () => {
  it('carry a request id per call and never a whole phone number', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      },
    });
    const logger = pino({ level: 'debug' }, sink);
    const t = await createTestApp({}, { logger });
    const recipients = [...numbers(300), '+1 555 000 1234 56789', '44 7700 900 12', 'not-a-number'];
    try {
      const client = createClient(StoryService, t.transport);
      await sendAll(client.sendStory({ sessionId: 'logs', story, recipients }, { headers: { 'x-request-id': 'req-42' } }));
      await expect(
        sendAll(client.sendStory({ sessionId: 'logs', story, recipients: ['+1 555 000 1234 56789', '12345'] })),
      ).rejects.toThrow();
    } finally {
      await t.close();
    }
    const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(entries.some((e) => e.requestId === 'req-42' && e.msg === 'send finished')).toBe(true);
    expect(entries.some((e) => e.msg === 'call failed' && typeof e.requestId === 'string')).toBe(true);
    const digits = recipients.map((r) => r.replace(/\D/g, '')).filter((d) => d.length >= 7);
    for (const line of lines) {
      // Join digits split the way people write numbers ("+1 555-000 1234"), not across JSON fields.
      const joined = line.replace(/(?<=\d)[\s().+-]+(?=\d)/g, '');
      for (const d of digits) expect(joined.includes(d), `log line leaks ${d}: ${line}`).toBe(false);
    }
  });
});
