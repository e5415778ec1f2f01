/**
 * Traces with tracing on: SendStory over a real port continues the caller's
 * W3C trace (RPC span, send span under it, a batch span per batch event), a
 * refused call's span carries its status, a send that stops without a
 * summary still gets its span ended, a send resumed in another process gets a
 * trace of its own, and a real OTLP/HTTP endpoint receives the spans on
 * shutdown. Spans go to an InMemorySpanExporter except in that last test.
 */
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport } from '@connectrpc/connect-node';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { BatchEvent, SummaryEvent } from '../src/engine/events.js';
import { OnDisconnect, StoryService, type SendStoryResponse } from '../src/gen/storycast/v1/story_service_pb.js';
import type { SendRegistry } from '../src/sends/registry.js';
import { createTracing, type Tracing } from '../src/tracing/index.js';
import { numbers } from './support/scripted-transport.js';
import { startTestServer, type TestServer } from './support/storycast-server.js';
import { collectStream } from './support/streams.js';
import { plannedEvent } from './support/events.js';

const story = { content: { case: 'text' as const, value: { text: 'traced' } } };
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN_ID = '00f067aa0ba902b7';
// Sampled (flags 01): the default ParentBased sampler follows the caller's decision.
const TRACEPARENT = `00-${TRACE_ID}-${CALLER_SPAN_ID}-01`;
/** How long a send in the background may take to get where a test waits for it, on a loaded machine. */
const WAIT = { timeout: 10_000 };

async function tracingTo(exporter: InMemorySpanExporter): Promise<Tracing> {
  const tracing = await createTracing({}, { serviceName: 'storycast-test', exporter });
  if (!tracing) throw new Error('tracing with an exporter is on');
  return tracing;
}

/** A test server whose calls and sends are traced, following its registry as main.ts wires it. */
async function tracedServer(tracing: Tracing, env: Record<string, string> = {}): Promise<TestServer> {
  const t = await startTestServer(env, { interceptors: () => [tracing.interceptor()], observe: tracing.observe });
  tracing.follow(t.app.registry);
  return t;
}

const named = (spans: readonly ReadableSpan[], name: string) => spans.filter((s) => s.name === name);
const parentOf = (span: ReadableSpan | undefined) => span?.parentSpanContext?.spanId;
const batchEvents = (events: readonly SendStoryResponse[]) => events.flatMap((e) => (e.event.case === 'batch' ? [e.event.value] : []));

describe('traces of calls and sends', () => {
  const exporter = new InMemorySpanExporter();
  let tracing: Tracing;
  let t: TestServer;

  beforeAll(async () => {
    tracing = await tracingTo(exporter);
    t = await tracedServer(tracing);
  });
  afterEach(() => exporter.reset());
  afterAll(async () => {
    await t?.server.close();
    await tracing?.shutdown();
  });

  it("continues the caller's trace: RPC span, send span under it, a batch span per batch event", async () => {
    const stories = createClient(StoryService, createGrpcTransport({ baseUrl: t.url }));
    const { events, error } = await collectStream(
      stories.sendStory(
        { sessionId: 'traced', story, recipients: numbers(300), strategy: 'conservative' },
        { headers: { traceparent: TRACEPARENT } },
      ),
    );
    expect(error).toBeUndefined();
    const planned = events[0]!.event;
    if (planned.case !== 'planned') throw new Error('the first event is not planned');
    await tracing.flush();
    const spans = exporter.getFinishedSpans();

    const [rpc, ...moreRpc] = named(spans, 'storycast.v1.StoryService/SendStory');
    expect(moreRpc).toHaveLength(0);
    expect(rpc!.kind).toBe(SpanKind.SERVER);
    expect(rpc!.spanContext().traceId).toBe(TRACE_ID);
    expect(parentOf(rpc)).toBe(CALLER_SPAN_ID);
    expect(rpc!.attributes).toMatchObject({
      'rpc.system': 'grpc',
      'rpc.service': 'storycast.v1.StoryService',
      'rpc.method': 'SendStory',
      'rpc.grpc.status_code': 0,
    });
    expect(rpc!.status.code).toBe(SpanStatusCode.UNSET);

    const [send, ...moreSends] = named(spans, 'storycast.send');
    expect(moreSends).toHaveLength(0);
    expect(send!.spanContext().traceId).toBe(TRACE_ID);
    expect(parentOf(send)).toBe(rpc!.spanContext().spanId);
    expect(send!.attributes).toMatchObject({
      'storycast.send.id': planned.value.sendId,
      'storycast.session.id': 'traced',
      'storycast.strategy': 'conservative',
      'storycast.send.total': 300,
      'storycast.send.resumed': false,
    });
    const summary = events.at(-1)!.event;
    if (summary.case !== 'summary') throw new Error('the last event is not the summary');
    expect(send!.attributes['storycast.send.delivered']).toBe(summary.value.delivered);

    const [anchor, ...moreAnchors] = named(spans, 'storycast.anchor');
    expect(moreAnchors).toHaveLength(0);
    expect(parentOf(anchor)).toBe(send!.spanContext().spanId);

    const batches = batchEvents(events);
    expect(batches.length).toBeGreaterThan(1);
    const batchSpans = named(spans, 'storycast.batch');
    expect(batchSpans).toHaveLength(batches.length);
    for (const span of batchSpans) {
      expect(span.spanContext().traceId).toBe(TRACE_ID);
      expect(parentOf(span)).toBe(send!.spanContext().spanId);
    }
    const byIndex = (i: number) =>
      batchSpans.find((s) => s.attributes['storycast.batch.index'] === i && s.attributes['storycast.batch.outcome'] !== 'late');
    for (const batch of batches.filter((b) => !b.late)) {
      const span = byIndex(batch.index);
      expect(span?.attributes).toMatchObject({
        'storycast.batch.size': batch.size,
        'storycast.batch.outcome': batch.ok ? 'ok' : 'failed',
        'storycast.batch.reason': batch.reason,
        'storycast.batch.next_size': batch.nextBatchSize,
        'storycast.batch.remaining': batch.remaining,
      });
      expect(Math.round(span!.attributes['storycast.batch.duration_ms'] as number)).toBe(batch.durationMs);
      if (batch.error) expect(span!.attributes['storycast.batch.error_code']).toBe(batch.error.code);
    }
  });

  it("marks a refused call's span as an error with its gRPC status", async () => {
    const stories = createClient(StoryService, createGrpcTransport({ baseUrl: t.url }));
    const { error } = await collectStream(stories.sendStory({ sessionId: '', story, recipients: numbers(3) }));
    expect(error?.code).toBe(Code.InvalidArgument);
    await tracing.flush();
    const spans = exporter.getFinishedSpans();
    const [rpc] = named(spans, 'storycast.v1.StoryService/SendStory');
    expect(rpc!.status.code).toBe(SpanStatusCode.ERROR);
    expect(rpc!.attributes['rpc.grpc.status_code']).toBe(Code.InvalidArgument);
    expect(rpc!.attributes['storycast.error.reason']).toBe('MISSING_SESSION_ID');
    // No traceparent: a trace of its own, and no send started.
    expect(rpc!.parentSpanContext).toBeUndefined();
    expect(named(spans, 'storycast.send')).toHaveLength(0);
  });

  it('names the Connect protocol as such, with its error code', async () => {
    const stories = createClient(StoryService, createConnectTransport({ baseUrl: t.url, httpVersion: '2' }));
    await expect(stories.getSend({ sendId: 'no-such-send' })).rejects.toThrow(ConnectError);
    await tracing.flush();
    const [rpc] = named(exporter.getFinishedSpans(), 'storycast.v1.StoryService/GetSend');
    expect(rpc!.attributes).toMatchObject({
      'rpc.system': 'connect_rpc',
      'rpc.method': 'GetSend',
      'rpc.connect_rpc.error_code': 'not_found',
    });
    expect(rpc!.status.code).toBe(SpanStatusCode.ERROR);
  });
});

describe('a send that stops here and goes on in another process', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'storycast-tracing-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('ends its span as suspended here, and the next process traces the rest as resumed', async () => {
    const store = `sqlite://${join(dir, 'journal.sqlite')}`;
    const firstSpans = new InMemorySpanExporter();
    const first = await tracingTo(firstSpans);
    // Real time x20 on the slow first-send ramp: the send is still running when the drain checkpoints it.
    const a = await tracedServer(first, { STORYCAST_STORE: store, STORYCAST_SIM_TIME_SCALE: '20' });
    let sendId = '';
    try {
      const stories = createClient(StoryService, createGrpcTransport({ baseUrl: a.url }));
      // The caller leaves after the first batch (CONTINUE: the send goes on), so no stream holds the port open.
      const leave = new AbortController();
      const stream = stories.sendStory(
        { sessionId: 'moving', story, recipients: numbers(6000), strategy: 'conservative', onDisconnect: OnDisconnect.CONTINUE },
        { headers: { traceparent: TRACEPARENT }, signal: leave.signal },
      );
      try {
        for await (const e of stream) {
          if (e.event.case === 'planned') sendId = e.event.value.sendId;
          if (e.event.case === 'batch') leave.abort();
        }
      } catch {
        // Leaving ends the stream with CANCELLED: that is the point.
      }
      await a.app.drain();
      // Ended by its watcher once the journal shows it left unfinished: no summary ever came.
      await vi.waitFor(async () => {
        await first.flush();
        const [send] = named(firstSpans.getFinishedSpans(), 'storycast.send');
        expect(send?.attributes).toMatchObject({ 'storycast.send.id': sendId, 'storycast.send.suspended': true });
        expect(send!.spanContext().traceId).toBe(TRACE_ID);
        // The caller that left: its call ended CANCELLED, before the send did.
        const [rpc] = named(firstSpans.getFinishedSpans(), 'storycast.v1.StoryService/SendStory');
        expect(rpc?.attributes['rpc.grpc.status_code']).toBe(Code.Canceled);
      }, WAIT);
    } finally {
      await a.server.close();
      await first.shutdown();
    }

    const secondSpans = new InMemorySpanExporter();
    const second = await tracingTo(secondSpans);
    const b = await tracedServer(second, { STORYCAST_STORE: store });
    try {
      expect(await b.app.resumeSends()).toBe(1);
      await vi.waitFor(async () => {
        await second.flush();
        expect(named(secondSpans.getFinishedSpans(), 'storycast.send')).toHaveLength(1);
      }, WAIT);
      const spans = secondSpans.getFinishedSpans();
      const [send] = named(spans, 'storycast.send');
      expect(send!.attributes).toMatchObject({ 'storycast.send.id': sendId, 'storycast.send.resumed': true, 'storycast.send.total': 6000 });
      expect(send!.attributes['storycast.send.suspended']).toBeUndefined();
      // Nothing of the first trace survives in the journal: a trace of its own.
      expect(send!.parentSpanContext).toBeUndefined();
      expect(send!.spanContext().traceId).not.toBe(TRACE_ID);
      const batches = named(spans, 'storycast.batch');
      expect(batches.length).toBeGreaterThan(0);
      for (const batch of batches) expect(parentOf(batch)).toBe(send!.spanContext().spanId);
    } finally {
      await b.server.close();
      await second.shutdown();
    }
  });
});

const planned = plannedEvent({ strategy: 'conservative', reason: 'first send', experiment: 'exp-1', arm: 'b' });
const observed = { sendId: 'send-1', planned, resumed: false };
const batch: BatchEvent = {
  type: 'batch',
  index: 0,
  size: 5,
  durationMs: 40,
  ok: false,
  error: { code: 'RATE_LIMITED', message: 'slow down', retryable: true, whatsappCode: 429 },
  speed: 'SLOW',
  delivered: 0,
  failed: 0,
  remaining: 9,
  nextSize: 2,
  reason: 'halved after a rate limit',
};
const summary: SummaryEvent = {
  type: 'summary',
  sendId: 'send-1',
  messageId: 'm-1',
  total: 10,
  delivered: 9,
  failed: [],
  invalid: 0,
  batches: 1,
  batchSequence: [5],
  totalDurationMs: 100,
  learning: { maxProvenBatchSize: 5, usedHistoricalData: false, willSkipRampingNextTime: false },
};

describe('send spans from the observer alone', () => {
  it('ends a failed send with an error, and keeps experiment, arm and the failed batch', async () => {
    const exporter = new InMemorySpanExporter();
    const tracing = await tracingTo(exporter);
    let fail!: (error: Error) => void;
    const failed = new Promise<never>((_, reject) => (fail = reject));
    const registry: Pick<SendRegistry, 'watch'> = {
      // What a watcher of a send that failed without a summary sees: its failure, as the journal keeps it.
      watch: async function* () {
        yield* [];
        await failed;
      },
    };
    tracing.follow(registry);
    tracing.observe(observed, planned);
    tracing.observe(observed, batch);
    fail(Object.assign(new Error('the journal cannot be written'), { reason: 'INTERNAL' }));
    await vi.waitFor(async () => {
      await tracing.flush();
      expect(named(exporter.getFinishedSpans(), 'storycast.send')).toHaveLength(1);
    });
    const spans = exporter.getFinishedSpans();
    const [send] = named(spans, 'storycast.send');
    expect(send!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'the journal cannot be written' });
    expect(send!.attributes).toMatchObject({
      'storycast.experiment': 'exp-1',
      'storycast.experiment.arm': 'b',
      'storycast.send.failure': 'INTERNAL',
    });
    const [failedBatch] = named(spans, 'storycast.batch');
    expect(failedBatch!.status.code).toBe(SpanStatusCode.ERROR);
    expect(failedBatch!.attributes).toMatchObject({
      'storycast.batch.outcome': 'failed',
      'storycast.batch.error_code': 'RATE_LIMITED',
      'storycast.batch.whatsapp_code': 429,
      'storycast.batch.reason': 'halved after a rate limit',
    });
    await tracing.shutdown();
  });

  it('ends the sends still open on shutdown rather than losing them', async () => {
    const exporter = new InMemorySpanExporter();
    const tracing = await tracingTo(exporter);
    tracing.observe(observed, planned);
    const exported = new Promise<ReadableSpan[]>((resolve) => {
      const original = exporter.export.bind(exporter);
      // Shutting down the in-memory exporter forgets its spans: catch them on the way in.
      exporter.export = (spans, done) => {
        resolve(spans);
        original(spans, done);
      };
    });
    await tracing.shutdown();
    const [send] = named(await exported, 'storycast.send');
    expect(send?.attributes['storycast.send.unfinished']).toBe(true);
  });
});

/** A stand-in OTLP collector on a free port, answering every POST with `status`. */
async function startCollector(status: number) {
  const received: { url: string | undefined; type: string | undefined; body: Buffer }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ url: req.url, type: req.headers['content-type'], body: Buffer.concat(chunks) });
      res.writeHead(status, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { received, port: (server.address() as AddressInfo).port, close: () => server.close() };
}

describe('OTLP/HTTP', () => {
  it('POSTs the spans to <endpoint>/v1/traces when shutdown flushes them', async () => {
    const { received, port, close } = await startCollector(200);
    try {
      const tracing = await createTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}/` }, { serviceName: 'storycast-otlp' });
      tracing!.observe(observed, planned);
      tracing!.observe(observed, summary);
      await tracing!.shutdown();
      expect(received).toHaveLength(1);
      expect(received[0]).toMatchObject({ url: '/v1/traces', type: 'application/x-protobuf' });
      // Protobuf keeps strings as they are: the span's name and the service's are in the body.
      expect(received[0]!.body.includes('storycast.send')).toBe(true);
      expect(received[0]!.body.includes('storycast-otlp')).toBe(true);
    } finally {
      close();
    }
  });

  it('logs spans the collector refuses on shutdown, and still stops', async () => {
    const { received, port, close } = await startCollector(400);
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(line) });
    try {
      const tracing = await createTracing({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `http://127.0.0.1:${port}/traces` }, { logger });
      tracing!.observe(observed, planned);
      await expect(tracing!.shutdown()).resolves.toBeUndefined();
      expect(received.map((r) => r.url)).toEqual(['/traces']);
      expect(lines.some((line) => line.includes('traces could not be exported'))).toBe(true);
    } finally {
      close();
    }
  });
});
