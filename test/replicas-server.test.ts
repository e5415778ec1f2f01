/**
 * Two storycast replicas on one real redis-server, through the API: a session
 * is sent for only by the replica holding its lease; a graceful shutdown
 * hands the lease over at once, and the other replica resumes the session's
 * unfinished send from the shared journal to the end.
 */
import { Code, createClient } from '@connectrpc/connect';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ErrorInfoSchema } from '../src/gen/google/rpc/error_details_pb.js';
import { OnDisconnect, StoryService, type SendStoryResponse } from '../src/gen/storycast/v1/story_service_pb.js';
import { startRedis, type RedisServer } from './support/redis.js';
import { numbers } from './support/scripted-transport.js';
import { createTestApp, type TestApp } from './support/storycast-server.js';
import { collectStream } from './support/streams.js';

const story = { content: { case: 'text' as const, value: { text: 'one owner at a time' } } };

describe('replicas on one redis', () => {
  let redis: RedisServer;
  const apps: TestApp[] = [];
  const replica = async () => {
    // Real time x20 on the slow first-send ramp: a 6,000-recipient send lasts seconds.
    const app = await createTestApp(
      { STORYCAST_STORE: redis.url, STORYCAST_LEASE_TTL_MS: '1000', STORYCAST_SIM_TIME_SCALE: '20' },
      { graceMs: 0 },
    );
    apps.push(app);
    return { app, stories: createClient(StoryService, app.transport) };
  };

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
    await redis.stop();
  });

  it('one replica sends for a session; the other refuses it; a graceful stop hands it over and the other finishes the send', async () => {
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
    expect(a.app.runtime.ownership?.owns('owned')).toBe(true);

    const refused = await collectStream(b.stories.sendStory({ sessionId: 'owned', story, recipients: numbers(5) }));
    expect(refused.error?.code).toBe(Code.Unavailable);
    expect(refused.error?.findDetails(ErrorInfoSchema)[0]).toMatchObject({
      reason: 'SESSION_OWNED_ELSEWHERE',
      metadata: { session_id: 'owned' },
    });
    // Another session goes through on b: ownership is per session.
    expect((await collectStream(b.stories.sendStory({ sessionId: 'other', story, recipients: numbers(5) }))).error).toBeUndefined();

    // a shuts down gracefully: the CONTINUE send stops after its call in flight and the lease is released.
    await a.app.close();
    expect(await b.app.app.resumeSends()).toBe(1);
    expect(b.app.runtime.ownership?.owns('owned')).toBe(true);
    const { events, error } = await collectStream(b.stories.watchSend({ sendId }));
    expect(error).toBeUndefined();
    const summary = events.at(-1)!.event;
    expect(summary.case).toBe('summary');
    if (summary.case === 'summary') {
      expect(summary.value.delivered + summary.value.failed.length).toBe(6000);
      expect(summary.value.stoppedBy).toBe('');
    }
    expect(events.filter((e) => e.event.case === 'planned')).toHaveLength(1);
    expect(events.slice(0, 3)).toEqual(seen);
    await vi.waitFor(async () => expect((await b.stories.getSend({ sendId })).send?.events).toBe(events.length));
  }, 60_000);
});
