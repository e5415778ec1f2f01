/**
 * API keys end to end, over gRPC on a real port and in memory through the
 * server's own handler: no key or an unknown one is UNAUTHENTICATED; a key
 * reaches only its tenant's sessions and sends, through every RPC that takes
 * one (PERMISSION_DENIED otherwise, and the refused call changes nothing);
 * lists show a tenant only its own; a role the key lacks is refused; health
 * needs no key; and the server's logs never hold a key.
 */
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { DescService } from '@bufbuild/protobuf';
import {
  Code,
  ConnectError,
  type Client,
  createClient,
  createRouterTransport,
  type Interceptor,
  type Transport,
} from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { pino } from 'pino';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { apiKeyAuth, callerOf } from '../src/auth/interceptor.js';
import { ApiKeys, type Principal } from '../src/auth/keys.js';
import { MAX_READS } from '../src/auth/list-sends.js';
import { ErrorInfoSchema } from '../src/gen/google/rpc/error_details_pb.js';
import { ExperimentService } from '../src/gen/storycast/v1/experiment_service_pb.js';
import { SessionService, SessionState } from '../src/gen/storycast/v1/session_service_pb.js';
import { OnDisconnect, SendState, StoryService } from '../src/gen/storycast/v1/story_service_pb.js';
import { Health, HealthCheckResponse_ServingStatus } from '../src/gen/grpc/health/v1/health_pb.js';
import * as reflection from '../src/gen/grpc/reflection/v1/reflection_pb.js';
import { KEY, KEYS_FILE } from './fixtures/auth/keys.js';
import { numbers } from './support/scripted-transport.js';
import { createTestApp, startTestServer } from './support/storycast-server.js';
import { collectStream } from './support/streams.js';

const keys = ApiKeys.load(KEYS_FILE);
const protoDir = fileURLToPath(new URL('../proto', import.meta.url));
const story = { content: { case: 'text' as const, value: { text: 'hi' } } };

const bearer =
  (key: string): Interceptor =>
  (next) =>
  (req) => {
    req.header.set('authorization', `Bearer ${key}`);
    return next(req);
  };

/** A server's log lines, as text. */
function logSink() {
  const lines: string[] = [];
  const logger = pino(
    { level: 'debug' },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    }),
  );
  return { logger, text: () => lines.join('') };
}

/** The error a unary call or a stream failed with. */
async function refusal(call: Promise<unknown> | AsyncIterable<unknown>): Promise<ConnectError> {
  if (Symbol.asyncIterator in call) {
    const { error } = await collectStream(call);
    if (!error) throw new Error('the stream succeeded');
    return error;
  }
  try {
    await call;
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error('the call succeeded');
}

function info(error: ConnectError) {
  return error.findDetails(ErrorInfoSchema)[0];
}

async function expectDenied(call: Promise<unknown> | AsyncIterable<unknown>, reason: string, metadata: Record<string, string> = {}) {
  const error = await refusal(call);
  expect(error.code, error.message).toBe(Code.PermissionDenied);
  expect(info(error)).toMatchObject({ domain: 'storycast', reason, metadata });
  return error;
}

interface Wire {
  transport(interceptors: Interceptor[]): Transport;
  logs(): string;
  close(): Promise<void>;
}

const wires: Record<string, (authReflection: boolean) => Promise<Wire>> = {
  'gRPC on a port': async (authReflection) => {
    const sink = logSink();
    const t = await startTestServer(
      {},
      { logger: sink.logger, interceptors: ({ registry, schedules }) => [apiKeyAuth({ keys, registry, schedules, authReflection })] },
    );
    return {
      transport: (interceptors) => createGrpcTransport({ baseUrl: t.url, interceptors }),
      logs: sink.text,
      close: () => t.server.close(),
    };
  },
  'in memory': async (authReflection) => {
    const sink = logSink();
    const t = await createTestApp(
      {},
      { logger: sink.logger, interceptors: ({ registry, schedules }) => [apiKeyAuth({ keys, registry, schedules, authReflection })] },
    );
    return {
      transport: (interceptors) => createRouterTransport(t.app.routes, { router: t.app.routerOptions, transport: { interceptors } }),
      logs: sink.text,
      close: () => t.close(),
    };
  },
};

describe.each(Object.keys(wires))('API keys, %s', (wireName) => {
  let wire: Wire;
  const as = <S extends DescService>(service: S, key?: string): Client<S> =>
    createClient(service, wire.transport(key === undefined ? [] : [bearer(key)]));
  /** B's finished send from b-1, and its summary's message id. */
  let bSend: { sendId: string; messageId: string };
  let aSendId: string;

  async function sendAll(key: string, sessionId: string, extra: Record<string, unknown> = {}) {
    const { events, error } = await collectStream(
      as(StoryService, key).sendStory({ sessionId, story, recipients: numbers(200), ...extra }),
    );
    if (error) throw error;
    const planned = events.find((e) => e.event.case === 'planned')?.event.value as { sendId: string };
    const summary = events.at(-1)?.event;
    return { sendId: planned.sendId, messageId: summary?.case === 'summary' ? summary.value.messageId : '' };
  }

  beforeAll(async () => {
    wire = await wires[wireName]!(false);
    bSend = await sendAll(KEY.b, 'b-1');
    aSendId = (await sendAll(KEY.a, 'a-1')).sendId;
  });
  afterAll(async () => {
    await wire?.close();
  });

  describe('who is calling', () => {
    it('no key: UNAUTHENTICATED API_KEY_MISSING, with www-authenticate', async () => {
      const error = await refusal(as(StoryService).getSend({ sendId: aSendId }));
      expect(error.code).toBe(Code.Unauthenticated);
      expect(info(error)).toMatchObject({ domain: 'storycast', reason: 'API_KEY_MISSING' });
      expect(error.metadata.get('www-authenticate')).toBe('Bearer realm="storycast"');
      // A stream is refused the same way, before anything is sent.
      const stream = await refusal(as(StoryService).sendStory({ sessionId: 'a-1', story, recipients: numbers(10) }));
      expect([stream.code, info(stream)?.reason]).toEqual([Code.Unauthenticated, 'API_KEY_MISSING']);
    });

    it('an unknown key, or a header that is not "Bearer <key>": UNAUTHENTICATED, and neither is echoed', async () => {
      const unknown = await refusal(as(StoryService, 'sk-test-nobody').listStrategies({}));
      expect([unknown.code, info(unknown)?.reason]).toEqual([Code.Unauthenticated, 'API_KEY_UNKNOWN']);
      expect(unknown.message).not.toContain('sk-test-nobody');
      const basic: Interceptor = (next) => (req) => {
        req.header.set('authorization', `Basic ${KEY.a}`);
        return next(req);
      };
      const malformed = await refusal(createClient(StoryService, wire.transport([basic])).listStrategies({}));
      expect([malformed.code, info(malformed)?.reason]).toEqual([Code.Unauthenticated, 'API_KEY_MISSING']);
      // The hash of a key is not a key.
      const hash = createHash('sha256').update(KEY.a).digest('hex');
      expect(info(await refusal(as(StoryService, hash).listStrategies({})))?.reason).toBe('API_KEY_UNKNOWN');
    });

    it('health needs no key; reflection needs none unless STORYCAST_AUTH_REFLECTION', async () => {
      const health = await createClient(Health, wire.transport([])).check({ service: '' });
      expect(health.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
      const replies = await collectStream(
        createClient(reflection.ServerReflection, wire.transport([])).serverReflectionInfo(
          (async function* () {
            yield { messageRequest: { case: 'listServices' as const, value: '' } };
          })(),
        ),
      );
      expect(replies.error).toBeUndefined();
      expect(replies.events).toHaveLength(1);
    });
  });

  describe("tenant a cannot reach tenant b's sessions", () => {
    it('SendStory from b-1: SESSION_NOT_ALLOWED, and nothing is sent', async () => {
      const before = (await as(StoryService, KEY.b).listSends({ sessionId: 'b-1' })).sends.length;
      await expectDenied(as(StoryService, KEY.a).sendStory({ sessionId: 'b-1', story, recipients: numbers(50) }), 'SESSION_NOT_ALLOWED', {
        session_id: 'b-1',
        tenant: 'a',
      });
      expect((await as(StoryService, KEY.b).listSends({ sessionId: 'b-1' })).sends).toHaveLength(before);
    });

    it('GetSessionLearning of b-1: SESSION_NOT_ALLOWED; b reads it', async () => {
      await expectDenied(as(StoryService, KEY.a).getSessionLearning({ sessionId: 'b-1' }), 'SESSION_NOT_ALLOWED', { session_id: 'b-1' });
      expect((await as(StoryService, KEY.b).getSessionLearning({ sessionId: 'b-1' })).found).toBe(true);
    });

    it('ResetSessionLearning: a lacks admin; b (admin) cannot reset a-1, and a-1 keeps what it learnt', async () => {
      await expectDenied(as(StoryService, KEY.a).resetSessionLearning({ sessionId: 'b-1' }), 'ROLE_MISSING', {
        role: 'admin',
        tenant: 'a',
      });
      await expectDenied(as(StoryService, KEY.b).resetSessionLearning({ sessionId: 'a-1' }), 'SESSION_NOT_ALLOWED', {
        session_id: 'a-1',
        tenant: 'b',
      });
      expect((await as(StoryService, KEY.a).getSessionLearning({ sessionId: 'a-1' })).found).toBe(true);
    });

    it("GetStoryReceipts of b-1's status: SESSION_NOT_ALLOWED; b reads them", async () => {
      const request = { sessionId: 'b-1', messageId: bSend.messageId };
      await expectDenied(as(StoryService, KEY.a).getStoryReceipts(request), 'SESSION_NOT_ALLOWED', { session_id: 'b-1' });
      await vi.waitFor(async () => expect((await as(StoryService, KEY.b).getStoryReceipts(request)).sessionId).toBe('b-1'), {
        timeout: 10_000,
        interval: 20,
      });
    });

    it("GetSend, WatchSend and CancelSend of b's send: SEND_NOT_ALLOWED, the same as a send that does not exist", async () => {
      const a = as(StoryService, KEY.a);
      for (const sendId of [bSend.sendId, 'no-such-send']) {
        // Made one at a time: a call made before an earlier one fails its test would reject unheard.
        for (const call of [() => a.getSend({ sendId }), () => a.watchSend({ sendId }), () => a.cancelSend({ sendId })]) {
          const error = await expectDenied(call(), 'SEND_NOT_ALLOWED', { send_id: sendId, tenant: 'a' });
          // Nothing says whose send it is (the random send id itself may happen to contain "b-1").
          expect(info(error)?.metadata.session_id).toBeUndefined();
          expect(error.message.replaceAll(sendId, '<send id>')).not.toContain('b-1');
        }
      }
      expect((await as(StoryService, KEY.b).getSend({ sendId: bSend.sendId })).send?.state).toBe(SendState.SUCCEEDED);
      // A key for every session has nothing to hide: an unknown send is NOT_FOUND, as without keys.
      const missing = await refusal(as(StoryService, KEY.operator).getSend({ sendId: 'no-such-send' }));
      expect([missing.code, info(missing)?.reason]).toEqual([Code.NotFound, 'SEND_NOT_FOUND']);
    });

    it("DeleteSchedule of b's schedule: SCHEDULE_NOT_ALLOWED, as for none; ListSchedules needs a session of the key's", async () => {
      const b = as(StoryService, KEY.b);
      const { events } = await collectStream(
        b.sendStory({ sessionId: 'b-1', story, recipients: numbers(5), startTime: timestampFromMs(Date.now() + 3_600_000) }),
      );
      const scheduled = events[0]?.event;
      if (scheduled?.case !== 'scheduled' || !scheduled.value.schedule) throw new Error('not scheduled');
      const { scheduleId } = scheduled.value.schedule;
      const a = as(StoryService, KEY.a);
      for (const id of [scheduleId, 'sch-no-such-schedule']) {
        await expectDenied(a.deleteSchedule({ scheduleId: id }), 'SCHEDULE_NOT_ALLOWED', { schedule_id: id, tenant: 'a' });
      }
      await expectDenied(a.listSchedules({}), 'SESSION_ID_REQUIRED', { field: 'session_id', tenant: 'a' });
      await expectDenied(a.listSchedules({ sessionId: 'b-1' }), 'SESSION_NOT_ALLOWED');
      expect((await a.listSchedules({ sessionId: 'a-1' })).schedules).toEqual([]);
      expect((await b.listSchedules({ sessionId: 'b-1' })).schedules.map((x) => x.scheduleId)).toEqual([scheduleId]);
      expect((await b.deleteSchedule({ scheduleId })).schedule?.scheduleId).toBe(scheduleId);
    });

    it("CancelSend of b's running send is refused and the send runs to its end", async () => {
      const b = as(StoryService, KEY.b);
      const controller = new AbortController();
      let sendId = '';
      for await (const e of b.sendStory(
        {
          sessionId: 'b-2',
          story,
          recipients: numbers(3000),
          onDisconnect: OnDisconnect.CONTINUE,
          requestId: `cancel-${wireName.replace(/\W/g, '-')}`,
        },
        { signal: controller.signal },
      )) {
        if (e.event.case === 'planned') {
          sendId = e.event.value.sendId;
          break;
        }
      }
      await expectDenied(as(StoryService, KEY.a).cancelSend({ sendId }), 'SEND_NOT_ALLOWED');
      const events = await collectStream(b.watchSend({ sendId }));
      expect(events.error).toBeUndefined();
      expect(events.events.at(-1)?.event.case).toBe('summary');
      expect((await b.getSend({ sendId })).send?.state).toBe(SendState.SUCCEEDED);
    });

    it('ListSends with session b-1: SESSION_NOT_ALLOWED; without a filter: only a-* sends, page after page', async () => {
      const a = as(StoryService, KEY.a);
      await expectDenied(a.listSends({ sessionId: 'b-1' }), 'SESSION_NOT_ALLOWED', { session_id: 'b-1' });
      const all = await a.listSends({});
      expect(all.sends.map((s) => s.sendId)).toContain(aSendId);
      expect(all.sends.every((s) => s.sessionId.startsWith('a-'))).toBe(true);
      // The operator sees b's sends too, so there were some to hide.
      expect((await as(StoryService, KEY.operator).listSends({})).sends.some((s) => s.sessionId.startsWith('b-'))).toBe(true);

      // Page by page, one send at a time, with more of b's sends between a's than one call reads: every a send,
      // no b send, a page that is empty but not the last, and no page token that holds one of b's send ids.
      for (let i = 0; i < MAX_READS + 2; i++) await sendAll(KEY.b, 'b-4', { recipients: numbers(3) });
      await sendAll(KEY.a, 'a-2');
      const bSendIds = (await as(StoryService, KEY.operator).listSends({ pageSize: 1000 })).sends
        .filter((s) => s.sessionId.startsWith('b-'))
        .map((s) => s.sendId);
      expect(bSendIds.length).toBeGreaterThan(MAX_READS);
      const pages: { sessions: string[]; token: string }[] = [];
      let pageToken = '';
      do {
        const page = await a.listSends({ pageSize: 1, pageToken });
        pages.push({ sessions: page.sends.map((s) => s.sessionId), token: page.nextPageToken });
        const inside = Buffer.from(page.nextPageToken, 'base64url').toString('latin1');
        expect(bSendIds.filter((id) => inside.includes(id))).toEqual([]);
        pageToken = page.nextPageToken;
      } while (pageToken !== '' && pages.length < 50);
      expect(pageToken).toBe('');
      expect(pages.flatMap((p) => p.sessions)).toEqual(['a-2', 'a-1']);
      expect(pages.some((p) => p.sessions.length === 0 && p.token !== '')).toBe(true);
      // b's token is no good to a, nor a's own for another filter.
      const bToken = (await as(StoryService, KEY.b).listSends({ pageSize: 1 })).nextPageToken;
      expect(bToken).not.toBe('');
      const bad = await refusal(a.listSends({ pageSize: 1, pageToken: bToken }));
      expect([bad.code, info(bad)?.reason]).toEqual([Code.InvalidArgument, 'BAD_PAGE_TOKEN']);
    });

    it('GetSession of b-1: SESSION_NOT_ALLOWED; ListSessions shows only a-*', async () => {
      const a = as(SessionService, KEY.a);
      await expectDenied(a.getSession({ sessionId: 'b-1' }), 'SESSION_NOT_ALLOWED', { session_id: 'b-1' });
      // The simulated network lists the sessions someone asked about.
      expect((await a.getSession({ sessionId: 'a-1' })).session?.sessionId).toBe('a-1');
      expect((await as(SessionService, KEY.b).getSession({ sessionId: 'b-1' })).session?.sessionId).toBe('b-1');
      const listed = (await a.listSessions({})).sessions.map((s) => s.sessionId);
      expect(listed).toContain('a-1');
      expect(listed.filter((id) => !id.startsWith('a-'))).toEqual([]);
      const everyone = (await as(SessionService, KEY.operator).listSessions({})).sessions.map((s) => s.sessionId);
      expect(everyone).toEqual(expect.arrayContaining(['a-1', 'b-1']));
    });

    it('LogoutSession and ConnectSession: a lacks admin; b (admin) cannot touch a-1, which stays open', async () => {
      const a = as(SessionService, KEY.a);
      await expectDenied(a.logoutSession({ sessionId: 'b-1' }), 'ROLE_MISSING', { role: 'admin' });
      await expectDenied(a.connectSession({ sessionId: 'b-1' }), 'ROLE_MISSING', { role: 'admin' });
      const b = as(SessionService, KEY.b);
      await expectDenied(b.logoutSession({ sessionId: 'a-1' }), 'SESSION_NOT_ALLOWED', { session_id: 'a-1', tenant: 'b' });
      await expectDenied(b.connectSession({ sessionId: 'a-1' }), 'SESSION_NOT_ALLOWED', { session_id: 'a-1', tenant: 'b' });
      expect((await a.getSession({ sessionId: 'a-1' })).session?.state).toBe(SessionState.OPEN);
      // Its own: allowed.
      const connected = await collectStream(b.connectSession({ sessionId: 'b-3' }));
      expect(connected.error).toBeUndefined();
      expect((await b.logoutSession({ sessionId: 'b-3' })).existed).toBe(true);
    });
  });

  describe('roles', () => {
    it('a read-only key reads its sessions and sends, and cannot send or cancel: ROLE_MISSING', async () => {
      const reader = as(StoryService, KEY.aReader);
      expect((await reader.getSend({ sendId: aSendId })).send?.sessionId).toBe('a-1');
      await expectDenied(reader.sendStory({ sessionId: 'a-1', story, recipients: numbers(10) }), 'ROLE_MISSING', {
        role: 'send',
        tenant: 'a',
      });
      await expectDenied(reader.cancelSend({ sendId: aSendId }), 'ROLE_MISSING', { role: 'send' });
      expect((await reader.listStrategies({})).strategies.length).toBeGreaterThan(0);
    });

    it('experiments: any reader lists them; changing one needs an admin key for every session', async () => {
      const experiment = {
        key: `auth-${wireName.replace(/\W/g, '-')}`,
        arms: [
          { name: 'control', strategy: 'adaptive', weight: 1, control: true },
          { name: 'c', strategy: 'conservative', weight: 1 },
        ],
      };
      await expectDenied(as(ExperimentService, KEY.a).createExperiment({ experiment }), 'ROLE_MISSING', { role: 'admin' });
      await expectDenied(as(ExperimentService, KEY.b).createExperiment({ experiment }), 'ALL_SESSIONS_REQUIRED', { tenant: 'b' });
      await as(ExperimentService, KEY.operator).createExperiment({ experiment });
      const listed = await as(ExperimentService, KEY.aReader).listExperiments({});
      expect(listed.experiments.map((e) => e.key)).toContain(experiment.key);
      await expectDenied(as(ExperimentService, KEY.b).stopExperiment({ key: experiment.key }), 'ALL_SESSIONS_REQUIRED');
    });
  });

  it('the logs name the tenant of refused calls and never hold a key or its hash', async () => {
    const logs = wire.logs();
    expect(logs).toContain('SESSION_NOT_ALLOWED');
    expect(logs).toContain('tenant \\"a\\"');
    for (const key of [...Object.values(KEY), 'sk-test-nobody']) {
      expect(logs).not.toContain(key);
      expect(logs).not.toContain(createHash('sha256').update(key).digest('hex'));
    }
  });
});

describe('STORYCAST_AUTH_REFLECTION=true', () => {
  it('reflection needs a key too; health still does not', async () => {
    const t = await startTestServer({}, { interceptors: ({ registry }) => [apiKeyAuth({ keys, registry, authReflection: true })] });
    try {
      const ask = (interceptors: Interceptor[]) =>
        collectStream(
          createClient(reflection.ServerReflection, createGrpcTransport({ baseUrl: t.url, interceptors })).serverReflectionInfo(
            (async function* () {
              yield { messageRequest: { case: 'listServices' as const, value: '' } };
            })(),
          ),
        );
      const refused = await ask([]);
      expect([refused.error?.code, refused.error && info(refused.error)?.reason]).toEqual([Code.Unauthenticated, 'API_KEY_MISSING']);
      // Any valid key, whatever its roles.
      const allowed = await ask([bearer(KEY.aReader)]);
      expect(allowed.error).toBeUndefined();
      expect(allowed.events).toHaveLength(1);
      const health = await createClient(Health, createGrpcTransport({ baseUrl: t.url })).check({ service: '' });
      expect(health.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    } finally {
      await t.server.close();
    }
  });
});

describe('a @grpc/grpc-js client with the .proto files', () => {
  it('sends its key as metadata: its own session streams, another tenant’s is PERMISSION_DENIED with an ErrorInfo', async () => {
    const t = await startTestServer({}, { interceptors: ({ registry }) => [apiKeyAuth({ keys, registry, authReflection: false })] });
    const definition = protoLoader.loadSync('storycast/v1/story_service.proto', {
      includeDirs: [protoDir],
      longs: String,
      defaults: true,
      oneofs: true,
    });
    const pkg = grpc.loadPackageDefinition(definition) as unknown as { storycast: { v1: { StoryService: grpc.ServiceClientConstructor } } };
    const raw = new pkg.storycast.v1.StoryService(t.address, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
      sendStory(request: object, metadata: grpc.Metadata): grpc.ClientReadableStream<{ event: string }>;
    };
    const withKey = (key: string) => {
      const metadata = new grpc.Metadata();
      metadata.set('authorization', `Bearer ${key}`);
      return metadata;
    };
    const stream = (sessionId: string, metadata: grpc.Metadata) =>
      new Promise<{ events: string[]; error?: grpc.ServiceError }>((resolve) => {
        const events: string[] = [];
        const call = raw.sendStory({ sessionId, story: { text: { text: 'hi' } }, recipients: numbers(100) }, metadata);
        call.on('data', (response: { event: string }) => events.push(response.event));
        call.on('error', (error: grpc.ServiceError) => resolve({ events, error }));
        call.on('end', () => resolve({ events }));
      });
    try {
      const ok = await stream('a-grpc-js', withKey(KEY.a));
      expect(ok.error).toBeUndefined();
      expect(ok.events.at(0)).toBe('planned');
      expect(ok.events.at(-1)).toBe('summary');
      const denied = await stream('b-grpc-js', withKey(KEY.a));
      expect(denied.events).toEqual([]);
      expect(denied.error?.code).toBe(grpc.status.PERMISSION_DENIED);
      expect(denied.error?.details).toContain('session "b-grpc-js" is not one of tenant "a"\'s sessions');
      // The ErrorInfo rides in grpc-status-details-bin, as for every storycast error.
      expect(denied.error?.metadata.get('grpc-status-details-bin')).toHaveLength(1);
      const anonymous = await stream('a-grpc-js', new grpc.Metadata());
      expect(anonymous.error?.code).toBe(grpc.status.UNAUTHENTICATED);
    } finally {
      raw.close();
      await t.server.close();
    }
  });
});

describe('who is calling, for handlers and logs', () => {
  it('callerOf gives handlers the tenant and key name; onAuthenticated hears them; neither holds the key', async () => {
    const heard: Principal[] = [];
    const auth = apiKeyAuth({
      keys,
      registry: { get: () => Promise.reject(new Error('not asked')) },
      authReflection: false,
      onAuthenticated: (_values, principal) => heard.push(principal),
    });
    const transport = createRouterTransport(
      (router) =>
        router.service(StoryService, {
          listStrategies: (_req, ctx) => ({ defaultStrategy: `${callerOf(ctx)?.tenant}/${callerOf(ctx)?.label}/${callerOf(ctx)?.via}` }),
        }),
      { router: { interceptors: [auth] }, transport: { interceptors: [bearer(KEY.a)] } },
    );
    expect((await createClient(StoryService, transport).listStrategies({})).defaultStrategy).toBe('a/a-app/api-key');
    expect(heard.map((p) => p.tenant)).toEqual(['a']);
    expect(JSON.stringify(heard[0])).not.toContain(KEY.a);
  });
});
