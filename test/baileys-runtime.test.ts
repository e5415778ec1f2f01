/** STORYCAST_TRANSPORT=baileys wires real sockets; with no linked account the API says what to do. */
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { describe, expect, it } from 'vitest';
import { ErrorInfoSchema } from '../src/gen/google/rpc/error_details_pb.js';
import { SessionService } from '../src/gen/storycast/v1/session_service_pb.js';
import { StoryService } from '../src/gen/storycast/v1/story_service_pb.js';
import { startTestServer } from './support/storycast-server.js';

describe('the server on the Baileys transport, no account linked', () => {
  it('lists no sessions and refuses a send from an unknown session with NOT_FOUND', async () => {
    const t = await startTestServer({ STORYCAST_TRANSPORT: 'baileys' });
    try {
      const transport = createGrpcTransport({ baseUrl: t.url });
      expect((await createClient(SessionService, transport).listSessions({})).sessions).toEqual([]);
      const stories = createClient(StoryService, transport);
      const error = await (async () => {
        for await (const _ of stories.sendStory({
          sessionId: 'nobody',
          story: { content: { case: 'text', value: { text: 'hi' } } },
          recipients: ['+15551234567'],
        }));
      })().catch((e: unknown) => ConnectError.from(e));
      expect((error as ConnectError).code).toBe(Code.NotFound);
      expect((error as ConnectError).findDetails(ErrorInfoSchema)[0]?.reason).toBe('SESSION_NOT_FOUND');
      const missing = await createClient(SessionService, transport)
        .getSession({ sessionId: 'nobody' })
        .catch((e: unknown) => ConnectError.from(e));
      expect((missing as ConnectError).code).toBe(Code.NotFound);
    } finally {
      await t.server.close();
    }
  });
});
