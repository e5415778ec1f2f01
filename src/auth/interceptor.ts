/**
 * API keys (and client certificates) on every call: who is calling
 * (UNAUTHENTICATED when nobody), whether their key has the role the RPC needs
 * and reaches the session it is about (PERMISSION_DENIED otherwise), both with
 * a google.rpc.ErrorInfo. Health is always open (probes carry no key);
 * reflection is open unless STORYCAST_AUTH_REFLECTION=true.
 *
 * It runs before the services' forwarding wrappers, so a call is checked
 * where it arrives, and again by the replica it is forwarded to (the
 * caller's headers go along).
 */
import { create } from '@bufbuild/protobuf';
import {
  Code,
  type ConnectError,
  type ContextValues,
  createContextKey,
  type HandlerContext,
  type Interceptor,
  type StreamRequest,
  type UnaryRequest,
  type UnaryResponse,
} from '@connectrpc/connect';
import { type ListSessionsResponse, ListSessionsResponseSchema } from '../gen/storycast/v1/session_service_pb.js';
import { healthServiceName, reflectionServiceNames } from '../server/grpc-plugins/index.js';
import { requireSessionId, storycastError } from '../server/errors.js';
import { SendNotFoundError } from '../sends/errors.js';
import type { SendRegistry } from '../sends/registry.js';
import type { ScheduleStore } from '../schedules/store.js';
import { clientCertificateOf, clientCertificateTenant } from './client-cert.js';
import type { ApiKeys, Principal, Role } from './keys.js';
import { narrowedListSends } from './list-sends.js';
import { policyOf, type RpcPolicy } from './policy.js';

export interface ApiKeyAuthOptions {
  readonly keys: ApiKeys;
  /** Where a send's session is found (WatchSend, GetSend, CancelSend name a send, not a session). */
  readonly registry: Pick<SendRegistry, 'get'>;
  /** Where a schedule's session is found (DeleteSchedule names a schedule); without it only a key for every session may delete. */
  readonly schedules?: Pick<ScheduleStore, 'get'>;
  /** STORYCAST_AUTH_REFLECTION: reflection needs a key too. */
  readonly authReflection: boolean;
  /** Told who is calling once known, e.g. to add the tenant to the call's log lines (never the key: the principal has none). */
  readonly onAuthenticated?: (values: ContextValues, principal: Principal) => void;
}

const principalKey = createContextKey<Principal | undefined>(undefined, { description: 'authenticated caller' });

/** Who is calling, for handlers: undefined when the server runs without API keys (or for health and open reflection). */
export function callerOf(ctx: HandlerContext): Principal | undefined {
  return ctx.values.get(principalKey);
}

const BEARER = /^Bearer +(\S+) *$/i;
const REFLECTION = new Set(reflectionServiceNames);

export function apiKeyAuth(options: ApiKeyAuthOptions): Interceptor {
  const { keys, authReflection } = options;
  return (next) => async (req) => {
    const service = req.service.typeName;
    if (service === healthServiceName || (REFLECTION.has(service) && !authReflection)) return next(req);
    const principal = authenticate(req.header, req.contextValues, keys);
    req.contextValues.set(principalKey, principal);
    options.onAuthenticated?.(req.contextValues, principal);
    // Any valid key may look at what the server serves.
    if (REFLECTION.has(service)) return next(req);

    const policy = policyOf(req.method);
    if (!policy) {
      throw storycastError(
        Code.PermissionDenied,
        'RPC_NOT_ALLOWED',
        `${service}/${req.method.name} has no access rule: no key may call it`,
      );
    }
    if (policy.role !== undefined && !principal.roles.has(policy.role)) throw roleMissing(principal, policy.role, req.method.name);

    if (req.stream) {
      // Server streams (SendStory, WatchSend, ConnectSession): the request is read here, then handed on as it came.
      const { first, all } = await peek(req.message);
      if (first !== undefined) await authorize(policy, first, principal, options);
      return next({ ...req, message: all } as StreamRequest);
    }
    await authorize(policy, req.message, principal, options);
    if (policy.scope === 'sends-list' && !principal.allSessions && sessionIdOf(req.message) === '') {
      return narrowedListSends(req, next as (r: UnaryRequest) => Promise<UnaryResponse>, principal, keys.secret);
    }
    const res = await next(req);
    if (policy.scope === 'sessions-list' && !principal.allSessions && !res.stream) {
      const sessions = (res.message as ListSessionsResponse).sessions.filter((s) => principal.allowsSession(s.sessionId));
      return { ...res, message: create(ListSessionsResponseSchema, { sessions }) };
    }
    return res;
  };
}

/** The key, else a verified client certificate; UNAUTHENTICATED otherwise. A key that is given must be known, certificate or not. */
function authenticate(header: Headers, values: ContextValues, keys: ApiKeys): Principal {
  const authorization = header.get('authorization');
  if (authorization === null) {
    const certificate = clientCertificateOf(values);
    if (!certificate)
      throw unauthenticated('API_KEY_MISSING', 'this server needs an API key: send the header "authorization: Bearer <key>"');
    const principal = clientCertificateTenant(certificate, keys);
    if (!principal) {
      throw unauthenticated(
        'CLIENT_CERT_UNKNOWN',
        `no API key was sent, and no entry of the keys file names client certificate "${certificate.subjectCn}"`,
        {
          subject_cn: certificate.subjectCn,
        },
      );
    }
    return principal;
  }
  const key = BEARER.exec(authorization)?.[1];
  if (key === undefined) throw unauthenticated('API_KEY_MISSING', 'the authorization header must be "Bearer <key>"');
  const principal = keys.byKey(key);
  if (!principal) throw unauthenticated('API_KEY_UNKNOWN', 'the API key is not one this server knows');
  return principal;
}

async function authorize(
  policy: RpcPolicy,
  message: unknown,
  principal: Principal,
  lookups: Pick<ApiKeyAuthOptions, 'registry' | 'schedules'>,
): Promise<void> {
  switch (policy.scope) {
    case 'session':
      return checkSession(principal, requireSessionId(sessionIdOf(message)));
    case 'sends-list': {
      const sessionId = sessionIdOf(message);
      return sessionId === '' ? undefined : checkSession(principal, requireSessionId(sessionId));
    }
    case 'send':
      return checkSend(principal, sendIdOf(message), lookups.registry);
    case 'schedule':
      return checkSchedule(principal, String((message as { scheduleId?: unknown }).scheduleId ?? ''), lookups.schedules);
    case 'schedules-list': {
      const sessionId = sessionIdOf(message);
      if (sessionId !== '') return checkSession(principal, requireSessionId(sessionId));
      if (principal.allSessions) return;
      throw storycastError(
        Code.PermissionDenied,
        'SESSION_ID_REQUIRED',
        `key "${principal.label}" of tenant "${principal.tenant}" reaches only some sessions: name one in session_id`,
        { field: 'session_id', tenant: principal.tenant },
      );
    }
    case 'every-tenant':
      if (!principal.allSessions) {
        throw storycastError(
          Code.PermissionDenied,
          'ALL_SESSIONS_REQUIRED',
          `experiments steer and count every tenant's sends: changing one needs an admin key for every session ("sessions": ["*"]), and key "${principal.label}" of tenant "${principal.tenant}" is not`,
          { tenant: principal.tenant },
        );
      }
      return;
    case 'sessions-list':
    case 'none':
      return;
  }
}

function checkSession(principal: Principal, sessionId: string): void {
  if (principal.allowsSession(sessionId)) return;
  throw storycastError(
    Code.PermissionDenied,
    'SESSION_NOT_ALLOWED',
    `session "${sessionId}" is not one of tenant "${principal.tenant}"'s sessions (key "${principal.label}")`,
    { session_id: sessionId, tenant: principal.tenant },
  );
}

/**
 * A send of another tenant's session and a send that does not exist get the
 * same answer, so a key cannot probe which send ids exist, nor learn whose
 * session a send is. A key for every session gets NOT_FOUND from the
 * handler, as without auth: there is nothing it could not see.
 */
async function checkSend(principal: Principal, sendId: string, registry: ApiKeyAuthOptions['registry']): Promise<void> {
  // The handler refuses a missing send_id as INVALID_ARGUMENT; the handler does nothing else with it.
  if (sendId.trim() === '' || principal.allSessions) return;
  let sessionId: string | undefined;
  try {
    sessionId = (await registry.get(sendId)).sessionId;
  } catch (error) {
    if (!(error instanceof SendNotFoundError)) {
      throw storycastError(
        Code.Unavailable,
        'JOURNAL_UNAVAILABLE',
        'cannot tell whose send this is: the send journal is unavailable',
        {},
        error,
      );
    }
  }
  if (sessionId !== undefined && principal.allowsSession(sessionId)) return;
  throw storycastError(
    Code.PermissionDenied,
    'SEND_NOT_ALLOWED',
    `send "${sendId}" is not a send of tenant "${principal.tenant}"'s sessions (key "${principal.label}"), or does not exist`,
    { send_id: sendId, tenant: principal.tenant },
  );
}

/** As for sends: another tenant's schedule and one that does not exist get the same answer. */
async function checkSchedule(principal: Principal, scheduleId: string, schedules: ApiKeyAuthOptions['schedules']): Promise<void> {
  if (scheduleId.trim() === '' || principal.allSessions) return;
  const schedule = await schedules?.get(scheduleId).catch((error: unknown) => {
    throw storycastError(
      Code.Unavailable,
      'STORE_UNAVAILABLE',
      'cannot tell whose schedule this is: the schedule store is unavailable',
      {},
      error,
    );
  });
  if (schedule && principal.allowsSession(schedule.sessionId)) return;
  throw storycastError(
    Code.PermissionDenied,
    'SCHEDULE_NOT_ALLOWED',
    `schedule "${scheduleId}" is not one of tenant "${principal.tenant}"'s sessions (key "${principal.label}"), or does not exist`,
    { schedule_id: scheduleId, tenant: principal.tenant },
  );
}

function roleMissing(principal: Principal, role: Role, rpc: string): ConnectError {
  return storycastError(
    Code.PermissionDenied,
    'ROLE_MISSING',
    `${rpc} needs the "${role}" role, which key "${principal.label}" of tenant "${principal.tenant}" does not have`,
    { role, tenant: principal.tenant },
  );
}

function unauthenticated(reason: string, message: string, metadata: Record<string, string> = {}): ConnectError {
  const error = storycastError(Code.Unauthenticated, reason, message, metadata);
  // RFC 6750: what to authenticate with (gRPC sends it as a trailer).
  error.metadata.set('www-authenticate', 'Bearer realm="storycast"');
  return error;
}

const sessionIdOf = (message: unknown): string => String((message as { sessionId?: unknown }).sessionId ?? '');
const sendIdOf = (message: unknown): string => String((message as { sendId?: unknown }).sendId ?? '');

/** The first message, and every message (that one included) for the handler, which checks there is exactly one. */
async function peek<T>(messages: AsyncIterable<T>): Promise<{ first: T | undefined; all: AsyncIterable<T> }> {
  const it = messages[Symbol.asyncIterator]();
  const head = await it.next();
  async function* all(): AsyncGenerator<T> {
    if (head.done) return;
    yield head.value;
    for (;;) {
      const step = await it.next();
      if (step.done) return;
      yield step.value;
    }
  }
  return { first: head.done ? undefined : head.value, all: all() };
}
