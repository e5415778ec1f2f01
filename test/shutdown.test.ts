/** Graceful shutdown: on a real port in process, the refusal in memory, and as the real `npm start` process receiving SIGTERM. */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { ErrorInfoSchema } from '../src/gen/google/rpc/error_details_pb.js';
import { Health, HealthCheckResponse_ServingStatus as Status } from '../src/gen/grpc/health/v1/health_pb.js';
import { StoryService, type SendStoryResponse } from '../src/gen/storycast/v1/story_service_pb.js';
import { freePort } from './support/ports.js';
import { numbers } from './support/scripted-transport.js';
import { createTestApp, startTestServer } from './support/storycast-server.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);
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

  // The signal goes to the top process alone, as `docker stop` or the kubelet sends it: npm in front must pass it on and wait.
  it.each([
    ['npm start', 'SIGTERM'],
    ['npm start', 'SIGINT'],
    ["the Dockerfile's CMD", 'SIGTERM'],
  ] as const)('%s, sent %s while a send runs, drains it and exits 0, leaving nothing behind', async (how, signal) => {
    const port = await freePort();
    const [command, ...args] = how === 'npm start' ? ['npm', 'start'] : dockerfile().cmd;
    const server = startProcess(command!, args, { STORYCAST_PORT: String(port) });
    const url = await server.listening;
    expect(url).toBe(`http://127.0.0.1:${port}`);
    const transport = createGrpcTransport({ baseUrl: url });
    expect((await createClient(Health, transport).check({})).status).toBe(Status.SERVING);
    if (how !== 'npm start') {
      // The image's HEALTHCHECK, run as Docker runs it (sh -c), with the probe `npm run setup` installs.
      const probe = await run('sh', ['-c', dockerfile().healthcheck], {
        env: { ...process.env, STORYCAST_PORT: String(port), PATH: toolsPath() },
      });
      expect(`${probe.stdout}${probe.stderr}`).toContain('status: SERVING');
    }

    // A send far longer than the grace period: the drain must wait its grace, cancel it, and still end its stream with a summary.
    const events: SendStoryResponse[] = [];
    const sending = (async () => {
      const request = { sessionId: 'p', story, recipients: numbers(19_000), strategy: 'conservative' };
      for await (const e of createClient(StoryService, transport).sendStory(request)) events.push(e);
    })();
    await vi.waitFor(() => expect(events.some((e) => e.event.case === 'batch')).toBe(true), { timeout: 10_000 });
    process.kill(server.pid, signal);

    expect(await server.exited).toBe(0);
    await sending;
    const last = events.at(-1)!.event;
    expect(last.case).toBe('summary');
    if (last.case === 'summary') {
      expect(last.value.stoppedBy).toBe('CANCELLED');
      expect(last.value.delivered + last.value.failed.length).toBe(19_000);
    }
    expect(server.logs.find((l) => l.msg === 'draining')).toMatchObject({ running: 1 });
    expect(server.logs.find((l) => l.msg === 'sends drained')).toMatchObject({ finished: 0, cancelled: 1 });
    expect(server.logs.at(-1)!.msg).toBe('storycast stopped');
    // Nothing kept the port: an orphaned server would still answer.
    await expect(createClient(Health, createGrpcTransport({ baseUrl: url })).check({}, { timeoutMs: 2000 })).rejects.toThrow();
  });
});

type LogLine = { msg?: string; url?: string; [field: string]: unknown };

/** A storycast process from the repo root on the simulated network (the seed's slow first-send ramp at 10x), with a 300 ms grace. */
function startProcess(command: string, args: string[], env: Record<string, string>) {
  const child = spawn(command, args, {
    cwd: root,
    env: {
      ...process.env,
      STORYCAST_HOST: '127.0.0.1',
      STORYCAST_METRICS_PORT: '0',
      STORYCAST_STORE: 'memory://',
      STORYCAST_SIM_PROFILE: 'seed-first-send',
      STORYCAST_SIM_TIME_SCALE: '10',
      STORYCAST_SHUTDOWN_GRACE_MS: '300',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
    // Its own process group, so a failed test can end the whole tree (the signal under test goes to the top process only).
    detached: true,
  });
  onTestFinished(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL'); // whatever of the group is left, orphans included
    } catch {
      // ESRCH: nothing left, as it should be
    }
  });
  const logs: LogLine[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const listening = new Promise<string>((resolve, reject) => {
    // npm prints its own banner first: only the server's JSON lines are logs.
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.startsWith('{')) return;
      const entry = JSON.parse(line) as LogLine;
      logs.push(entry);
      if (entry.msg === 'storycast listening' && entry.url) resolve(entry.url);
    });
    child.once('exit', () => reject(new Error('server exited before listening')));
  });
  return { pid: child.pid!, logs, exited, listening };
}

/** The production command and health check, as the Dockerfile gives them (exec form CMD, shell form HEALTHCHECK). */
function dockerfile(): { cmd: string[]; healthcheck: string } {
  const text = readFileSync(join(root, 'Dockerfile'), 'utf8');
  const cmd = /^CMD (\[.*\])$/m.exec(text)?.[1];
  const healthcheck = /^HEALTHCHECK .*?CMD (.+)$/m.exec(text)?.[1];
  if (!cmd || !healthcheck) throw new Error('the Dockerfile has no exec-form CMD or no HEALTHCHECK ... CMD');
  return { cmd: JSON.parse(cmd) as string[], healthcheck };
}

function toolsPath(): string {
  const gopath = execFileSync('go', ['env', 'GOPATH'], { encoding: 'utf8' }).trim();
  return `${join(gopath, 'bin')}:${process.env['PATH']}`;
}

async function drain(stream: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of stream);
}
