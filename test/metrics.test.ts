/**
 * Prometheus metrics end to end: a real server on port 0 with the metrics
 * interceptor and send observer, real sends on the simulated network over
 * gRPC, then /metrics scraped over HTTP and read back sample by sample.
 */
import { Code, ConnectError, createClient, type Client } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ExperimentService } from '../src/gen/storycast/v1/experiment_service_pb.js';
import { SessionService } from '../src/gen/storycast/v1/session_service_pb.js';
import { StoryService, type SendStoryRequest, type SendStoryResponse } from '../src/gen/storycast/v1/story_service_pb.js';
import { createMetrics, rpcMetrics, sendMetrics, serveMetrics, type Metrics, type MetricsEndpoint } from '../src/metrics/index.js';
import type { SimulatedNetwork } from '../src/transport/sim/network.js';
import { numbers } from './support/scripted-transport.js';
import { startTestServer, type TestServer } from './support/storycast-server.js';
import { collectStream } from './support/streams.js';

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = `[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\["\\\\n])*"`;
// Prometheus reads values with Go's ParseFloat, case-blind for NaN and Inf: prom-client writes "Nan".
const VALUE = '(?:[+-]?(?:\\d+(?:\\.\\d*)?|\\.\\d+)(?:[eE][+-]?\\d+)?|[Nn]a[Nn]|[+-]Inf)';
const SAMPLE_LINE = new RegExp(`^(${NAME})(?:\\{((?:${LABEL})(?:,${LABEL})*)?\\})? (${VALUE})(?: -?\\d+)?$`);
const META_LINE = new RegExp(`^# (?:HELP ${NAME} .*|TYPE ${NAME} (?:counter|gauge|histogram|summary|untyped))$`);
const LABEL_PAIR = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"/g;

/** The text exposition format, line by line: every line a comment, a HELP/TYPE line or a well-formed sample. */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || META_LINE.test(line)) continue;
    const m = SAMPLE_LINE.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(LABEL_PAIR)) labels[k!] = v!.replace(/\\n/g, '\n').replace(/\\(["\\])/g, '$1');
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

/** The sum of every sample of `name` whose labels include `labels`. */
function total(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

async function scrape(endpoint: MetricsEndpoint): Promise<{ text: string; samples: Sample[] }> {
  const res = await fetch(endpoint.url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  return { text, samples: parseExposition(text) };
}

/** How long a hanging call lasts in real time: SMART_SEND_BATCH_TIMEOUT_MS at the simulation's 1000x. */
const HANG_MS = 2000;
const story = { content: { case: 'text' as const, value: { text: 'metrics' } } };
const sendStory = { grpc_service: 'storycast.v1.StoryService', grpc_method: 'SendStory', grpc_type: 'server_stream' };
const summaryOf = (events: readonly SendStoryResponse[]) => {
  const last = events.at(-1)?.event;
  if (last?.case !== 'summary') throw new Error(`the stream did not end with a summary: ${last?.case}`);
  return last.value;
};
const plannedOf = (events: readonly SendStoryResponse[]) => {
  const first = events[0]?.event;
  if (first?.case !== 'planned') throw new Error('the stream did not start with planned');
  return first.value;
};

describe('Prometheus metrics of a running server', () => {
  let s: TestServer;
  let metrics: Metrics;
  let endpoint: MetricsEndpoint;
  let stories: Client<typeof StoryService>;
  let sessions: Client<typeof SessionService>;
  let experiments: Client<typeof ExperimentService>;
  /** Every send's stream as the client read it, to check the counters against. */
  const streams: SendStoryResponse[][] = [];
  const sessionIds = ['metrics-alpha', 'metrics-beta', 'metrics-gamma', 'metrics-delta', 'metrics-epsilon'];

  const send = async (over: Partial<SendStoryRequest>, n: number) => {
    const { events, error } = await collectStream(
      stories.sendStory({ sessionId: sessionIds[0], story, recipients: numbers(n), ...over } as SendStoryRequest),
    );
    expect(error).toBeUndefined();
    streams.push(events);
    return events;
  };

  beforeAll(async () => {
    metrics = createMetrics();
    s = await startTestServer(
      { STORYCAST_SIM_TIME_SCALE: '1000', SMART_SEND_BATCH_TIMEOUT_MS: String(HANG_MS * 1000) },
      { interceptors: () => [rpcMetrics(metrics)], observe: sendMetrics(metrics) },
    );
    metrics.watch({ sendsInFlight: () => s.app.sends.size, sessions: () => s.runtime.sessions.list() });
    endpoint = await serveMetrics(metrics, { host: '127.0.0.1', port: 0 });
    const transport = createGrpcTransport({ baseUrl: s.url });
    stories = createClient(StoryService, transport);
    sessions = createClient(SessionService, transport);
    experiments = createClient(ExperimentService, transport);
  });
  afterAll(async () => {
    await endpoint?.close();
    await s?.server.close();
  });

  it('counts calls by method and grpc_code, and every message each way', async () => {
    await send({ sessionId: sessionIds[0], strategy: 'conservative' }, 3000);
    await send({ sessionId: sessionIds[1] }, 400);
    const bad = await collectStream(stories.sendStory({ sessionId: sessionIds[1], story, recipients: ['nope'] } as SendStoryRequest));
    expect(bad.error?.code).toBe(Code.InvalidArgument);
    const missing = await sessions.getSession({ sessionId: 'metrics-nobody' }).catch((e: unknown) => ConnectError.from(e));
    const unaryCode = missing instanceof ConnectError ? 'NotFound' : 'OK';

    const { samples } = await scrape(endpoint);
    expect(total(samples, 'grpc_server_started_total', sendStory)).toBe(3);
    expect(total(samples, 'grpc_server_handled_total', { ...sendStory, grpc_code: 'OK' })).toBe(2);
    expect(total(samples, 'grpc_server_handled_total', { ...sendStory, grpc_code: 'InvalidArgument' })).toBe(1);
    expect(total(samples, 'grpc_server_handled_total', sendStory)).toBe(3);
    expect(total(samples, 'grpc_server_handling_seconds_count', sendStory)).toBe(3);
    // One request each; every streamed event the clients read, and nothing else.
    expect(total(samples, 'grpc_server_msg_received_total', sendStory)).toBe(3);
    expect(total(samples, 'grpc_server_msg_sent_total', sendStory)).toBe(streams.flat().length);

    const getSession = { grpc_service: 'storycast.v1.SessionService', grpc_method: 'GetSession', grpc_type: 'unary' };
    expect(total(samples, 'grpc_server_handled_total', { ...getSession, grpc_code: unaryCode })).toBe(1);
    expect(total(samples, 'grpc_server_msg_received_total', getSession)).toBe(1);
    expect(total(samples, 'grpc_server_msg_sent_total', getSession)).toBe(unaryCode === 'OK' ? 1 : 0);
  });

  it("counts batches, recipients and sends as the sends' own summaries tell them", async () => {
    await experiments.createExperiment({
      experiment: {
        key: 'metrics-exp',
        description: 'per-arm metrics',
        arms: [
          { name: 'control', strategy: 'adaptive', weight: 1, control: true },
          { name: 'bracket', strategy: 'bracket', weight: 1, control: false },
        ],
      },
    });
    await send({ sessionId: sessionIds[2], experiment: 'metrics-exp' }, 300);
    await send({ sessionId: sessionIds[3], experiment: 'metrics-exp' }, 200);
    const { samples } = await scrape(endpoint);

    const summaries = streams.map(summaryOf);
    const delivered = summaries.reduce((n, x) => n + x.delivered, 0);
    const failed = summaries.reduce((n, x) => n + x.failed.length, 0);
    expect(delivered + failed).toBe(summaries.reduce((n, x) => n + x.total, 0));
    expect(total(samples, 'storycast_recipients_total', { outcome: 'delivered' })).toBe(delivered);
    expect(total(samples, 'storycast_recipients_total', { outcome: 'failed' })).toBe(failed);
    expect(total(samples, 'storycast_sends_total')).toBe(streams.length);

    for (const strategy of new Set(streams.map((e) => plannedOf(e).strategy))) {
      const mine = streams.filter((e) => plannedOf(e).strategy === strategy);
      const calls = mine.flatMap((e) => e.flatMap((x) => (x.event.case === 'batch' && !x.event.value.late ? [x.event.value] : [])));
      const sizes = mine.flatMap((e) => summaryOf(e).batchSequence);
      expect(calls.length, strategy).toBe(mine.reduce((n, e) => n + summaryOf(e).batches, 0));
      expect(total(samples, 'storycast_batches_total', { strategy, outcome: 'ok' }), strategy).toBe(calls.filter((c) => c.ok).length);
      expect(total(samples, 'storycast_batches_total', { strategy, outcome: 'failed' }), strategy).toBe(calls.filter((c) => !c.ok).length);
      expect(total(samples, 'storycast_batch_size_count', { strategy }), strategy).toBe(sizes.length);
      expect(total(samples, 'storycast_batch_size_sum', { strategy }), strategy).toBe(sizes.reduce((n, x) => n + x, 0));
      expect(total(samples, 'storycast_batch_duration_seconds_count', { strategy }), strategy).toBe(calls.length);
      expect(total(samples, 'storycast_send_duration_seconds_count', { strategy }), strategy).toBe(mine.length);
      // The +Inf bucket holds every observation: the histogram is cumulative and complete.
      expect(total(samples, 'storycast_batch_size_bucket', { strategy, le: '+Inf' }), strategy).toBe(sizes.length);
    }
    // Failed calls carry their transport code, ok ones none.
    for (const x of samples.filter((x) => x.name === 'storycast_batches_total')) {
      if (x.labels.outcome === 'failed') expect(x.labels.code).toMatch(/^[A-Z_]+$/);
      else expect(x.labels.code).toBe('');
    }

    const byArm = streams.filter((e) => plannedOf(e).experiment === 'metrics-exp');
    expect(byArm).toHaveLength(2);
    expect(total(samples, 'storycast_experiment_sends_total', { experiment: 'metrics-exp' })).toBe(2);
    for (const arm of ['control', 'bracket']) {
      const mine = byArm.filter((e) => plannedOf(e).arm === arm).map(summaryOf);
      const labels = { experiment: 'metrics-exp', arm };
      expect(total(samples, 'storycast_experiment_sends_total', labels), arm).toBe(mine.length);
      expect(total(samples, 'storycast_experiment_recipients_total', { ...labels, outcome: 'delivered' }), arm).toBe(
        mine.reduce((n, x) => n + x.delivered, 0),
      );
    }
  });

  it('shows a running send in flight, counts its cancellation, and comes back to 0', async () => {
    // Its anchor hangs until the batch timeout (HANG_MS real), and a cancelled send still waits for its call in flight:
    // the scrape right after `planned` has all of HANG_MS to see it running. Nothing else in the suite hangs.
    (s.runtime.transport as SimulatedNetwork).controls.failNext(sessionIds[4]!, 'TIMEOUT');
    const controller = new AbortController();
    const seen: SendStoryResponse[] = [];
    let during: Sample[] = [];
    try {
      for await (const e of stories.sendStory(
        { sessionId: sessionIds[4], story, recipients: numbers(10_000), strategy: 'conservative' } as SendStoryRequest,
        { signal: controller.signal },
      )) {
        seen.push(e);
        if (e.event.case === 'planned') {
          during = (await scrape(endpoint)).samples;
          controller.abort();
        }
      }
    } catch {
      // The abort ends the call with CANCELLED on this side: that is the point.
    }
    expect(total(during, 'storycast_sends_in_flight')).toBe(1);

    const sendId = plannedOf(seen).sendId;
    await vi.waitFor(
      async () => {
        const { samples } = await scrape(endpoint);
        expect(total(samples, 'storycast_sends_in_flight')).toBe(0);
        expect(total(samples, 'grpc_server_handled_total', { ...sendStory, grpc_code: 'Canceled' })).toBe(1);
        expect(total(samples, 'storycast_sends_total', { outcome: 'cancelled' })).toBe(1);
      },
      { timeout: HANG_MS * 5 },
    );
    const replay = await collectStream(stories.watchSend({ sendId }));
    const summary = summaryOf(replay.events);
    expect(summary).toMatchObject({ stoppedBy: 'CANCELLED', delivered: 0, total: 10_000 });
    streams.push(replay.events);

    // The cancelled send's recipients are counted too, once: the sums still match every summary.
    const { samples } = await scrape(endpoint);
    const summaries = streams.map(summaryOf);
    expect(total(samples, 'storycast_recipients_total', { outcome: 'delivered' })).toBe(summaries.reduce((n, x) => n + x.delivered, 0));
    expect(total(samples, 'storycast_recipients_total', { outcome: 'failed' })).toBe(summaries.reduce((n, x) => n + x.failed.length, 0));
    expect(total(samples, 'storycast_recipients_total')).toBe(summaries.reduce((n, x) => n + x.total, 0));
  });

  it('reports sessions by state, every state present', async () => {
    for (const sessionId of sessionIds) await collectStream(sessions.connectSession({ sessionId }));
    let { samples } = await scrape(endpoint);
    const open = s.runtime.sessions.list().filter((x) => x.state === 'open');
    expect(open.map((x) => x.id)).toEqual(expect.arrayContaining(sessionIds));
    expect(total(samples, 'storycast_sessions', { state: 'open' })).toBe(open.length);
    expect(total(samples, 'storycast_sessions', { state: 'logged-out' })).toBe(0);

    await sessions.logoutSession({ sessionId: sessionIds[3] });
    ({ samples } = await scrape(endpoint));
    expect(total(samples, 'storycast_sessions', { state: 'open' })).toBe(open.length - 1);
    expect(total(samples, 'storycast_sessions', { state: 'logged-out' })).toBe(1);
    const states = samples.filter((x) => x.name === 'storycast_sessions').map((x) => x.labels.state);
    expect(states).toEqual(expect.arrayContaining(['connecting', 'pairing', 'open', 'closed', 'banned', 'failed']));
  });

  it('parses as the text format throughout, and no label carries a session, a send or a number', async () => {
    const { text, samples } = await scrape(endpoint);
    // parseExposition threw on any malformed line; the process metrics are there too.
    expect(samples.length).toBeGreaterThan(50);
    expect(total(samples, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(samples.some((x) => x.name === 'nodejs_eventloop_lag_seconds')).toBe(true);

    const sendIds = streams.map((e) => plannedOf(e).sendId);
    expect(sendIds.every((id) => id.length > 0)).toBe(true);
    for (const id of [...sessionIds, 'metrics-nobody', ...sendIds]) expect(text).not.toContain(id);
    for (const x of samples) {
      for (const [k, v] of Object.entries(x.labels)) {
        // Recipient numbers and ids are long digit runs; versions and bucket bounds are not.
        expect(v, `${x.name} ${k}`).not.toMatch(/\d{6,}/);
        expect(v, `${x.name} ${k}`).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}/i);
      }
    }
  });
});
