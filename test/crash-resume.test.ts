/**
 * Durable sends across real processes: `npm start` killed with SIGKILL in the
 * middle of a send, on a SQLite file and on a real redis-server, then started
 * again on the same store: it resumes the send by itself and WatchSend shows
 * everyone settled. And SIGTERM: an ON_DISCONNECT_CONTINUE send is left in the
 * journal and the next process finishes it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createClient, type Client } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { OnDisconnect, SendState, StoryService, type SendStoryResponse } from '../src/gen/storycast/v1/story_service_pb.js';
import { startRedis, type RedisServer } from './support/redis.js';
import { numbers } from './support/scripted-transport.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const story = { content: { case: 'text' as const, value: { text: 'resume me' } } };
const TOTAL = 6000;

interface Server {
  readonly child: ChildProcess;
  readonly stories: Client<typeof StoryService>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly log: { msg?: string; resumed?: number; sendId?: string }[];
}

/** `npm start` as its own process group, so SIGKILL takes tsx and the node it runs with it. */
async function start(store: string): Promise<Server> {
  const child = spawn(`${root}/node_modules/.bin/tsx`, ['src/main.ts'], {
    cwd: root,
    detached: true,
    env: {
      ...process.env,
      STORYCAST_PORT: '0',
      STORYCAST_METRICS_PORT: '0',
      STORYCAST_STORE: store,
      // The slow first-send ramp in real time x20: a 6,000-recipient send lasts seconds, long enough to kill it in the middle.
      STORYCAST_SIM_PROFILE: 'seed-first-send',
      STORYCAST_SIM_TIME_SCALE: '20',
      STORYCAST_LOG_LEVEL: 'info',
      // On redis a killed process's session lease must expire before the next one takes the session over.
      STORYCAST_LEASE_TTL_MS: '1500',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const log: Server['log'] = [];
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const entry = JSON.parse(line) as { msg?: string; url?: string; resumed?: number; sendId?: string };
      log.push(entry);
      if (entry.msg === 'storycast listening' && entry.url) resolve(entry.url);
    });
    child.once('exit', () => reject(new Error('server exited before listening')));
  });
  return { child, exited, log, stories: createClient(StoryService, createGrpcTransport({ baseUrl: url })) };
}

function killGroup(server: Server, signal: NodeJS.Signals): void {
  process.kill(-server.child.pid!, signal);
}

/**
 * Starts a send and follows it until `enough` batch events arrived, keeping
 * the stream open (leaving would cancel an ON_DISCONNECT_CANCEL send): the
 * caller is still there when the server dies.
 */
async function sendUntil(
  server: Server,
  enough: number,
  onDisconnect: OnDisconnect,
  sessionId: string,
): Promise<{ sendId: string; seen: SendStoryResponse[] }> {
  const seen: SendStoryResponse[] = [];
  const stream = server.stories.sendStory({
    sessionId,
    story,
    recipients: numbers(TOTAL),
    strategy: 'conservative',
    requestId: `crash-${process.hrtime.bigint()}`,
    onDisconnect,
  });
  await new Promise<void>((resolve, reject) => {
    (async () => {
      for await (const event of stream) {
        seen.push(event);
        if (seen.filter((e) => e.event.case === 'batch').length === enough) resolve();
      }
      reject(new Error(`the send ended after ${seen.length} events, before ${enough} batches`));
    })().catch((error: unknown) => reject(error));
  });
  const planned = seen[0]!.event;
  if (planned.case !== 'planned') throw new Error('first event is not planned');
  // A copy: events that arrive until the kill still land in `seen`.
  return { sendId: planned.value.sendId, seen: [...seen] };
}

async function watchToEnd(server: Server, sendId: string): Promise<SendStoryResponse[]> {
  const events: SendStoryResponse[] = [];
  for await (const event of server.stories.watchSend({ sendId, afterEvent: 0 })) events.push(event);
  return events;
}

function expectAllSettled(events: readonly SendStoryResponse[], before: readonly SendStoryResponse[]): void {
  expect(events.filter((e) => e.event.case === 'planned')).toHaveLength(1);
  expect(events.filter((e) => e.event.case === 'anchor')).toHaveLength(1);
  const summary = events.at(-1)!.event;
  expect(summary.case).toBe('summary');
  if (summary.case !== 'summary') return;
  expect(summary.value.total).toBe(TOTAL);
  expect(summary.value.delivered + summary.value.failed.length).toBe(TOTAL);
  expect(summary.value.stoppedBy).toBe('');
  // The same status: the message id the caller saw before the crash.
  const anchor = before.find((e) => e.event.case === 'anchor')!.event;
  expect(anchor.case === 'anchor' && anchor.value.messageId).toBe(summary.value.messageId);
  // Batch indexes go on from where the journal stopped, each call once.
  const indexes = events.flatMap((e) => (e.event.case === 'batch' && !e.event.value.late ? [e.event.value.index] : []));
  expect(indexes).toEqual(indexes.map((_, i) => i));
}

describe.each([
  ['SQLite', 'sqlite'],
  ['redis-server', 'redis'],
] as const)('npm start on %s', (_name, kind) => {
  let dir: string;
  let redis: RedisServer | undefined;
  let store: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'storycast-crash-'));
    if (kind === 'redis') redis = await startRedis();
    store = kind === 'redis' ? redis!.url : `sqlite://${join(dir, 'journal.sqlite')}`;
  });
  afterAll(async () => {
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('killed with SIGKILL mid-send: the next process resumes it by itself and every recipient ends delivered or failed', async () => {
    const first = await start(store);
    const { sendId, seen } = await sendUntil(first, 3, OnDisconnect.CANCEL, `killed-${kind}`);
    killGroup(first, 'SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');

    const second = await start(store);
    try {
      // On SQLite at once; on redis once the dead process's lease has expired.
      await vi.waitFor(
        () => expect(second.log.some((l) => l.msg === 'resuming a send from its journal' && l.sendId === sendId)).toBe(true),
        {
          timeout: 20_000,
          interval: 100,
        },
      );
      const events = await watchToEnd(second, sendId);
      expectAllSettled(events, seen);
      // A caller only hears what the journal holds, so all it heard is the start of the log, unchanged.
      expect(events.slice(0, seen.length)).toEqual(seen);
      const got = await second.stories.getSend({ sendId });
      expect(got.send?.state).toBe(SendState.SUCCEEDED);
    } finally {
      killGroup(second, 'SIGTERM');
      await second.exited;
    }
  }, 120_000);

  it('SIGTERM checkpoints an ON_DISCONNECT_CONTINUE send instead of cancelling it; the next process finishes it', async () => {
    const first = await start(store);
    const { sendId, seen } = await sendUntil(first, 2, OnDisconnect.CONTINUE, `stopped-${kind}`);
    killGroup(first, 'SIGTERM');
    expect((await first.exited).code).toBe(0);

    const second = await start(store);
    try {
      const events = await watchToEnd(second, sendId);
      expectAllSettled(events, seen);
      expect(events.some((e) => e.event.case === 'summary' && e.event.value.failed.some((f) => f.code === 'CANCELLED'))).toBe(false);
    } finally {
      killGroup(second, 'SIGTERM');
      await second.exited;
    }
  }, 120_000);
});
