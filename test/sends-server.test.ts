/**
 * Durable sends through the API: SendStory with request_id and on_disconnect,
 * WatchSend, GetSend, ListSends and CancelSend, in memory over the server's own
 * handler; and one watch over a real port with @grpc/grpc-js.
 */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { Code, ConnectError, createClient, type Client } from '@connectrpc/connect';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { VirtualClock } from '../src/clock.js';
import { ErrorInfoSchema } from '../src/gen/google/rpc/error_details_pb.js';
import {
  OnDisconnect,
  SendState,
  StoryService,
  type SendStoryRequest,
  type SendStoryResponse,
} from '../src/gen/storycast/v1/story_service_pb.js';
import type { SimulatedNetwork } from '../src/transport/sim/network.js';
import { numbers } from './support/scripted-transport.js';
import { createTestApp, startTestServer, type TestApp } from './support/storycast-server.js';
import { collectStream } from './support/streams.js';

const story = { content: { case: 'text' as const, value: { text: 'hi' } } };
const DAY = 86_400_000;

/** Reads until `stop` says so, then goes away (the client cancels the call). */
async function readThenLeave(
  open: (signal: AbortSignal) => AsyncIterable<SendStoryResponse>,
  stop: (e: SendStoryResponse) => boolean,
): Promise<SendStoryResponse[]> {
  const controller = new AbortController();
  const seen: SendStoryResponse[] = [];
  try {
    for await (const e of open(controller.signal)) {
      seen.push(e);
      if (stop(e)) controller.abort();
    }
  } catch {
    // The abort ends the stream with CANCELLED: that is the point.
  }
  return seen;
}

const sendIdOf = (events: readonly SendStoryResponse[]) => (events[0]?.event.case === 'planned' ? events[0].event.value.sendId : '');
const summaryOf = (events: readonly SendStoryResponse[]) => {
  const last = events.at(-1)?.event;
  return last?.case === 'summary' ? last.value : undefined;
};
const reasonOf = (error: unknown) => ConnectError.from(error).findDetails(ErrorInfoSchema)[0];

describe('durable sends in memory', () => {
  let t: TestApp;
  let client: Client<typeof StoryService>;
  let network: SimulatedNetwork;
  const clock = new VirtualClock(1_700_000_000_000);
  const send = (sessionId: string, over: Partial<SendStoryRequest> = {}, n = 3000) =>
    ({ sessionId, story, recipients: numbers(n), strategy: 'conservative', ...over }) as SendStoryRequest;
  /** What the network was asked: one anchor per send, and each recipient delivered once. */
  const callsOf = (sessionId: string) => network.oracle.calls.filter((c) => c.sessionId === sessionId);

  beforeAll(async () => {
    t = await createTestApp({ STORYCAST_SIM_TIME_SCALE: '200' }, { sendClock: clock });
    client = createClient(StoryService, t.transport);
    network = t.runtime.transport as SimulatedNetwork;
  });
  afterAll(async () => {
    await t.close();
  });

  it('a retry with the same request_id replays the send from the start, follows it live, and starts nothing new', async () => {
    const req = send('retry', { requestId: 'retry-1', onDisconnect: OnDisconnect.CONTINUE });
    const first = await readThenLeave(
      (signal) => client.sendStory(req, { signal }),
      (e) => e.event.case === 'batch',
    );
    const again = await collectStream(client.sendStory(req));
    expect(again.error).toBeUndefined();
    expect(sendIdOf(again.events)).toBe(sendIdOf(first));
    expect(again.events.slice(0, first.length)).toEqual(first);
    expect(summaryOf(again.events)).toMatchObject({ total: 3000, delivered: 3000, stoppedBy: '' });
    const calls = callsOf('retry');
    expect(calls.filter((c) => c.anchor)).toHaveLength(1);
    expect(calls.filter((c) => c.outcome === 'ok').reduce((sum, c) => sum + c.size, 0)).toBe(3000);
  });

  it('concurrent requests with one request_id start one send', async () => {
    const req = send('twins', { requestId: 'twins-1' }, 300);
    const [a, b] = await Promise.all([collectStream(client.sendStory(req)), collectStream(client.sendStory(req))]);
    expect(sendIdOf(a.events)).toBe(sendIdOf(b.events));
    expect(a.events).toEqual(b.events);
    expect(callsOf('twins').filter((c) => c.anchor)).toHaveLength(1);
  });

  it('refuses the same request_id with a different request, and a malformed request_id', async () => {
    await collectStream(client.sendStory(send('reuse', { requestId: 'reuse-1' }, 10)));
    const { error } = await collectStream(client.sendStory(send('reuse', { requestId: 'reuse-1' }, 11)));
    expect(error?.code).toBe(Code.AlreadyExists);
    expect(reasonOf(error)).toMatchObject({ reason: 'REQUEST_ID_REUSED', metadata: { field: 'request_id' } });
    for (const requestId of ['has space', 'x'.repeat(129), 'tab\t']) {
      const bad = await collectStream(client.sendStory(send('reuse', { requestId }, 10)));
      expect(bad.error?.code).toBe(Code.InvalidArgument);
      expect(reasonOf(bad.error)).toMatchObject({ reason: 'BAD_REQUEST_ID', metadata: { field: 'request_id' } });
    }
  });

  it('input errors surface from SendStory as before', async () => {
    const { error } = await collectStream(client.sendStory(send('input', { recipients: ['nope'], requestId: 'input-1' })));
    expect(error?.code).toBe(Code.InvalidArgument);
    expect(reasonOf(error)?.reason).toBe('NO_VALID_RECIPIENTS');
  });

  it('ON_DISCONNECT_CANCEL (the default): the caller going away cancels the send', async () => {
    const seen = await readThenLeave(
      (signal) => client.sendStory(send('leaver'), { signal }),
      (e) => e.event.case === 'batch',
    );
    await vi.waitFor(async () => expect((await client.getSend({ sendId: sendIdOf(seen) })).send?.state).toBe(SendState.CANCELLED));
    const { events } = await collectStream(client.watchSend({ sendId: sendIdOf(seen) }));
    expect(summaryOf(events)?.stoppedBy).toBe('CANCELLED');
  });

  it('ON_DISCONNECT_CONTINUE: the send goes on without its caller and another client watches it to the end, from any point', async () => {
    const seen = await readThenLeave(
      (signal) => client.sendStory(send('stayer', { onDisconnect: OnDisconnect.CONTINUE }), { signal }),
      (e) => e.event.case === 'anchor',
    );
    const other = createClient(StoryService, t.transport);
    const whole = await collectStream(other.watchSend({ sendId: sendIdOf(seen) }));
    expect(summaryOf(whole.events)).toMatchObject({ delivered: 3000, stoppedBy: '' });
    const fromTwo = await collectStream(other.watchSend({ sendId: sendIdOf(seen), afterEvent: 2 }));
    expect(fromTwo.events).toEqual(whole.events.slice(2));
    const atEnd = await collectStream(other.watchSend({ sendId: sendIdOf(seen), afterEvent: whole.events.length }));
    expect(atEnd).toEqual({ events: [] });
    const past = await collectStream(other.watchSend({ sendId: sendIdOf(seen), afterEvent: whole.events.length + 1 }));
    expect(past.error?.code).toBe(Code.OutOfRange);
    expect(reasonOf(past.error)).toMatchObject({ reason: 'AFTER_EVENT_OUT_OF_RANGE', metadata: { field: 'after_event' } });
    const got = (await other.getSend({ sendId: sendIdOf(seen) })).send!;
    expect(got).toMatchObject({ state: SendState.SUCCEEDED, total: 3000, delivered: 3000, remaining: 0, events: whole.events.length });
    expect(got.summary?.delivered).toBe(3000);
  });

  it('CancelSend lets the batch in flight finish and ends every watcher with the CANCELLED summary', async () => {
    const seen = await readThenLeave(
      (signal) => client.sendStory(send('stop-me', { onDisconnect: OnDisconnect.CONTINUE }, 20_000), { signal }),
      (e) => e.event.case === 'planned',
    );
    const sendId = sendIdOf(seen);
    const watchers = [collectStream(client.watchSend({ sendId })), collectStream(client.watchSend({ sendId }))];
    const cancelled = await client.cancelSend({ sendId });
    expect(cancelled.send?.sendId).toBe(sendId);
    for (const { events } of await Promise.all(watchers)) expect(summaryOf(events)?.stoppedBy).toBe('CANCELLED');
    expect((await client.getSend({ sendId })).send?.state).toBe(SendState.CANCELLED);
  });

  it('an unknown send id is NOT_FOUND everywhere', async () => {
    for (const call of [
      () => client.getSend({ sendId: 'nope' }),
      () => client.cancelSend({ sendId: 'nope' }),
      () => collectStream(client.watchSend({ sendId: 'nope' })).then((r) => Promise.reject(r.error)),
    ]) {
      const error = await call().catch((e: unknown) => e);
      expect(ConnectError.from(error).code).toBe(Code.NotFound);
      expect(reasonOf(error)).toMatchObject({ reason: 'SEND_NOT_FOUND', metadata: { field: 'send_id' } });
    }
  });

  it('ListSends pages newest first, by session and by state', async () => {
    for (let i = 0; i < 3; i++) await collectStream(client.sendStory(send('lister', {}, 5)));
    const page1 = await client.listSends({ sessionId: 'lister', pageSize: 2 });
    expect(page1.sends).toHaveLength(2);
    expect(page1.nextPageToken).not.toBe('');
    const page2 = await client.listSends({ sessionId: 'lister', pageSize: 2, pageToken: page1.nextPageToken });
    expect(page2.sends).toHaveLength(1);
    expect(page2.nextPageToken).toBe('');
    const ids = [...page1.sends, ...page2.sends].map((s) => s.sendId);
    expect(new Set(ids).size).toBe(3);
    expect((await client.listSends({ sessionId: 'lister', state: SendState.RUNNING })).sends).toEqual([]);
    expect((await client.listSends({ sessionId: 'lister', state: SendState.SUCCEEDED })).sends).toHaveLength(3);
    const other = await client.listSends({ sessionId: 'other', pageToken: page1.nextPageToken }).catch((e: unknown) => e);
    expect(reasonOf(other)).toMatchObject({ reason: 'BAD_PAGE_TOKEN', metadata: { field: 'page_token' } });
  });

  it('forgets finished sends after STORYCAST_SEND_RETENTION (7 days by default) on its clock', async () => {
    const { events } = await collectStream(client.sendStory(send('old', {}, 5)));
    const sendId = sendIdOf(events);
    const kept = (await client.getSend({ sendId })).send!;
    expect(kept.expireTime).toBeDefined();
    await clock.advance(7 * DAY);
    const error = await client.getSend({ sendId }).catch((e: unknown) => e);
    expect(ConnectError.from(error).code).toBe(Code.NotFound);
  });
});

describe('durable sends over a real port, called by @grpc/grpc-js', () => {
  it('a CONTINUE send outlives its call and is watched to the summary by another client', async () => {
    const server = await startTestServer({ STORYCAST_SIM_TIME_SCALE: '200' });
    try {
      const definition = protoLoader.loadSync('storycast/v1/story_service.proto', {
        includeDirs: [fileURLToPath(new URL('../proto', import.meta.url))],
        enums: String,
        defaults: true,
        oneofs: true,
      });
      // biome-ignore lint/suspicious/noExplicitAny: a client made by @grpc/proto-loader at run time
      const pkg = grpc.loadPackageDefinition(definition) as any;
      const dial = () => new pkg.storycast.v1.StoryService(server.address, grpc.credentials.createInsecure());
      const caller = dial();
      const call = caller.sendStory({
        sessionId: 'grpc-js-durable',
        story: { text: { text: 'hi' } },
        recipients: numbers(2000),
        strategy: 'conservative',
        requestId: 'grpc-js-1',
        onDisconnect: 'ON_DISCONNECT_CONTINUE',
      });
      const sendId = await new Promise<string>((resolve) =>
        call.once('data', (e: { planned: { sendId: string } }) => resolve(e.planned.sendId)),
      );
      call.on('error', () => {});
      call.cancel();
      caller.close();
      const watcher = dial();
      const events = await new Promise<{ summary?: { delivered: number } }[]>((resolve, reject) => {
        const got: { summary?: { delivered: number } }[] = [];
        const watch = watcher.watchSend({ sendId, afterEvent: 0 });
        watch.on('data', (e: { summary?: { delivered: number } }) => got.push(e));
        watch.on('error', reject);
        watch.on('end', () => resolve(got));
      });
      watcher.close();
      expect(events.at(-1)?.summary?.delivered).toBe(2000);
    } finally {
      await server.server.close();
    }
  });
});
