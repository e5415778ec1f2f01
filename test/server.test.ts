/**
 * StoryService over real HTTP/2, called by the canonical gRPC stack
 * (@grpc/grpc-js loading the same .proto files) and by a Connect client.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport } from '@connectrpc/connect-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as runCli } from '../src/cli/send.js';
import { ErrorInfoSchema } from '../src/gen/google/rpc/error_details_pb.js';
import { StoryService, type SendStoryResponse } from '../src/gen/storycast/v1/story_service_pb.js';
import type { SimulatedNetwork } from '../src/transport/sim/network.js';
import { historyToProto } from '../src/server/translate.js';
import { startTestServer, type TestServer } from './support/storycast-server.js';
import { numbers } from './support/scripted-transport.js';

const protoDir = fileURLToPath(new URL('../proto', import.meta.url));

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = any;

function grpcClient(address: string): Loose {
  const definition = protoLoader.loadSync('storycast/v1/story_service.proto', {
    includeDirs: [protoDir],
    keepCase: false,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(definition) as Loose;
  return new pkg.storycast.v1.StoryService(address, grpc.credentials.createInsecure(), {
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
  });
}

/** All messages of a server stream, or the error that ended it. */
function collect(call: grpc.ClientReadableStream<Loose>): Promise<{ events: Loose[]; error?: grpc.ServiceError }> {
  return new Promise((resolve) => {
    const events: Loose[] = [];
    call.on('data', (e) => events.push(e));
    call.on('error', (error: grpc.ServiceError) => resolve({ events, error }));
    call.on('end', () => resolve({ events }));
  });
}

const text = { text: { text: 'Hello from the test' } };

describe('historyToProto', () => {
  it('carries the limit a send found, apart from the proven size', () => {
    const history = { sessionId: 'weak', maxProvenBatchSize: 427, lastSuccessfulSend: 1_000_000, totalSuccessfulSends: 3, totalAttempts: 6, averageBatchTime: 1100, successRate: 0.5, minFailedBatchSize: 465 };
    expect(historyToProto(history, 3_600_000)).toMatchObject({ sessionId: 'weak', maxProvenBatchSize: 427, minFailedBatchSize: 465 });
  });
});

describe('StoryService over gRPC (@grpc/grpc-js)', () => {
  let t: TestServer;
  let client: Loose;
  beforeAll(async () => {
    t = await startTestServer({ STORYCAST_MAX_RECIPIENTS: '20000' });
    client = grpcClient(t.address);
  });
  afterAll(async () => {
    client.close();
    await t.server.close();
  });

  it('streams planned, anchor, one batch per call, summary; the counts add up', async () => {
    const { events, error } = await collect(client.sendStory({ sessionId: 'grpc-js', story: text, recipients: numbers(5101) }));
    expect(error).toBeUndefined();
    const kinds = events.map((e) => e.event);
    expect(kinds[0]).toBe('planned');
    expect(kinds[1]).toBe('anchor');
    expect(kinds.at(-1)).toBe('summary');
    expect(kinds.slice(2, -1).every((k) => k === 'batch')).toBe(true);
    const batches = events.filter((e) => e.event === 'batch').map((e) => e.batch);
    expect(batches.map((b) => b.size)).toEqual([100, 1000, 4000]);
    expect(batches[0]).toMatchObject({ ok: true, speed: 'SPEED_FAST', durationMs: 770, nextBatchSize: 1000 });
    const summary = events.at(-1).summary;
    expect(summary).toMatchObject({ total: 5101, delivered: 5101, failed: [], batches: 3, batchSequence: [100, 1000, 4000], stoppedBy: '' });
    expect(summary.sessionLearning).toEqual({ maxProvenBatchSize: 4000, usedHistoricalData: false, willSkipRampingNextTime: true });
    expect(summary.messageId).toBe(events[1].anchor.messageId);
    const network = t.runtime.transport as SimulatedNetwork;
    expect(network.calls.filter((c) => c.sessionId === 'grpc-js')).toHaveLength(4);
  });

  it('reports invalid recipients in planned and accounts for every valid one', async () => {
    const { events } = await collect(client.sendStory({ sessionId: 'invalid', story: text, recipients: ['+1 555-000 0001', 'nope', '15550000001', '123'] }));
    const planned = events[0].planned;
    expect(planned).toMatchObject({ totalRecipients: 1, duplicateRecipients: 1, mode: 'SEND_MODE_SINGLE' });
    expect(planned.invalidRecipients.map((i: Loose) => i.input)).toEqual(['nope', '123']);
    expect(events.at(-1).summary).toMatchObject({ total: 1, delivered: 1, invalid: 2 });
  });

  it.each([
    ['no session id', { sessionId: '', story: text, recipients: ['+15550000001'] }, grpc.status.INVALID_ARGUMENT, /session_id/],
    ['a session id with spaces', { sessionId: 'my phone', story: text, recipients: ['+15550000001'] }, grpc.status.INVALID_ARGUMENT, /session_id may contain only/],
    ['no story', { sessionId: 's', recipients: ['+15550000001'] }, grpc.status.INVALID_ARGUMENT, /story is required/],
    ['no valid recipient', { sessionId: 's', story: text, recipients: ['nope', ''] }, grpc.status.INVALID_ARGUMENT, /recipients has no valid recipient/],
    ['too many recipients', { sessionId: 's', story: text, recipients: numbers(20_001) }, grpc.status.INVALID_ARGUMENT, /limit is 20000/],
    ['unknown strategy', { sessionId: 's', story: text, recipients: ['+15550000001'], strategy: 'yolo' }, grpc.status.NOT_FOUND, /strategy "yolo"/],
    ['an image with neither data nor url', { sessionId: 's', story: { image: { caption: 'x' } }, recipients: ['+15550000001'] }, grpc.status.INVALID_ARGUMENT, /story.image needs its media/],
    ['a video url that is not http', { sessionId: 's', story: { video: { url: 'ftp://x/y.mp4' } }, recipients: ['+15550000001'] }, grpc.status.INVALID_ARGUMENT, /story.video.url/],
    ['an image url at the cloud metadata address', { sessionId: 's', story: { image: { url: 'http://169.254.169.254/latest/meta-data/' } }, recipients: ['+15550000001'] }, grpc.status.INVALID_ARGUMENT, /story.image.url must point to a public address.*169.254.169.254/],
    ['a video url on loopback', { sessionId: 's', story: { video: { url: 'http://localhost:8080/v.mp4' } }, recipients: ['+15550000001'] }, grpc.status.INVALID_ARGUMENT, /story.video.url must point to a public address.*localhost/],
    ['an image url at an IPv4-mapped private address', { sessionId: 's', story: { image: { url: 'https://[::ffff:192.168.0.1]/a.jpg' } }, recipients: ['+15550000001'] }, grpc.status.INVALID_ARGUMENT, /story.image.url must point to a public address/],
  ])('rejects %s with the right code and a message naming the field', async (_name, request, code, message) => {
    const { events, error } = await collect(client.sendStory(request));
    expect(events).toEqual([]);
    expect(error?.code).toBe(code);
    expect(error?.details).toMatch(message);
  });

  it('on cancellation ends the stream and starts no batch after the one in flight', async () => {
    const network = t.runtime.transport as SimulatedNetwork;
    const call = client.sendStory({ sessionId: 'cancel-me', story: text, recipients: numbers(19_000), strategy: 'conservative' });
    let callsAtCancel = -1;
    const done = new Promise<grpc.ServiceError | undefined>((resolve) => {
      call.on('data', (e: Loose) => {
        if (e.event === 'batch' && e.batch.index === 1) {
          callsAtCancel = network.calls.filter((c) => c.sessionId === 'cancel-me').length;
          call.cancel();
        }
      });
      call.on('error', resolve);
      call.on('end', () => resolve(undefined));
    });
    const error = await done;
    expect(error?.code).toBe(grpc.status.CANCELLED);
    await until(() => t.server.sends.size === 0);
    const calls = network.calls.filter((c) => c.sessionId === 'cancel-me');
    // The call in flight when the cancel arrived may finish; none starts after it.
    expect(calls.length).toBeLessThanOrEqual(callsAtCancel + 1);
    expect(calls.every((c) => c.outcome !== 'pending')).toBe(true);
  });

  it('tells what a session learned, and forgets it on request', async () => {
    await collect(client.sendStory({ sessionId: 'learner', story: text, recipients: numbers(5101) }));
    const got = await unary(client, 'getSessionLearning', { sessionId: 'learner' });
    expect(got.found).toBe(true);
    expect(got.history).toMatchObject({ sessionId: 'learner', maxProvenBatchSize: 4000, totalSuccessfulSends: '3', totalAttempts: '3', successRate: 1, minFailedBatchSize: 0 });
    expect(Number(got.history.expireTime.seconds) - Number(got.history.lastSuccessfulSend.seconds)).toBe(24 * 3600);
    expect(await unary(client, 'resetSessionLearning', { sessionId: 'learner' })).toEqual({ existed: true });
    expect(await unary(client, 'getSessionLearning', { sessionId: 'learner' })).toMatchObject({ found: false });
    expect(await unary(client, 'resetSessionLearning', { sessionId: 'learner' })).toEqual({ existed: false });
    await expect(unary(client, 'getSessionLearning', { sessionId: '' })).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
  });

  it('lists the strategies and the default', async () => {
    const list = await unary(client, 'listStrategies', {});
    expect(list.defaultStrategy).toBe('adaptive');
    expect(list.strategies.map((s: Loose) => [s.name, s.builtin])).toEqual([
      ['adaptive', true],
      ['conservative', true],
      ['aggressive', true],
      ['bracket', true],
    ]);
  });
});

describe('StoryService over the Connect protocol and gRPC via connect-node clients', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(async () => {
    await t.server.close();
  });

  for (const [name, transport] of [
    ['connect', () => createConnectTransport({ baseUrl: t.url, httpVersion: '2' })],
    ['grpc', () => createGrpcTransport({ baseUrl: t.url })],
  ] as const) {
    it(`${name}: streams a whole send`, async () => {
      const client = createClient(StoryService, transport());
      const events: SendStoryResponse[] = [];
      for await (const e of client.sendStory({ sessionId: `c-${name}`, story: { content: { case: 'text', value: { text: 'hi' } } }, recipients: numbers(3000) })) {
        events.push(e);
      }
      expect(events[0]!.event.case).toBe('planned');
      const last = events.at(-1)!.event;
      expect(last.case).toBe('summary');
      if (last.case === 'summary') expect(last.value.delivered).toBe(3000);
    });

    it(`${name}: errors carry a google.rpc.ErrorInfo a program can branch on`, async () => {
      const client = createClient(StoryService, transport());
      const error = await drain(client.sendStory({ sessionId: 's', story: { content: { case: 'text', value: { text: 'hi' } } }, recipients: ['x'] })).catch(
        (e: unknown) => ConnectError.from(e),
      );
      expect(error).toBeInstanceOf(ConnectError);
      const ce = error as ConnectError;
      expect(ce.code).toBe(Code.InvalidArgument);
      const [info] = ce.findDetails(ErrorInfoSchema);
      expect(info).toMatchObject({ reason: 'NO_VALID_RECIPIENTS', domain: 'storycast', metadata: { field: 'recipients' } });
    });
  }
});

describe('the CLI client against the real server', () => {
  it('sends, shows each batch with the strategy reason, and prints the summary', async () => {
    const t = await startTestServer();
    let out = '';
    let err = '';
    const io = {
      stdout: { write: (text: string) => (out += text), isTTY: false },
      stderr: { write: (text: string) => (err += text) },
      env: {},
    };
    try {
      const code = await runCli(['--server', t.url, '--recipients', '5101', '--session', 'cli'], io);
      expect(err).toBe('');
      expect(code).toBe(0);
      expect(out).toContain('skipping 500, up to 1000');
      expect(out).toMatch(/delivered 5,101\/5,101/);
      expect(out).toContain('proven batch size 4,000');
      expect(await runCli(['--server', t.url, '--session', 'cli', '--recipients', '10', '--strategy', 'nope'], io)).toBe(1);
      expect(err).toContain('UNKNOWN_STRATEGY');
    } finally {
      await t.server.close();
    }
  });
});

describe('StoryService called by grpcurl with no proto files (reflection only)', () => {
  // Installed by .ci/run: go install github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.4
  const run = promisify(execFile);
  let t: TestServer;
  let grpcurl: string;
  beforeAll(async () => {
    t = await startTestServer();
    grpcurl = process.env['GRPCURL'] ?? join((await run('go', ['env', 'GOPATH'])).stdout.trim(), 'bin', 'grpcurl');
  });
  afterAll(async () => {
    await t.server.close();
  });
  // Async: the server runs in this process, so a synchronous child would deadlock it.
  const call = async (method: string, body: object) =>
    (await run(grpcurl, ['-plaintext', '-d', JSON.stringify(body), t.address, `storycast.v1.StoryService/${method}`])).stdout;

  it('streams a send as JSON events', async () => {
    const out = await call('SendStory', { sessionId: 'grpcurl', story: { text: { text: 'hi' } }, recipients: numbers(150) });
    // grpcurl prints each streamed message as a JSON object, separated by blank lines.
    const events = out.trim().split(/\n(?=\{)/).map((chunk) => JSON.parse(chunk) as Record<string, Loose>);
    expect(Object.keys(events[0]!)).toEqual(['planned']);
    expect(Object.keys(events[1]!)).toEqual(['anchor']);
    expect(events.at(-1)!.summary).toMatchObject({ total: 150, delivered: 150 });
  });

  it('lists strategies', async () => {
    const out = JSON.parse(await call('ListStrategies', {})) as { defaultStrategy: string };
    expect(out.defaultStrategy).toBe('adaptive');
  });
});

async function drain(stream: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of stream);
}

function unary(client: Loose, method: string, request: object): Promise<Loose> {
  return new Promise((resolve, reject) => client[method](request, (error: Error | null, response: Loose) => (error ? reject(error) : resolve(response))));
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(condition()).toBe(true);
}
