/**
 * grpc.health.v1 from the grpc-plugins module: what Check and Watch answer, in
 * memory (createRouterTransport, a connect client); then on a real HTTP/2 port,
 * called by @grpc/grpc-js (what probes and balancers use), what only the wire
 * shows: proto enum names, a dropped connection, a server shutting down.
 */
import { once } from 'node:events';
import * as http2 from 'node:http2';
import { fileURLToPath } from 'node:url';
import { create, toBinary } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient, createRouterTransport, type Client } from '@connectrpc/connect';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Health, HealthCheckRequestSchema } from '../src/gen/grpc/health/v1/health_pb.js';
import {
  HealthStatus,
  healthRoutes,
  ServingStatus,
  type HealthListener,
  type HealthStatusSource,
} from '../src/server/grpc-plugins/index.js';
import { startH2Server, type H2TestServer } from './support/h2-server.js';

const protoDir = fileURLToPath(new URL('../proto', import.meta.url));
const STORY = 'storycast.v1.StoryService';

async function codeOf(call: Promise<unknown>): Promise<Code | undefined> {
  return call.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e).code,
  );
}

describe('in memory (connect client over createRouterTransport)', () => {
  let health: HealthStatus;
  let client: Client<typeof Health>;
  // A fresh status per test keeps each test's listener count its own.
  beforeEach(() => {
    health = new HealthStatus([STORY]);
    client = createClient(Health, createRouterTransport(healthRoutes(health)));
  });

  /** Opens a Watch and returns a function that reads the next status, in order, and one that cancels it. */
  function watch(service: string) {
    const controller = new AbortController();
    const it = client.watch({ service }, { signal: controller.signal })[Symbol.asyncIterator]();
    return {
      cancel: async () => {
        controller.abort();
        // In memory a handler's stream moves only when the client reads: this read is the one a for-await loop makes next.
        expect(await codeOf(it.next())).toBe(Code.Canceled);
      },
      next: async () => {
        const r = await it.next();
        if (r.done) throw new Error('watch stream ended');
        return r.value.status;
      },
    };
  }

  describe('Check', () => {
    it('reports the whole server and each registered service as SERVING', async () => {
      expect((await client.check({ service: '' })).status).toBe(ServingStatus.SERVING);
      expect((await client.check({ service: STORY })).status).toBe(ServingStatus.SERVING);
    });

    it('answers NOT_FOUND for a service the server does not know', async () => {
      expect(await codeOf(client.check({ service: 'no.such.Service' }))).toBe(Code.NotFound);
    });

    it('follows set() and setAll()', async () => {
      const check = async (service: string) => (await client.check({ service })).status;
      health.set(STORY, ServingStatus.NOT_SERVING);
      expect(await check(STORY)).toBe(ServingStatus.NOT_SERVING);
      expect(await check('')).toBe(ServingStatus.SERVING);
      health.setAll('NOT_SERVING');
      expect(await check('')).toBe(ServingStatus.NOT_SERVING);
      health.setAll(ServingStatus.SERVING);
      expect(await check(STORY)).toBe(ServingStatus.SERVING);
    });

    it('stays NOT_SERVING for good after shutdown()', async () => {
      health.shutdown();
      health.set('', ServingStatus.SERVING);
      health.setAll(ServingStatus.SERVING);
      expect((await client.check({ service: '' })).status).toBe(ServingStatus.NOT_SERVING);
      expect((await client.check({ service: STORY })).status).toBe(ServingStatus.NOT_SERVING);
    });
  });

  describe('Watch', () => {
    it('sends the current status at once, then each change', async () => {
      const w = watch('');
      expect(await w.next()).toBe(ServingStatus.SERVING);
      expect(health.listenerCount).toBe(1);
      health.set('', ServingStatus.NOT_SERVING);
      expect(await w.next()).toBe(ServingStatus.NOT_SERVING);
      health.set(STORY, ServingStatus.NOT_SERVING); // another service: not this watcher's business
      health.set('', ServingStatus.SERVING);
      expect(await w.next()).toBe(ServingStatus.SERVING);
      await w.cancel();
    });

    it('says SERVICE_UNKNOWN for an unknown service and stays open until it becomes known', async () => {
      const w = watch('later.v1.Service');
      expect(await w.next()).toBe(ServingStatus.SERVICE_UNKNOWN);
      health.set('later.v1.Service', ServingStatus.SERVING);
      expect(await w.next()).toBe(ServingStatus.SERVING);
      await w.cancel();
    });

    it('tells watchers about shutdown()', async () => {
      const w = watch(STORY);
      expect(await w.next()).toBe(ServingStatus.SERVING);
      health.shutdown();
      expect(await w.next()).toBe(ServingStatus.NOT_SERVING);
      await w.cancel();
    });

    it('removes its listener when the client cancels', async () => {
      const a = watch('');
      const b = watch(STORY);
      expect(await a.next()).toBe(ServingStatus.SERVING);
      expect(await b.next()).toBe(ServingStatus.SERVING);
      expect(health.listenerCount).toBe(2);
      await a.cancel();
      await vi.waitFor(() => expect(health.listenerCount).toBe(1));
      // The other watcher is unaffected.
      health.set(STORY, ServingStatus.NOT_SERVING);
      expect(await b.next()).toBe(ServingStatus.NOT_SERVING);
      await b.cancel();
      await vi.waitFor(() => expect(health.listenerCount).toBe(0));
    });
  });

  it('serves any status source, not only HealthStatus', async () => {
    // A source that knows one service and never changes: the plugin needs nothing else.
    const listeners = new Set<HealthListener>();
    const source: HealthStatusSource = {
      get: (service) => (service === 'only.v1.One' ? ServingStatus.NOT_SERVING : undefined),
      onChange: (listener) => {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    };
    const c = createClient(Health, createRouterTransport(healthRoutes(source)));
    expect((await c.check({ service: 'only.v1.One' })).status).toBe(ServingStatus.NOT_SERVING);
    expect(await codeOf(c.check({ service: '' }))).toBe(Code.NotFound);
    const controller = new AbortController();
    const it = c.watch({ service: 'only.v1.One' }, { signal: controller.signal })[Symbol.asyncIterator]();
    expect((await it.next()).value?.status).toBe(ServingStatus.NOT_SERVING);
    expect(listeners.size).toBe(1);
    controller.abort();
    expect(await codeOf(it.next())).toBe(Code.Canceled);
    await vi.waitFor(() => expect(listeners.size).toBe(0));
  });
});

describe('on a real HTTP/2 port, called by @grpc/grpc-js', () => {
  interface StatusReply {
    status: string;
  }
  type HealthClient = grpc.Client & {
    Check(req: { service: string }, cb: (err: grpc.ServiceError | null, res?: StatusReply) => void): void;
    Watch(req: { service: string }): grpc.ClientReadableStream<StatusReply>;
  };
  const pkg = grpc.loadPackageDefinition(
    protoLoader.loadSync('grpc/health/v1/health.proto', { includeDirs: [protoDir], enums: String, defaults: true }),
  ) as unknown as { grpc: { health: { v1: { Health: new (addr: string, creds: grpc.ChannelCredentials) => HealthClient } } } };

  let health: HealthStatus;
  let server: H2TestServer;
  let client: HealthClient;
  beforeEach(async () => {
    health = new HealthStatus([STORY]);
    server = await startH2Server(healthRoutes(health));
    client = new pkg.grpc.health.v1.Health(server.address, grpc.credentials.createInsecure());
  });
  afterEach(async () => {
    client.close();
    await server.close();
  });

  const check = (service: string) =>
    new Promise<string>((resolve, reject) => client.Check({ service }, (err, res) => (err ? reject(err) : resolve(res!.status))));

  /** Opens a Watch and returns a function that reads the next status, in order. */
  function watch(service: string) {
    const call = client.Watch({ service });
    call.on('error', () => {}); // cancelling surfaces as an error event; the iterator below reports real ones
    const it = call[Symbol.asyncIterator]() as AsyncIterator<StatusReply>;
    return {
      call,
      next: async () => {
        const r = await it.next();
        if (r.done) throw new Error('watch stream ended');
        return r.value.status;
      },
    };
  }

  it('Check answers with the proto names, and NOT_FOUND as a gRPC status', async () => {
    expect(await check('')).toBe('SERVING');
    health.set(STORY, ServingStatus.NOT_SERVING);
    expect(await check(STORY)).toBe('NOT_SERVING');
    await expect(check('no.such.Service')).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
  });

  it('Watch streams changes and lets go of its listener when the client cancels', async () => {
    const w = watch('');
    expect(await w.next()).toBe('SERVING');
    health.set('', ServingStatus.NOT_SERVING);
    expect(await w.next()).toBe('NOT_SERVING');
    expect(health.listenerCount).toBe(1);
    w.call.cancel();
    await vi.waitFor(() => expect(health.listenerCount).toBe(0));
  });

  it('Watch removes its listener when the connection drops without a cancel', async () => {
    // grpc-js's close() lets open calls run on, so a raw HTTP/2 client plays the crashed prober.
    const session = http2.connect(`http://${server.address}`);
    session.on('error', () => {});
    const stream = session.request({
      ':method': 'POST',
      ':path': '/grpc.health.v1.Health/Watch',
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    stream.on('error', () => {});
    const body = toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, { service: '' }));
    const frame = Buffer.alloc(5 + body.length);
    frame.writeUInt32BE(body.length, 1);
    frame.set(body, 5);
    stream.end(frame);
    await once(stream, 'data'); // the first status: the server has subscribed
    expect(health.listenerCount).toBe(1);
    session.destroy();
    await vi.waitFor(() => expect(health.listenerCount).toBe(0));
  });

  it('Watch ends when the server shuts down, so a drain is not held up by watchers', async () => {
    const w = watch('');
    expect(await w.next()).toBe('SERVING');
    const status = new Promise<grpc.StatusObject>((resolve) => w.call.on('status', resolve));
    await server.close();
    expect((await status).code).toBe(grpc.status.UNAVAILABLE); // the reason the helper aborts its shutdownSignal with
    expect(health.listenerCount).toBe(0);
  });
});

describe('HealthStatus', () => {
  it('notifies only on a real change, and stops notifying once unsubscribed', () => {
    const h = new HealthStatus(['a.v1.A'], 'NOT_SERVING');
    const seen: [string, ServingStatus][] = [];
    const off = h.onChange((service, status) => seen.push([service, status]));
    h.set('a.v1.A', ServingStatus.NOT_SERVING);
    h.setAll(ServingStatus.SERVING);
    off();
    h.set('a.v1.A', ServingStatus.NOT_SERVING);
    expect(seen).toEqual([
      ['', ServingStatus.SERVING],
      ['a.v1.A', ServingStatus.SERVING],
    ]);
    expect(h.listenerCount).toBe(0);
  });
});
