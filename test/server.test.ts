/**
 * StoryService at two levels: what the handlers answer, in memory (a connect
 * client over createRouterTransport: the server's own routes, interceptors and
 * limits, no port); and over real HTTP/2 on port 0, called by the canonical gRPC
 * stack (@grpc/grpc-js loading the same .proto files), by the CLI and by grpcurl.
 * Every protocol against one port: server-protocols.test.ts.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { fromJson, type JsonObject } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { Code, ConnectError, createClient, type Client } from '@connectrpc/connect';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { run as runCli } from '../src/cli/send.js';
import { SendMode, SendStoryRequestSchema, Speed, StoryService, type SendStoryRequest } from '../src/gen/storycast/v1/story_service_pb.js';
import type { SimulatedNetwork } from '../src/transport/sim/network.js';
import { historyToProto } from '../src/server/translate.js';
import { createTestApp, startTestServer, type TestApp, type TestServer } from './support/storycast-server.js';
import { numbers } from './support/scripted-transport.js';
import { collectStream } from './support/streams.js';

const protoDir = fileURLToPath(new URL('../proto', import.meta.url));

/** grpc-js builds this client from the .proto at run time: no static shape, what the assertions check is the shape. */
// biome-ignore lint/suspicious/noExplicitAny: a client and messages made by @grpc/proto-loader at run time
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
    const history = {
      sessionId: 'weak',
      maxProvenBatchSize: 427,
      lastSuccessfulSend: 1_000_000,
      totalSuccessfulSends: 3,
      totalAttempts: 6,
      averageBatchTime: 1100,
      successRate: 0.5,
      minFailedBatchSize: 465,
    };
    expect(historyToProto(history, 3_600_000)).toMatchObject({ sessionId: 'weak', maxProvenBatchSize: 427, minFailedBatchSize: 465 });
  });
});

/** A request written as its proto JSON, the shape grpcurl and the .proto docs use. */
const request = (json: JsonObject): SendStoryRequest => fromJson(SendStoryRequestSchema, json);

describe("StoryService in memory (createRouterTransport over the server's handler)", () => {
  let t: TestApp;
  let client: Client<typeof StoryService>;
  beforeAll(async () => {
    t = await createTestApp({ STORYCAST_MAX_RECIPIENTS: '20000' });
    client = createClient(StoryService, t.transport);
  });
  afterAll(async () => {
    await t.close();
  });

  it('streams planned, anchor, one batch per call, summary; the counts add up', async () => {
    const { events, error } = await collectStream(
      client.sendStory(request({ sessionId: 'in-memory', story: text, recipients: numbers(5101) })),
    );
    expect(error).toBeUndefined();
    const kinds = events.map((e) => e.event.case);
    expect(kinds[0]).toBe('planned');
    expect(kinds[1]).toBe('anchor');
    expect(kinds.at(-1)).toBe('summary');
    expect(kinds.slice(2, -1).every((k) => k === 'batch')).toBe(true);
    const batches = events.flatMap((e) => (e.event.case === 'batch' ? [e.event.value] : []));
    expect(batches.map((b) => b.size)).toEqual([100, 1000, 4000]);
    expect(batches[0]).toMatchObject({ ok: true, speed: Speed.FAST, durationMs: 770, nextBatchSize: 1000 });
    const last = events.at(-1)!.event;
    const anchor = events[1]!.event;
    if (last.case !== 'summary' || anchor.case !== 'anchor') throw new Error(`${anchor.case} ... ${last.case}`);
    expect(last.value).toMatchObject({
      total: 5101,
      delivered: 5101,
      failed: [],
      batches: 3,
      batchSequence: [100, 1000, 4000],
      stoppedBy: '',
    });
    expect(last.value.sessionLearning).toMatchObject({
      maxProvenBatchSize: 4000,
      usedHistoricalData: false,
      willSkipRampingNextTime: true,
    });
    expect(last.value.messageId).toBe(anchor.value.messageId);
    const network = t.runtime.transport as SimulatedNetwork;
    expect(network.oracle.calls.filter((c) => c.sessionId === 'in-memory')).toHaveLength(4);
  });

  it('reports invalid recipients in planned and accounts for every valid one', async () => {
    const { events } = await collectStream(
      client.sendStory(request({ sessionId: 'invalid', story: text, recipients: ['+1 555-000 0001', 'nope', '15550000001', '123'] })),
    );
    const planned = events[0]!.event;
    const summary = events.at(-1)!.event;
    if (planned.case !== 'planned' || summary.case !== 'summary') throw new Error(`${planned.case} ... ${summary.case}`);
    expect(planned.value).toMatchObject({ totalRecipients: 1, duplicateRecipients: 1, mode: SendMode.SINGLE });
    expect(planned.value.invalidRecipients.map((i) => i.input)).toEqual(['nope', '123']);
    expect(summary.value).toMatchObject({ total: 1, delivered: 1, invalid: 2 });
  });

  it.each([
    ['no session id', { sessionId: '', story: text, recipients: ['+15550000001'] }, Code.InvalidArgument, /session_id/],
    [
      'a session id with spaces',
      { sessionId: 'my phone', story: text, recipients: ['+15550000001'] },
      Code.InvalidArgument,
      /session_id may contain only/,
    ],
    ['no story', { sessionId: 's', recipients: ['+15550000001'] }, Code.InvalidArgument, /story is required/],
    [
      'no valid recipient',
      { sessionId: 's', story: text, recipients: ['nope', ''] },
      Code.InvalidArgument,
      /recipients has no valid recipient/,
    ],
    ['too many recipients', { sessionId: 's', story: text, recipients: numbers(20_001) }, Code.InvalidArgument, /limit is 20000/],
    ['unknown strategy', { sessionId: 's', story: text, recipients: ['+15550000001'], strategy: 'yolo' }, Code.NotFound, /strategy "yolo"/],
    [
      'an image with neither data nor url',
      { sessionId: 's', story: { image: { caption: 'x' } }, recipients: ['+15550000001'] },
      Code.InvalidArgument,
      /story.image needs its media/,
    ],
    [
      'a video url that is not http',
      { sessionId: 's', story: { video: { url: 'ftp://x/y.mp4' } }, recipients: ['+15550000001'] },
      Code.InvalidArgument,
      /story.video.url/,
    ],
    [
      'an image url at the cloud metadata address',
      { sessionId: 's', story: { image: { url: 'http://169.254.169.254/latest/meta-data/' } }, recipients: ['+15550000001'] },
      Code.InvalidArgument,
      /story.image.url must point to a public address.*169.254.169.254/,
    ],
    [
      'a video url on loopback',
      { sessionId: 's', story: { video: { url: 'http://localhost:8080/v.mp4' } }, recipients: ['+15550000001'] },
      Code.InvalidArgument,
      /story.video.url must point to a public address.*localhost/,
    ],
    [
      'an image url at an IPv4-mapped private address',
      { sessionId: 's', story: { image: { url: 'https://[::ffff:192.168.0.1]/a.jpg' } }, recipients: ['+15550000001'] },
      Code.InvalidArgument,
      /story.image.url must point to a public address/,
    ],
  ])('rejects %s with the right code and a message naming the field', async (_name, json, code, message) => {
    const { events, error } = await collectStream(client.sendStory(request(json)));
    expect(events).toEqual([]);
    expect(error?.code).toBe(code);
    expect(error?.rawMessage).toMatch(message);
  });

  it('tells what a session learned, and forgets it on request', async () => {
    await collectStream(client.sendStory(request({ sessionId: 'learner', story: text, recipients: numbers(5101) })));
    const got = await client.getSessionLearning({ sessionId: 'learner' });
    expect(got.found).toBe(true);
    expect(got.history).toMatchObject({
      sessionId: 'learner',
      maxProvenBatchSize: 4000,
      totalSuccessfulSends: 3n,
      totalAttempts: 3n,
      successRate: 1,
      minFailedBatchSize: 0,
    });
    expect(got.history!.expireTime!.seconds - got.history!.lastSuccessfulSend!.seconds).toBe(24n * 3600n);
    expect((await client.resetSessionLearning({ sessionId: 'learner' })).existed).toBe(true);
    expect((await client.getSessionLearning({ sessionId: 'learner' })).found).toBe(false);
    expect((await client.resetSessionLearning({ sessionId: 'learner' })).existed).toBe(false);
    const error = await client.getSessionLearning({ sessionId: '' }).catch((e: unknown) => ConnectError.from(e));
    expect((error as ConnectError).code).toBe(Code.InvalidArgument);
  });

  it('lists the strategies and the default', async () => {
    const list = await client.listStrategies({});
    expect(list.defaultStrategy).toBe('adaptive');
    expect(list.strategies.map((s) => [s.name, s.builtin])).toEqual([
      ['adaptive', true],
      ['conservative', true],
      ['aggressive', true],
      ['bracket', true],
    ]);
  });
});

// One real server for every suite below: what they check is the wire, and each uses its own session ids.
let wire: TestServer;
beforeAll(async () => {
  wire = await startTestServer({ STORYCAST_MAX_RECIPIENTS: '20000' });
});
afterAll(async () => {
  await wire.server.close();
});

describe('StoryService over gRPC (@grpc/grpc-js with the .proto files)', () => {
  let client: Loose;
  beforeAll(() => {
    client = grpcClient(wire.address);
  });
  afterAll(() => client.close());

  it('streams a send as proto-loader reads it: oneof names, enum names, the summary', async () => {
    const { events, error } = await collect(client.sendStory({ sessionId: 'grpc-js', story: text, recipients: numbers(5101) }));
    expect(error).toBeUndefined();
    const kinds = events.map((e) => e.event);
    expect(kinds).toEqual(['planned', 'anchor', 'batch', 'batch', 'batch', 'summary']);
    expect(events[2].batch).toMatchObject({ ok: true, speed: 'SPEED_FAST', durationMs: 770, nextBatchSize: 1000 });
    expect(events[0].planned.mode).toBe('SEND_MODE_SMART');
    const summary = events.at(-1).summary;
    expect(summary).toMatchObject({
      total: 5101,
      delivered: 5101,
      failed: [],
      batches: 3,
      batchSequence: [100, 1000, 4000],
      stoppedBy: '',
    });
    expect(summary.totalDurationMs).toMatch(/^\d+$/); // uint64 as a decimal string (longs: String)
    expect(summary.messageId).toBe(events[1].anchor.messageId);
  });

  it('ends a refused call with the gRPC status and the message as details', async () => {
    const { events, error } = await collect(
      client.sendStory({ sessionId: 's', story: { video: { url: 'http://localhost:8080/v.mp4' } }, recipients: ['+15550000001'] }),
    );
    expect(events).toEqual([]);
    expect(error?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(error?.details).toMatch(/story.video.url must point to a public address.*localhost/);
  });

  it('on cancellation ends the stream and starts no batch after the one in flight', async () => {
    const network = wire.runtime.transport as SimulatedNetwork;
    const call = client.sendStory({ sessionId: 'cancel-me', story: text, recipients: numbers(19_000), strategy: 'conservative' });
    let callsAtCancel = -1;
    const done = new Promise<grpc.ServiceError | undefined>((resolve) => {
      call.on('data', (e: Loose) => {
        if (e.event === 'batch' && e.batch.index === 1) {
          callsAtCancel = network.oracle.calls.filter((c) => c.sessionId === 'cancel-me').length;
          call.cancel();
        }
      });
      call.on('error', resolve);
      call.on('end', () => resolve(undefined));
    });
    const error = await done;
    expect(error?.code).toBe(grpc.status.CANCELLED);
    await vi.waitFor(() => expect(wire.app.sends.size).toBe(0), { timeout: 5000 });
    const calls = network.oracle.calls.filter((c) => c.sessionId === 'cancel-me');
    // The call in flight when the cancel arrived may finish; none starts after it.
    expect(calls.length).toBeLessThanOrEqual(callsAtCancel + 1);
    expect(calls.every((c) => c.outcome !== 'pending')).toBe(true);
  });

  it('answers unary calls: session learning with its timestamps, the strategies', async () => {
    await collect(client.sendStory({ sessionId: 'grpc-js-unary', story: text, recipients: numbers(300) }));
    const got = await unary(client, 'getSessionLearning', { sessionId: 'grpc-js-unary' });
    expect(got.found).toBe(true);
    expect(got.history.sessionId).toBe('grpc-js-unary');
    expect(got.history.maxProvenBatchSize).toBeGreaterThan(0);
    expect(got.history.totalSuccessfulSends).toMatch(/^[1-9]\d*$/); // uint64 as a decimal string (longs: String)
    expect(Number(got.history.expireTime.seconds) - Number(got.history.lastSuccessfulSend.seconds)).toBe(24 * 3600);
    const list = await unary(client, 'listStrategies', {});
    expect(list.defaultStrategy).toBe('adaptive');
    expect(list.strategies.map((s: Loose) => s.name)).toEqual(['adaptive', 'conservative', 'aggressive', 'bracket']);
  });
});

describe('the CLI client against the real server', () => {
  it('sends, shows each batch with the strategy reason, and prints the summary', async () => {
    let out = '';
    let err = '';
    const io = {
      stdout: { write: (text: string) => (out += text), isTTY: false },
      stderr: { write: (text: string) => (err += text) },
      env: {},
    };
    const code = await runCli(['--server', wire.url, '--recipients', '5101', '--session', 'cli'], io);
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out).toContain('skipping 500, up to 1000');
    expect(out).toMatch(/delivered 5,101\/5,101/);
    expect(out).toContain('proven batch size 4,000');
    expect(await runCli(['--server', wire.url, '--session', 'cli', '--recipients', '10', '--strategy', 'nope'], io)).toBe(1);
    expect(err).toContain('UNKNOWN_STRATEGY');
  });
});

describe('StoryService called by grpcurl with no proto files (reflection only)', () => {
  // Installed by .ci/run: go install github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.4
  const run = promisify(execFile);
  let grpcurl: string;
  beforeAll(async () => {
    grpcurl = process.env['GRPCURL'] ?? join((await run('go', ['env', 'GOPATH'])).stdout.trim(), 'bin', 'grpcurl');
  });
  // Async: the server runs in this process, so a synchronous child would deadlock it.
  const call = async (method: string, body: object) =>
    (await run(grpcurl, ['-plaintext', '-d', JSON.stringify(body), wire.address, `storycast.v1.StoryService/${method}`])).stdout;

  it('streams a send as JSON events', async () => {
    const out = await call('SendStory', { sessionId: 'grpcurl', story: { text: { text: 'hi' } }, recipients: numbers(150) });
    // grpcurl prints each streamed message as a JSON object, separated by blank lines.
    const events = out
      .trim()
      .split(/\n(?=\{)/)
      .map((chunk) => JSON.parse(chunk) as Record<string, Loose>);
    expect(Object.keys(events[0]!)).toEqual(['planned']);
    expect(Object.keys(events[1]!)).toEqual(['anchor']);
    expect(events.at(-1)!.summary).toMatchObject({ total: 150, delivered: 150 });
  });

  it('lists strategies', async () => {
    const out = JSON.parse(await call('ListStrategies', {})) as { defaultStrategy: string };
    expect(out.defaultStrategy).toBe('adaptive');
  });

  it("prints an error's ErrorInfo in plain text, its type found through reflection", async () => {
    const failed = await call('SendStory', { sessionId: 'grpcurl', story: { text: { text: 'hi' } }, recipients: [] }).then(
      () => undefined,
      (error: { stdout: string; stderr: string }) => error,
    );
    expect(failed).toBeDefined();
    const printed = `${failed!.stdout}${failed!.stderr}`;
    expect(printed).toContain('Code: InvalidArgument');
    expect(printed).not.toContain('is not recognized');
    expect(printed).toContain('"@type": "type.googleapis.com/google.rpc.ErrorInfo"');
    expect(printed).toMatch(/"reason": "[A-Z_]+"/);
    expect(printed).toContain('"field": "recipients"');
  });
});

function unary(client: Loose, method: string, request: object): Promise<Loose> {
  return new Promise((resolve, reject) =>
    client[method](request, (error: Error | null, response: Loose) => (error ? reject(error) : resolve(response))),
  );
}
