/**
 * Tracing off costs nothing because nothing of it exists: without an OTLP
 * endpoint (or with OTEL_SDK_DISABLED=true, or OTEL_TRACES_EXPORTER=none)
 * createTracing returns undefined and no OpenTelemetry module is loaded, not
 * even by a send. Every OpenTelemetry package the tracing code imports is
 * mocked here to note that it was loaded; the last test turns tracing on to
 * show the note works. Also: how the OTLP endpoint variables become a URL.
 */
import { describe, expect, it, vi } from 'vitest';
import { createTracing, tracesUrl } from '../src/tracing/index.js';
import { numbers } from './support/scripted-transport.js';
import { createTestApp } from './support/storycast-server.js';
import { createClient } from '@connectrpc/connect';
import { StoryService } from '../src/gen/storycast/v1/story_service_pb.js';
import { collectStream } from './support/streams.js';

const { loaded, note } = vi.hoisted(() => {
  const loaded = new Set<string>();
  return {
    loaded,
    note: (name: string, original: () => Promise<unknown>) => {
      loaded.add(name);
      return original();
    },
  };
});
vi.mock('@opentelemetry/api', (original) => note('api', original));
vi.mock('@opentelemetry/context-async-hooks', (original) => note('context-async-hooks', original));
vi.mock('@opentelemetry/core', (original) => note('core', original));
vi.mock('@opentelemetry/exporter-trace-otlp-proto', (original) => note('exporter-trace-otlp-proto', original));
vi.mock('@opentelemetry/resources', (original) => note('resources', original));
vi.mock('@opentelemetry/sdk-trace-base', (original) => note('sdk-trace-base', original));
vi.mock('@opentelemetry/semantic-conventions', (original) => note('semantic-conventions', original));

const ENDPOINT = 'http://127.0.0.1:4318';

describe('tracing off', () => {
  it.each([
    ['no endpoint', {}],
    ['empty endpoints', { OTEL_EXPORTER_OTLP_ENDPOINT: ' ', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '' }],
    ['OTEL_SDK_DISABLED=true', { OTEL_EXPORTER_OTLP_ENDPOINT: ENDPOINT, OTEL_SDK_DISABLED: 'TRUE' }],
    ['OTEL_TRACES_EXPORTER=none', { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: ENDPOINT, OTEL_TRACES_EXPORTER: 'none' }],
  ])('is undefined with %s, and loads nothing', async (_name, env) => {
    expect(await createTracing(env)).toBeUndefined();
    expect([...loaded]).toEqual([]);
  });

  it('leaves a send through the server loading nothing of OpenTelemetry', async () => {
    const tracing = await createTracing({});
    // As main.ts wires it: nothing to pass when tracing is off, so the handler has its request context and no more.
    const t = await createTestApp({}, tracing ? { interceptors: () => [tracing.interceptor()], observe: tracing.observe } : {});
    try {
      expect(t.app.routerOptions.interceptors).toHaveLength(1);
      const story = { content: { case: 'text' as const, value: { text: 'untraced' } } };
      const { events, error } = await collectStream(
        createClient(StoryService, t.transport).sendStory({ sessionId: 'off', story, recipients: numbers(100) }),
      );
      expect(error).toBeUndefined();
      expect(events.at(-1)?.event.case).toBe('summary');
      expect([...loaded]).toEqual([]);
    } finally {
      await t.close();
    }
  });

  // Last: once loaded, modules stay loaded.
  it('loads the SDK once an endpoint is set (the check above can see a load)', async () => {
    const tracing = await createTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: ENDPOINT });
    expect(tracing).toBeDefined();
    await tracing!.shutdown();
    expect(loaded).toContain('sdk-trace-base');
    expect(loaded).toContain('exporter-trace-otlp-proto');
    expect(loaded).toContain('api');
  });
});

describe('the OTLP traces URL', () => {
  it('appends /v1/traces to the general endpoint, and takes the traces endpoint as it is', () => {
    expect(tracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBe('http://collector:4318/v1/traces');
    expect(tracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://collector/otlp/' })).toBe('https://collector/otlp/v1/traces');
    expect(
      tracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://other:4318/traces' }),
    ).toBe('http://other:4318/traces');
    expect(tracesUrl({})).toBeUndefined();
  });

  it('refuses what the exporter cannot send to, rather than losing every span', () => {
    expect(() => tracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toThrow(/http\/protobuf/);
    expect(() => tracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json' })).toThrow(
      /not supported/,
    );
    expect(() => tracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318:x' })).toThrow(/http:\/\/ or https:\/\//);
    expect(() => tracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url' })).toThrow(/not a URL/);
    expect(tracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' })).toBe(
      `${ENDPOINT}/v1/traces`,
    );
  });
});
