/**
 * Media refusals as a caller sees them, from the server's handler in memory
 * (createRouterTransport) on the simulated transport: INVALID_ARGUMENT with an
 * ErrorInfo naming the reason and field, and the STORYCAST_MAX_MEDIA_BYTES cap
 * wired from config.
 */
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorInfoSchema } from '../src/gen/google/rpc/error_details_pb.js';
import { StoryService } from '../src/gen/storycast/v1/story_service_pb.js';
import type { SimulatedNetwork } from '../src/transport/sim/network.js';
import { createTestApp, type TestApp } from './support/storycast-server.js';

type Request = Parameters<ReturnType<typeof createClient<typeof StoryService>>['sendStory']>[0];

describe('media refusals at the API', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ STORYCAST_MAX_MEDIA_BYTES: '1024' });
  });
  afterAll(async () => {
    await t.close();
  });

  async function send(request: Request): Promise<{ events: string[]; error?: ConnectError }> {
    const client = createClient(StoryService, t.transport);
    const events: string[] = [];
    try {
      for await (const e of client.sendStory(request)) events.push(e.event.case ?? '');
      return { events };
    } catch (error) {
      return { events, error: ConnectError.from(error) };
    }
  }

  const image = (
    source: Extract<NonNullable<NonNullable<Request['story']>['content']>, { case: 'image' }>['value']['source'],
  ): Request => ({
    sessionId: 'media',
    story: { content: { case: 'image', value: { source } } },
    recipients: ['+15550000001'],
  });

  it('refuses a metadata-address URL before the send starts, with BAD_MEDIA_URL naming the field', async () => {
    const { events, error } = await send(
      image({ case: 'url', value: 'http://169.254.169.254/latest/meta-data/iam/security-credentials/' }),
    );
    expect(events).toEqual([]);
    expect(error?.code).toBe(Code.InvalidArgument);
    expect(error?.findDetails(ErrorInfoSchema)[0]).toMatchObject({
      reason: 'BAD_MEDIA_URL',
      domain: 'storycast',
      metadata: { field: 'story.image.url' },
    });
    expect((t.runtime.transport as SimulatedNetwork).oracle.prepareCount('media')).toBe(0);
  });

  it('refuses inline media over STORYCAST_MAX_MEDIA_BYTES with MEDIA_TOO_LARGE, once, naming the field and the limit', async () => {
    const { error } = await send(image({ case: 'data', value: new Uint8Array(1025) }));
    expect(error?.code).toBe(Code.InvalidArgument);
    expect(error?.rawMessage).toBe('story.image.data has 1025 bytes, more than STORYCAST_MAX_MEDIA_BYTES (1024 bytes)');
    expect(error?.findDetails(ErrorInfoSchema)[0]).toMatchObject({ reason: 'MEDIA_TOO_LARGE', metadata: { field: 'story.image.data' } });
    // The caller's fault: not retried.
    expect((t.runtime.transport as SimulatedNetwork).oracle.prepareCount('media')).toBe(1);
  });

  it('sends inline media at the cap', async () => {
    const { events, error } = await send({ ...image({ case: 'data', value: new Uint8Array(1024) }), sessionId: 'media-ok' });
    expect(error).toBeUndefined();
    expect(events.at(-1)).toBe('summary');
  });
});
