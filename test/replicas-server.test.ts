/**
 * Two storycast replicas on one real redis-server, on real ports, through the
 * API: a session is sent for only by the replica holding its lease, and a
 * call for it on the other replica is forwarded there; a new session is
 * placed on the least loaded replica; a graceful shutdown hands the lease
 * over at once, the other replica resumes the session's unfinished send from
 * the shared journal, and a caller following the send through the surviving
 * replica sees one unbroken stream to the summary.
 */
import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionService } from '../src/gen/storycast/v1/session_service_pb.js';
import { OnDisconnect, StoryService, type SendStoryResponse } from '../src/gen/storycast/v1/story_service_pb.js';
import { startRedis, type RedisServer } from './support/redis.js';
import { numbers } from './support/scripted-transport.js';
import { startTestServer, type TestServer } from './support/storycast-server.js';
import { collectStream } from './support/streams.js';

const story = { content: { case: 'text' as const, value: { text: 'one owner at a time' } } };

describe('replicas on one redis', () => {
  let redis: RedisServer;
  const servers: TestServer[] = [];
  const replica = async () => {
    // Real time x20 on the slow first-send ramp: a 6,000-recipient send lasts seconds.
    const server = await startTestServer(
      { STORYCAST_STORE: redis.url, STORYCAST_LEASE_TTL_MS: '1000', STORYCAST_SIM_TIME_SCALE: '20' },
      { graceMs: 0 },
    );
    servers.push(server);
    return { server, stories: createClient(StoryService, createGrpcTransport({ baseUrl: server.url })) };
  };

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    for (const server of servers) await server.server.close();
    await redis.stop();
  });

  it('forwards a call for a session owned elsewhere, places a new one on the least loaded, and follows a send across a handover', async () => {
    const a = await replica();
    const b = await replica();
    const seen: SendStoryResponse[] = [];
    for await (const event of a.stories.sendStory({
      sessionId: 'owned',
      story,
      recipients: numbers(6000),
      strategy: 'conservative',
      onDisconnect: OnDisconnect.CONTINUE,
    })) {
      if (seen.push(event) === 3) break;
    }
    const planned = seen[0]!.event;
    if (planned.case !== 'planned') throw new Error('no planned event');
    const sendId = planned.value.sendId;
    expect(a.server.runtime.replicas?.ownership.owns('owned')).toBe(true);

    // Called on b, served by a: b never takes the session.
    const forwarded = await collectStream(b.stories.sendStory({ sessionId: 'owned', story, recipients: numbers(5) }));
    expect(forwarded.error).toBeUndefined();
    const forwardedPlan = forwarded.events[0]!.event;
    if (forwardedPlan.case !== 'planned') throw new Error('no planned event');
    expect(forwarded.events.at(-1)?.event).toMatchObject({ case: 'summary', value: { delivered: 5 } });
    expect(b.server.runtime.replicas?.ownership.owns('owned')).toBe(false);
    expect((await a.server.app.registry.get(forwardedPlan.value.sendId)).state).toBe('SUCCEEDED');

    // A new session, called on a, goes to b: a owns one session, b none.
    expect((await collectStream(a.stories.sendStory({ sessionId: 'fresh', story, recipients: numbers(5) }))).error).toBeUndefined();
    expect(b.server.runtime.replicas?.ownership.owns('fresh')).toBe(true);
    expect(a.server.runtime.replicas?.ownership.owns('fresh')).toBe(false);
    // Each replica runs its own sessions; either one lists them all.
    for (const { server } of [a, b]) {
      const sessions = createClient(SessionService, createGrpcTransport({ baseUrl: server.url }));
      expect((await sessions.listSessions({})).sessions.map((s) => s.sessionId)).toEqual(['fresh', 'owned']);
    }

    // Following the first send through b (forwarded to a), while a shuts down gracefully: the
    // CONTINUE send stops after its call in flight, the lease is released, b resumes the send,
    // and the stream b relays goes on to the summary.
    const events: SendStoryResponse[] = [];
    let closing: Promise<void> | undefined;
    for await (const event of b.stories.watchSend({ sendId })) {
      if (events.push(event) === 4) closing = a.server.server.close();
    }
    await closing;
    expect(b.server.runtime.replicas?.ownership.owns('owned')).toBe(true);
    const summary = events.at(-1)!.event;
    expect(summary.case).toBe('summary');
    if (summary.case === 'summary') {
      expect(summary.value.delivered + summary.value.failed.length).toBe(6000);
      expect(summary.value.stoppedBy).toBe('');
    }
    expect(events.filter((e) => e.event.case === 'planned')).toHaveLength(1);
    expect(events.slice(0, 3)).toEqual(seen);
    // Nothing lost or repeated across the handover: exactly the journal's events, in order.
    const journal = await collectStream(b.stories.watchSend({ sendId }));
    expect(events).toEqual(journal.events);
  }, 60_000);
});
