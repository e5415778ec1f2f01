/** SessionService in memory (createRouterTransport over the server's own handler), on the simulated and the Baileys transport. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionStateToProto } from '../src/server/session-state.js';
import { ErrorInfoSchema } from '../src/gen/google/rpc/error_details_pb.js';
import { SessionService, SessionState, type ConnectSessionResponse } from '../src/gen/storycast/v1/session_service_pb.js';
import { StoryService } from '../src/gen/storycast/v1/story_service_pb.js';
import { createKeyvAuthState, saveLifecycle } from '../src/transport/baileys/auth-state.js';
import { silentLogger } from '../src/log.js';
import { createKeyv } from '../src/memory/store.js';
import { sessionToProto } from '../src/server/session-service.js';
import { maskAccount, type SessionStateName } from '../src/transport/sessions.js';
import { numbers } from './support/scripted-transport.js';
import { createTestApp, type TestApp } from './support/storycast-server.js';

const story = { content: { case: 'text' as const, value: { text: 'hi' } } };

async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of stream) out.push(x);
  return out;
}

describe('SessionService (simulated transport)', () => {
  let t: TestApp;
  let sessions: ReturnType<typeof createClient<typeof SessionService>>;
  let stories: ReturnType<typeof createClient<typeof StoryService>>;
  beforeAll(async () => {
    t = await createTestApp();
    sessions = createClient(SessionService, t.transport);
    stories = createClient(StoryService, t.transport);
  });
  afterAll(async () => {
    await t.close();
  });

  it('connects a session at once and ends the stream when it is open', async () => {
    const events: ConnectSessionResponse[] = await collect(sessions.connectSession({ sessionId: 'alice' }));
    expect(events).toHaveLength(1);
    const [only] = events;
    expect(only!.event.case).toBe('session');
    if (only!.event.case === 'session') expect(only!.event.value).toMatchObject({ sessionId: 'alice', state: SessionState.OPEN });
    expect((await sessions.getSession({ sessionId: 'alice' })).session?.state).toBe(SessionState.OPEN);
    expect((await sessions.listSessions({})).sessions.map((s) => s.sessionId)).toContain('alice');
  });

  it('logs a session out: sends from it fail with FAILED_PRECONDITION until it is linked again', async () => {
    await collect(sessions.connectSession({ sessionId: 'bob' }));
    expect((await sessions.logoutSession({ sessionId: 'bob' })).existed).toBe(true);
    expect((await sessions.getSession({ sessionId: 'bob' })).session?.state).toBe(SessionState.LOGGED_OUT);
    const error = await collect(stories.sendStory({ sessionId: 'bob', story, recipients: numbers(200) })).catch((e: unknown) =>
      ConnectError.from(e),
    );
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.FailedPrecondition);
    expect((error as ConnectError).findDetails(ErrorInfoSchema)[0]?.reason).toBe('LOGGED_OUT');
    await collect(sessions.connectSession({ sessionId: 'bob' }));
    const events = await collect(stories.sendStory({ sessionId: 'bob', story, recipients: numbers(200) }));
    const last = events.at(-1)!.event;
    expect(last.case === 'summary' && last.value.delivered).toBe(200);
  });

  it.each([
    [{ sessionId: '' }, 'MISSING_SESSION_ID'],
    [{ sessionId: 'no spaces please' }, 'BAD_SESSION_ID'],
    [{ sessionId: 'ok', phoneNumber: '12' }, 'BAD_PHONE_NUMBER'],
  ])('rejects %j with INVALID_ARGUMENT', async (request, reason) => {
    const error = await collect(sessions.connectSession(request)).catch((e: unknown) => ConnectError.from(e));
    expect((error as ConnectError).code).toBe(Code.InvalidArgument);
    expect((error as ConnectError).findDetails(ErrorInfoSchema)[0]?.reason).toBe(reason);
  });

  it('is served with its own health status', async () => {
    expect(t.app.health.get('storycast.v1.SessionService')).toBe(1);
  });
});

describe('SessionService (baileys transport) after a restart', () => {
  let dir: string;
  let t: TestApp | undefined;
  afterAll(async () => {
    await t?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('says why a stopped session stays stopped, and starts none of them', async () => {
    dir = await mkdtemp(join(tmpdir(), 'storycast-sessions-'));
    const store = `sqlite://${join(dir, 'store.sqlite')}`;
    // What an earlier run left behind: a banned account and a link nobody finished.
    const keyv = createKeyv(store, { namespace: 'storycast:baileys-auth', logger: silentLogger });
    const banned = await createKeyvAuthState(keyv, 'shop', { logger: silentLogger });
    banned.state.creds.registered = true;
    await banned.saveCreds();
    await saveLifecycle(keyv, 'shop', {
      state: 'banned',
      reason: 'temporarily banned (402): lifts in about 24 h',
      account: '+15*******67',
      updatedAt: 1_700_000_000_000,
    });
    await (await createKeyvAuthState(keyv, 'half', { logger: silentLogger })).saveCreds();
    await keyv.disconnect();

    t = await createTestApp({ STORYCAST_TRANSPORT: 'baileys', STORYCAST_STORE: store });
    const client = createClient(SessionService, t.transport);
    const shop = (await client.getSession({ sessionId: 'shop' })).session!;
    expect(shop).toMatchObject({
      state: SessionState.BANNED,
      reason: 'temporarily banned (402): lifts in about 24 h',
      account: '+15*******67',
    });
    const half = (await client.getSession({ sessionId: 'half' })).session!;
    expect(half.state).toBe(SessionState.UNPAIRED);
    expect(half.reason).toContain('never finished');
    // Started, either would be CONNECTING by now.
    expect((await client.listSessions({})).sessions.map((x) => [x.sessionId, x.state])).toEqual([
      ['half', SessionState.UNPAIRED],
      ['shop', SessionState.BANNED],
    ]);
  });
});

describe('sessionToProto', () => {
  it('gives every state its own enum value', () => {
    // The mapping's keys are every state: its type is a Record over the vocabulary.
    const names = Object.keys(sessionStateToProto) as SessionStateName[];
    const values = names.map((state) => sessionToProto({ id: 's', state, updatedAt: 0 }).state);
    expect(values).not.toContain(SessionState.UNSPECIFIED);
    expect(new Set(values).size).toBe(names.length);
    expect(sessionToProto({ id: 's', state: 'unpaired', updatedAt: 0 }).state).toBe(SessionState.UNPAIRED);
  });
});

describe('maskAccount', () => {
  it('hides the middle of a number or JID', () => {
    expect(maskAccount('447700900123@s.whatsapp.net')).toBe('+44********23');
    expect(maskAccount('15551234567:12@s.whatsapp.net')).toBe('+15*******67');
  });
});
