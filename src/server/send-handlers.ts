/**
 * The StoryService calls about sends: SendStory starts or attaches through the
 * registry and streams the send's log; WatchSend, GetSend, ListSends and
 * CancelSend read and steer sends whoever started them. Thin: the registry
 * (src/sends) owns sends, this file only translates.
 */
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { Code, type HandlerContext } from '@connectrpc/connect';
import {
  CancelSendResponseSchema,
  GetSendResponseSchema,
  ListSendsResponseSchema,
  OnDisconnect,
  SendSchema,
  SendState,
  type CancelSendRequest,
  type GetSendRequest,
  type ListSendsRequest,
  type Send,
  type SendStoryRequest,
  type SendStoryResponse,
  type WatchSendRequest,
} from '../gen/storycast/v1/story_service_pb.js';
import type { SendRegistry } from '../sends/registry.js';
import type { SendRecord, SendState as DomainState } from '../sends/store.js';
import { loggerOf } from './context.js';
import { invalidField, requireSessionId, storycastError } from './errors.js';
import type { RunningSends } from './sends.js';
import type { SendEvent } from '../engine/events.js';
import { eventToProto } from './translate.js';
import { isScheduled, type ScheduleHandlers } from './schedule-handlers.js';
import { sendError, startRequestOf, type SendRequestDeps } from './send-request.js';
import { scheduleIdOfRequest } from './schedule-fire.js';

export interface SendHandlerDeps {
  readonly registry: SendRegistry;
  readonly sends: RunningSends;
  /** What SendStory resolves a request with: strategies, experiments, lists and contacts. */
  readonly requests: SendRequestDeps;
  /** SendStory with start_time or repeat, and WatchSend on a send that has not started. */
  readonly schedules: Pick<ScheduleHandlers, 'accept' | 'scheduledEventOf'>;
}

const SENDS_PAGE_SIZE = { default: 50, max: 1000 } as const;
const STATE_TO_PROTO: Record<DomainState, SendState> = {
  RUNNING: SendState.RUNNING,
  SUCCEEDED: SendState.SUCCEEDED,
  CANCELLED: SendState.CANCELLED,
  FAILED: SendState.FAILED,
  SCHEDULED: SendState.SCHEDULED,
};

/**
 * A send's events as the API streams them. The watch also ends quietly when
 * the call is aborted: unless the send's end got through, an abort (a
 * deadline that passed, a shutdown) ends the call as one, not as OK.
 */
async function* toTheEnd(events: AsyncIterable<SendEvent>, signal: AbortSignal): AsyncGenerator<SendStoryResponse> {
  let ended = false;
  for await (const event of events) {
    ended ||= event.type === 'summary';
    yield eventToProto(event);
  }
  if (!ended) signal.throwIfAborted();
}

export function sendHandlers(deps: SendHandlerDeps) {
  const { registry, sends } = deps;
  const toError = sendError;

  const requireSendId = (id: string) => {
    if (id.trim() === '') throw invalidField('send_id', 'MISSING_SEND_ID', 'send_id is required');
    return id;
  };

  const toProto = async (record: SendRecord): Promise<Send> => {
    const summary = record.state === 'RUNNING' || record.state === 'SCHEDULED' ? undefined : await registry.summaryOf(record);
    const expiresAt = registry.expiresAt(record);
    return create(SendSchema, {
      sendId: record.sendId,
      requestId: record.requestId,
      sessionId: record.sessionId,
      strategy: record.strategy,
      state: STATE_TO_PROTO[record.state],
      ...record.progress,
      events: record.events,
      ...(summary ? { summary: summaryOf(eventToProto(summary)) } : {}),
      failureReason: record.failure?.reason ?? '',
      failureMessage: record.failure?.message ?? '',
      createTime: timestampFromMs(record.createdAt),
      updateTime: timestampFromMs(record.updatedAt),
      ...(expiresAt === undefined ? {} : { expireTime: timestampFromMs(expiresAt) }),
      ...(record.startAt === undefined ? {} : { startTime: timestampFromMs(record.startAt) }),
      scheduleId: record.scheduleId ?? scheduleIdOfRequest(record.requestId) ?? '',
    });
  };

  async function* sendStory(req: SendStoryRequest, ctx: HandlerContext): AsyncGenerator<SendStoryResponse> {
    if (!sends.accepting) throw storycastError(Code.Unavailable, 'SHUTTING_DOWN', 'the server is shutting down; retry on another instance');
    if (isScheduled(req)) {
      yield await deps.schedules.accept(req);
      return;
    }
    const start = await startRequestOf(deps.requests, req, loggerOf(ctx));
    const attachment = await registry
      .start(start, req.onDisconnect === OnDisconnect.CONTINUE ? 'continue' : 'cancel')
      .catch((error: unknown) => {
        throw toError(error);
      });
    let ended = false;
    const gone = () => attachment.release(true);
    ctx.signal.addEventListener('abort', gone, { once: true });
    try {
      yield* toTheEnd(registry.watch(attachment.sendId, 0, ctx.signal), ctx.signal);
      ended = !ctx.signal.aborted;
    } catch (error) {
      ended = true;
      throw toError(error);
    } finally {
      ctx.signal.removeEventListener('abort', gone);
      attachment.release(!ended);
    }
  }

  async function* watchSend(req: WatchSendRequest, ctx: HandlerContext): AsyncGenerator<SendStoryResponse> {
    const sendId = requireSendId(req.sendId);
    try {
      if (req.afterEvent === 0) {
        const scheduled = await deps.schedules.scheduledEventOf(sendId);
        if (scheduled) yield scheduled;
      }
      yield* toTheEnd(registry.watch(sendId, req.afterEvent, ctx.signal), ctx.signal);
    } catch (error) {
      throw toError(error);
    }
  }

  return {
    sendStory,
    watchSend,

    async getSend(req: GetSendRequest) {
      const record = await registry.get(requireSendId(req.sendId)).catch((error: unknown) => {
        throw toError(error);
      });
      return create(GetSendResponseSchema, { send: await toProto(record) });
    },

    async listSends(req: ListSendsRequest) {
      const sessionId = req.sessionId === '' ? undefined : requireSessionId(req.sessionId);
      if (req.pageSize < 0) throw invalidField('page_size', 'BAD_PAGE_SIZE', 'page_size must not be negative');
      const limit = req.pageSize === 0 ? SENDS_PAGE_SIZE.default : Math.min(req.pageSize, SENDS_PAGE_SIZE.max);
      const state = stateFromProto(req.state);
      const binding = `${req.sessionId}/${req.state}`;
      const after = decodeToken(req.pageToken, binding);
      const page = await registry.list({
        ...(sessionId ? { sessionId } : {}),
        ...(state ? { state } : {}),
        ...(after ? { after } : {}),
        limit,
      });
      return create(ListSendsResponseSchema, {
        sends: await Promise.all(page.sends.map(toProto)),
        nextPageToken: page.next ? encodeToken(page.next, binding) : '',
      });
    },

    async cancelSend(req: CancelSendRequest) {
      const record = await registry.cancel(requireSendId(req.sendId)).catch((error: unknown) => {
        throw toError(error);
      });
      return create(CancelSendResponseSchema, { send: await toProto(record) });
    },
  };
}

function summaryOf(response: SendStoryResponse) {
  return response.event.case === 'summary' ? response.event.value : undefined;
}

function stateFromProto(state: SendState): DomainState | undefined {
  const found = Object.entries(STATE_TO_PROTO).find(([, value]) => value === state);
  if (state !== SendState.UNSPECIFIED && !found) throw invalidField('state', 'BAD_STATE', `state ${state} is not a send state`);
  return found?.[0] as DomainState | undefined;
}

/** AIP-158 tokens: opaque, the last send of the page, bound to the filters they were issued for. */
function encodeToken(after: { createdAt: number; sendId: string }, binding: string): string {
  return Buffer.from(JSON.stringify({ c: after.createdAt, i: after.sendId, b: binding })).toString('base64url');
}

function decodeToken(token: string, binding: string): { createdAt: number; sendId: string } | undefined {
  if (token === '') return undefined;
  let parsed: { c?: unknown; i?: unknown; b?: unknown };
  try {
    parsed = (JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) ?? {}) as typeof parsed;
  } catch {
    parsed = {};
  }
  if (typeof parsed.c !== 'number' || typeof parsed.i !== 'string') {
    throw invalidField('page_token', 'BAD_PAGE_TOKEN', 'page_token is not one this server issued');
  }
  if (parsed.b !== binding) {
    throw invalidField(
      'page_token',
      'BAD_PAGE_TOKEN',
      'page_token was issued for other filters (a token is only valid with the request that returned it)',
    );
  }
  return { createdAt: parsed.c, sendId: parsed.i };
}
