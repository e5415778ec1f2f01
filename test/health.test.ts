/** grpc.health.v1 over a real HTTP/2 server, called by @grpc/grpc-js (what probes and balancers use). */
import { once } from 'node:events';
import * as http2 from 'node:http2';
import { fileURLToPath } from 'node:url';
import { create, toBinary } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HealthCheckRequestSchema } from '../src/gen/grpc/health/v1/health_pb.js';
import { HealthStatus, healthRoutes, ServingStatus } from '../src/server/health.js';
import { startH2Server, type H2TestServer } from './support/h2-server.js';

const protoDir = fileURLToPath(new URL('../proto', import.meta.url));
const STORY = 'storycast.v1.StoryService';

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

// A fresh server per test keeps each test's HealthStatus (and its listener count) its own.
beforeEach(async () => {
  health = new HealthStatus([STORY]);
  server = await startH2Server(healthRoutes(health));
  client = new pkg.grpc.health.v1.Health(server.address, grpc.credentials.createInsecure());
});
afterEach(async () => {
  client.close();
  await server.close();
});

function check(service: string): Promise<string> {
  return new Promise((resolve, reject) =>
    client.Check({ service }, (err, res) => (err ? reject(err) : resolve(res!.status))),
  );
}

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

describe('Check', () => {
  it('reports the whole server and each registered service as SERVING', async () => {
    expect(await check('')).toBe('SERVING');
    expect(await check(STORY)).toBe('SERVING');
  });

  it('answers NOT_FOUND for a service the server does not know', async () => {
    await expect(check('no.such.Service')).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
  });

  it('follows set() and setAll()', async () => {
    health.set(STORY, ServingStatus.NOT_SERVING);
    expect(await check(STORY)).toBe('NOT_SERVING');
    expect(await check('')).toBe('SERVING');
    health.setAll('NOT_SERVING');
    expect(await check('')).toBe('NOT_SERVING');
    health.setAll(ServingStatus.SERVING);
    expect(await check(STORY)).toBe('SERVING');
  });

  it('stays NOT_SERVING for good after shutdown()', async () => {
    health.shutdown();
    health.set('', ServingStatus.SERVING);
    health.setAll(ServingStatus.SERVING);
    expect(await check('')).toBe('NOT_SERVING');
    expect(await check(STORY)).toBe('NOT_SERVING');
  });
});

describe('Watch', () => {
  it('sends the current status at once, then each change', async () => {
    const w = watch('');
    expect(await w.next()).toBe('SERVING');
    expect(health.listenerCount).toBe(1);
    health.set('', ServingStatus.NOT_SERVING);
    expect(await w.next()).toBe('NOT_SERVING');
    health.set(STORY, ServingStatus.NOT_SERVING); // another service: not this watcher's business
    health.set('', ServingStatus.SERVING);
    expect(await w.next()).toBe('SERVING');
    w.call.cancel();
  });

  it('says SERVICE_UNKNOWN for an unknown service and stays open until it becomes known', async () => {
    const w = watch('later.v1.Service');
    expect(await w.next()).toBe('SERVICE_UNKNOWN');
    health.set('later.v1.Service', ServingStatus.SERVING);
    expect(await w.next()).toBe('SERVING');
    w.call.cancel();
  });

  it('tells watchers about shutdown()', async () => {
    const w = watch(STORY);
    expect(await w.next()).toBe('SERVING');
    health.shutdown();
    expect(await w.next()).toBe('NOT_SERVING');
    w.call.cancel();
  });

  it('removes its listener when the client cancels', async () => {
    const a = watch('');
    const b = watch(STORY);
    expect(await a.next()).toBe('SERVING');
    expect(await b.next()).toBe('SERVING');
    expect(health.listenerCount).toBe(2);
    a.call.cancel();
    await vi.waitFor(() => expect(health.listenerCount).toBe(1));
    // The other watcher is unaffected.
    health.set(STORY, ServingStatus.NOT_SERVING);
    expect(await b.next()).toBe('NOT_SERVING');
    b.call.cancel();
    await vi.waitFor(() => expect(health.listenerCount).toBe(0));
  });

  it('removes its listener when the connection drops without a cancel', async () => {
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

  it('ends when the server shuts down, so a drain is not held up by watchers', async () => {
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
