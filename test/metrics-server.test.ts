/**
 * The metrics parts on their own: the /metrics endpoint, registries kept
 * apart, store errors counted from the throttled logger, scrape-time gauges
 * and the send observer's edges (late acks, unknown codes, bad input).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { BatchEvent, SummaryEvent } from '../src/engine/events.js';
import { silentLogger } from '../src/log.js';
import { createMetrics, sendMetrics, serveMetrics, type MetricsEndpoint } from '../src/metrics/index.js';
import type { ObservedSend } from '../src/sends/registry-types.js';
import { throttledErrorLogger } from '../src/store/throttled-errors.js';
import type { TransportErrorCode } from '../src/transport/port.js';
import { plannedEvent } from './support/events.js';

/** One sample's value from the exposition, 0 when absent. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

const planned = plannedEvent({ experiment: 'exp', arm: 'b' });
const observed: ObservedSend = { sendId: 'send-1', planned, resumed: false };
const batch = (over: Partial<BatchEvent>): BatchEvent => ({
  type: 'batch',
  index: 0,
  size: 5,
  durationMs: 1500,
  ok: true,
  speed: 'NORMAL',
  delivered: 5,
  failed: 0,
  remaining: 5,
  nextSize: 5,
  reason: '',
  ...over,
});
const summary = (over: Partial<SummaryEvent>): SummaryEvent => ({
  type: 'summary',
  sendId: 'send-1',
  messageId: 'm',
  total: 10,
  delivered: 9,
  failed: [{ recipient: '+15550000001', code: 'TIMEOUT', reason: 'timed out' }],
  invalid: 0,
  batches: 2,
  batchSequence: [5, 5],
  totalDurationMs: 4000,
  learning: { maxProvenBatchSize: 5, usedHistoricalData: false, willSkipRampingNextTime: false },
  ...over,
});

describe('serveMetrics', () => {
  let endpoint: MetricsEndpoint | undefined;
  afterEach(async () => {
    await endpoint?.close();
  });

  it('answers GET and HEAD /metrics on a port it picked, 404 elsewhere, 405 for other methods', async () => {
    const metrics = createMetrics();
    endpoint = await serveMetrics(metrics, { host: '127.0.0.1', port: 0 });
    expect(endpoint.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect(endpoint.url).not.toContain(':0/');

    const res = await fetch(`${endpoint.url}?name[]=x`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(metrics.registry.contentType);
    expect(await res.text()).toContain('# TYPE grpc_server_handled_total counter');
    const head = await fetch(endpoint.url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');

    const base = endpoint.url.replace(/\/metrics$/, '');
    for (const path of ['/', '/metricsx', '/metrics/', '/favicon.ico']) expect((await fetch(`${base}${path}`)).status, path).toBe(404);
    const post = await fetch(endpoint.url, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('closes once, dropping kept-alive scrapers, and frees the port', async () => {
    endpoint = await serveMetrics(createMetrics(), { host: '127.0.0.1', port: 0 });
    await (await fetch(endpoint.url)).text();
    const url = endpoint.url;
    await Promise.all([endpoint.close(), endpoint.close()]);
    await expect(fetch(url)).rejects.toThrow();
    endpoint = undefined;
  });

  it('reports a port it cannot take', async () => {
    endpoint = await serveMetrics(createMetrics(), { host: '127.0.0.1', port: 0 });
    const port = Number(new URL(endpoint.url).port);
    await expect(serveMetrics(createMetrics(), { host: '127.0.0.1', port })).rejects.toThrow(/EADDRINUSE/);
  });
});

describe('createMetrics', () => {
  it('keeps each registry apart: counts in one never show in another', async () => {
    const a = createMetrics();
    const b = createMetrics();
    sendMetrics(a)(observed, summary({}));
    expect(sample(await a.registry.metrics(), 'storycast_recipients_total{outcome="delivered"}')).toBe(9);
    expect(sample(await b.registry.metrics(), 'storycast_recipients_total{outcome="delivered"}')).toBe(0);
    // Both carry the standard process metrics, unprefixed.
    for (const m of [a, b]) expect(await m.registry.metrics()).toMatch(/^process_cpu_user_seconds_total \d/m);
  });

  it('counts every store error, throttled ones too, by a fixed store name and never its URL', async () => {
    const metrics = createMetrics();
    const read = async (store: string) => sample(await metrics.registry.metrics(), `storycast_store_errors_total{store="${store}"}`);
    const [sendBefore, otherBefore] = [await read('send store'), await read('other')];
    const sendStore = throttledErrorLogger(silentLogger, { store: 'redis://user:secret@db.internal:6379', message: 'send store error' });
    for (let i = 0; i < 3; i++) sendStore(new Error('ECONNREFUSED'));
    throttledErrorLogger(silentLogger, { store: 'x', message: 'a store for +15550000001 error' })(new Error('boom'));

    expect((await read('send store')) - sendBefore).toBe(3);
    expect((await read('other')) - otherBefore).toBe(1);
    const text = await metrics.registry.metrics();
    expect(text).not.toContain('secret');
    expect(text).not.toContain('15550000001');
  });

  it('reads the gauges at scrape from what it watches, and survives a source that throws', async () => {
    const metrics = createMetrics();
    expect(await metrics.registry.metrics()).not.toContain('storycast_sessions{');
    let running = 3;
    const at = Date.now();
    metrics.watch({
      sendsInFlight: () => running,
      sessions: () => [
        { id: 'a', state: 'open', updatedAt: at },
        { id: 'b', state: 'open', updatedAt: at },
        { id: 'c', state: 'banned', updatedAt: at },
      ],
    });
    let text = await metrics.registry.metrics();
    expect(sample(text, 'storycast_sends_in_flight')).toBe(3);
    expect(sample(text, 'storycast_sessions{state="open"}')).toBe(2);
    expect(sample(text, 'storycast_sessions{state="banned"}')).toBe(1);
    expect(text).toContain('storycast_sessions{state="pairing"} 0');

    running = 0;
    metrics.watch({
      sessions: () => {
        throw new Error('runtime closed');
      },
    });
    text = await metrics.registry.metrics();
    expect(sample(text, 'storycast_sends_in_flight')).toBe(0);
    expect(text).not.toContain('storycast_sessions{');
  });
});

describe('sendMetrics', () => {
  it('counts a late ack as late, without taking it for a call', async () => {
    const metrics = createMetrics();
    const observe = sendMetrics(metrics);
    observe(observed, batch({}));
    observe(observed, batch({ index: 1, ok: false, error: { code: 'TIMEOUT', message: 't', retryable: true } }));
    observe(observed, batch({ index: 1, late: true, size: 5, durationMs: 90_000 }));
    const text = await metrics.registry.metrics();
    expect(sample(text, 'storycast_batches_total{strategy="adaptive",outcome="ok",code=""}')).toBe(1);
    expect(sample(text, 'storycast_batches_total{strategy="adaptive",outcome="failed",code="TIMEOUT"}')).toBe(1);
    expect(sample(text, 'storycast_batches_total{strategy="adaptive",outcome="late",code=""}')).toBe(1);
    expect(sample(text, 'storycast_batch_size_count{strategy="adaptive"}')).toBe(2);
    expect(sample(text, 'storycast_batch_duration_seconds_sum{strategy="adaptive"}')).toBe(3);
  });

  it('bounds codes to the transport vocabulary, sorts sends by outcome, and counts arms', async () => {
    const metrics = createMetrics();
    const observe = sendMetrics(metrics);
    observe(observed, batch({ ok: false, error: { code: 'SOMETHING_NEW' as TransportErrorCode, message: '', retryable: true } }));
    observe(observed, summary({}));
    observe(observed, summary({ failed: [], delivered: 10 }));
    observe(observed, summary({ stoppedBy: 'LOGGED_OUT' }));
    observe(observed, summary({ stoppedBy: 'CANCELLED', messageId: '', delivered: 0 }));
    const text = await metrics.registry.metrics();
    expect(sample(text, 'storycast_batches_total{strategy="adaptive",outcome="failed",code="OTHER"}')).toBe(1);
    for (const outcome of ['delivered', 'partial', 'stopped', 'cancelled']) {
      expect(sample(text, `storycast_sends_total{strategy="adaptive",outcome="${outcome}"}`), outcome).toBe(1);
      expect(sample(text, `storycast_experiment_sends_total{experiment="exp",arm="b",outcome="${outcome}"}`), outcome).toBe(1);
    }
    expect(sample(text, 'storycast_recipients_total{outcome="delivered"}')).toBe(28);
    expect(sample(text, 'storycast_experiment_recipients_total{experiment="exp",arm="b",outcome="failed"}')).toBe(3);
    expect(sample(text, 'storycast_send_duration_seconds_count{strategy="adaptive"}')).toBe(4);
  });

  it('never throws into the send, whatever it is given', () => {
    const observe = sendMetrics(createMetrics());
    expect(() => observe(observed, summary({ delivered: Number.NaN }))).not.toThrow();
    expect(() => observe(observed, batch({ size: -1, durationMs: Number.NaN }))).not.toThrow();
  });
});
