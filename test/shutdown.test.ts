/** Graceful shutdown: on a real port in process, the refusal in memory, and as the real `npm start` process receiving SIGTERM. */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { describe, expect, it, vi } from 'vitest';
import { ErrorInfoSchema } from '../src/gen/google/rpc/error_details_pb.js';
import { Health, HealthCheckResponse_ServingStatus as Status } from '../src/gen/grpc/health/v1/health_pb.js';
import { StoryService, type SendStoryResponse } from '../src/gen/storycast/v1/story_service_pb.js';
import { numbers } from './support/scripted-transport.js';
import { createTestApp, startTestServer } from './support/storycast-server.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const story = { content: { case: 'text' as const, value: { text: 'hi' } } };

describe('graceful shutdown', () => {
  it('goes NOT_SERVING, refuses new sends, cancels running ones after the grace period, and closes', async () => {
    // Real time x10 on the slow first-send ramp: a 19,000-recipient send lasts well past a 50 ms grace.
    const t = await startTestServer({ STORYCAST_SIM_TIME_SCALE: '10' }, { graceMs: 50 });
    const transport = createGrpcTransport({ baseUrl: t.url });
    const stories = createClient(StoryService, transport);
    const health = createClient(Health, transport);
    expect((await health.check({ service: 'storycast.v1.StoryService' })).status).toBe(Status.SERVING);

    const events: SendStoryResponse[] = [];
    const running = (async () => {
      for await (const e of stories.sendStory({ sessionId: 'drain', story, recipients: numbers(19_000), strategy: 'conservative' }))
        events.push(e);
    })();
    await vi.waitFor(() => expect(events.some((e) => e.event.case === 'batch')).toBe(true), { timeout: 10_000 });

    const closing = t.server.close();
    expect(t.app.health.get('')).toBe(Status.NOT_SERVING);
    expect(t.app.health.get('storycast.v1.StoryService')).toBe(Status.NOT_SERVING);
    const refused = await drain(stories.sendStory({ sessionId: 'late', story, recipients: numbers(200) })).catch((e: unknown) =>
      ConnectError.from(e),
    );
    expect(refused).toBeInstanceOf(ConnectError);
    expect((refused as ConnectError).code).toBe(Code.Unavailable);

    await running;
    await closing;
    const last = events.at(-1)!.event;
    expect(last.case).toBe('summary');
    if (last.case === 'summary') {
      expect(last.value.stoppedBy).toBe('CANCELLED');
      expect(last.value.delivered + last.value.failed.length).toBe(19_000);
      expect(last.value.failed.every((f) => f.code === 'CANCELLED')).toBe(true);
    }
  });

  it('the SHUTTING_DOWN error says so in its ErrorInfo', async () => {
    const t = await createTestApp();
    try {
      const stories = createClient(StoryService, t.transport);
      await t.app.sends.drain(0); // stop accepting, as drain() does first, while calls still reach the handler
      const error = await drain(stories.sendStory({ sessionId: 's', story, recipients: ['+15550000001'] })).catch((e: unknown) =>
        ConnectError.from(e),
      );
      expect((error as ConnectError).code).toBe(Code.Unavailable);
      expect((error as ConnectError).findDetails(ErrorInfoSchema)[0]?.reason).toBe('SHUTTING_DOWN');
    } finally {
      await t.close();
    }
  });

  it.each(['SIGTERM', 'SIGINT'] as const)('npm start serves until %s, then exits 0', async (signal) => {
    const child = spawn(`${root}/node_modules/.bin/tsx`, ['src/main.ts'], {
      cwd: root,
      env: {
        ...process.env,
        STORYCAST_PORT: '0',
        STORYCAST_METRICS_PORT: '0',
        STORYCAST_STORE: 'memory://',
        STORYCAST_SIM_TIME_SCALE: '1000',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const url = await new Promise<string>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout! });
      lines.on('line', (line) => {
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === 'storycast listening' && entry.url) resolve(entry.url);
      });
      child.once('exit', () => reject(new Error('server exited before listening')));
    });
    const transport = createGrpcTransport({ baseUrl: url });
    expect((await createClient(Health, transport).check({})).status).toBe(Status.SERVING);
    const events: SendStoryResponse[] = [];
    for await (const e of createClient(StoryService, transport).sendStory({ sessionId: 'p', story, recipients: numbers(300) }))
      events.push(e);
    expect(events.at(-1)!.event.case).toBe('summary');
    child.kill(signal);
    expect(await exited).toBe(0);
  });
});

async function drain(stream: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of stream);
}
