/**
 * Any replica accepts any call. A call about a session (or a running send of
 * one) that another replica owns is forwarded to that replica's advertised
 * address as it came, and its answer relayed unchanged: the same messages,
 * the same status and error details. A session nobody owns is placed on the
 * least loaded live replica (src/replicas/router.ts decides where).
 *
 * A stream about a send (SendStory, WatchSend) outlives the replica serving
 * it: when that replica dies or hands the session over mid-send, the stream
 * follows the send to its new owner with WatchSend from the last event
 * relayed, so the caller sees one unbroken stream. Calls about nothing that
 * is owned (experiments, learning, receipts, GetSend, ListSends) are served
 * wherever they land: they read the shared store.
 */
import { create, type DescMethod, type DescMethodStreaming, type DescMethodUnary, type Message } from '@bufbuild/protobuf';
import { Code, ConnectError, type ConnectRouter, type HandlerContext, type Transport } from '@connectrpc/connect';
import { createAsyncIterable } from '@connectrpc/connect/protocol';
import { setTimeout as sleep } from 'node:timers/promises';
import { SessionService } from '../gen/storycast/v1/session_service_pb.js';
import { type SendStoryResponse, StoryService, WatchSendRequestSchema } from '../gen/storycast/v1/story_service_pb.js';
import type { Logger } from '../log.js';
import type { Route, RouteMode, SessionRouter } from '../replicas/router.js';
import { isValidSessionId } from '../transport/sessions.js';
import { storycastError } from './errors.js';
import { listedEverywhere } from './fan-out.js';
import { ErrorInfoSchema } from '../gen/google/rpc/error_details_pb.js';

/** How many replicas a call has passed through; past MAX_HOPS it is served where it is, whatever the leases say. */
const HOPS = 'storycast-hops';
/** Set by the replica that placed a free session on the receiver: claim it rather than place it again. */
const PLACE = 'storycast-place';
/** On this replica's own WatchSend calls while it follows a send: the follower retries, not the inner call. */
const FOLLOWING = 'storycast-following';
const MAX_HOPS = 3;

/** Protocol and hop-by-hop headers: the forwarded call makes its own. */
const NOT_FORWARDED = new Set([
  'content-type',
  'content-length',
  'content-encoding',
  'accept-encoding',
  'connection',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'host',
  'user-agent',
  'date',
  HOPS,
  PLACE,
  FOLLOWING,
]);
const isProtocolHeader = (name: string) => NOT_FORWARDED.has(name) || name.startsWith('grpc-') || name.startsWith('connect-');

type Target = { readonly session: string; readonly mode: RouteMode } | { readonly send: string };
type Fields = { readonly sessionId?: unknown; readonly sendId?: unknown };

const bySession = (mode: RouteMode) => (m: Fields) => ({ session: String(m.sessionId ?? ''), mode });
const bySend = (m: Fields) => ({ send: String(m.sendId ?? '') });
const TARGETS = new Map<DescMethod, (m: Fields) => Target>([
  [StoryService.method.sendStory, bySession('place')],
  [StoryService.method.watchSend, bySend],
  [StoryService.method.cancelSend, bySend],
  [SessionService.method.connectSession, bySession('place')],
  [SessionService.method.getSession, bySession('find')],
  [SessionService.method.logoutSession, bySession('find')],
]);
/** Streams of a send's events, which can follow the send to another replica. */
const FOLLOWS = new Set<DescMethod>([StoryService.method.sendStory, StoryService.method.watchSend]);

export interface ForwardDeps {
  readonly router: Pick<SessionRouter, 'route'>;
  /** The send's session, and whether it still runs (an ended send is read from the journal anywhere). */
  readonly sendOf: (sendId: string) => Promise<{ sessionId: string; running: boolean } | undefined>;
  readonly upstream: (address: string) => Transport;
  /** The other live replicas (ListSessions asks each for its sessions). */
  readonly others: () => Promise<readonly { readonly id: string; readonly address: string }[]>;
  /** This replica's own services in memory: following a send routes each WatchSend afresh. */
  readonly self: () => Transport;
  /** Aborted when this replica shuts down: it follows no send any more, its callers reconnect elsewhere. */
  readonly stopping: AbortSignal;
  /** How long a call waits for a session's owner to be reachable, and a follower for its send to go on: the lease TTL and a margin. */
  readonly patienceMs: number;
  readonly logger: Logger;
}

type Unary = (req: Message, ctx: HandlerContext) => Promise<Message>;
type Streaming = (req: Message, ctx: HandlerContext) => AsyncIterable<Message>;

/**
 * The router, with the services' routed methods wrapped: each decides, per
 * call, whether to run here or at the session's owner. A wrapper on the
 * implementation rather than an interceptor, because only the handler's
 * context can hand the owner's response headers and trailers to the caller.
 */
export function forwarding(deps: ForwardDeps): (router: ConnectRouter) => ConnectRouter {
  const forward = forwarder(deps);
  return (router) => {
    const wrapped: ConnectRouter = {
      get handlers() {
        return router.handlers;
      },
      service(service, implementation, options) {
        const impl = { ...implementation } as Record<string, Unary | Streaming>;
        for (const method of service.methods) {
          const own = impl[method.localName];
          if (own && method === SessionService.method.listSessions) {
            impl[method.localName] = listedEverywhere(own as never, deps, {
              asked: (incoming) => incoming.has(HOPS),
              headers: (incoming) => forwardedHeaders(incoming, 1, false),
            }) as Unary;
            continue;
          }
          if (!own || !TARGETS.has(method)) continue;
          impl[method.localName] =
            method.methodKind === 'unary' ? forward.unary(method, own as Unary) : forward.streaming(method, own as Streaming);
        }
        router.service(service, impl as typeof implementation, options);
        return wrapped;
      },
      rpc(method, impl, options) {
        router.rpc(method, impl, options);
        return wrapped;
      },
    };
    return wrapped;
  };
}

function forwarder(deps: ForwardDeps) {
  /** Where the call belongs; undefined to serve it here (nothing owned, or input the handler will refuse). */
  const ownerOf = async (method: DescMethod, req: Message, ctx: HandlerContext) => {
    const hops = Number(ctx.requestHeader.get(HOPS) ?? 0);
    if (!(hops < MAX_HOPS)) return undefined;
    const target = TARGETS.get(method)!(req as Fields);
    const headers = (place: boolean) => forwardedHeaders(ctx.requestHeader, hops + 1, place);
    if ('send' in target) {
      if (target.send.trim() === '') return undefined;
      const send = await deps.sendOf(target.send).catch(() => undefined);
      return send?.running ? { sessionId: send.sessionId, mode: 'find' as const, headers, hops } : undefined;
    }
    if (!isValidSessionId(target.session)) return undefined;
    return { sessionId: target.session, mode: ctx.requestHeader.has(PLACE) ? ('claim' as const) : target.mode, headers, hops };
  };

  /**
   * Serves the call where the router says, and routes it again when that
   * turns out wrong before anything was answered: an owner that cannot be
   * reached (dead: its lease will expire) or a lease that moved meanwhile.
   */
  async function routed<R>(sessionId: string, mode: RouteMode, attempt: (route: Route & { kind: 'local' | 'remote' }) => Promise<R>) {
    const avoid = new Set<string>();
    const deadline = Date.now() + deps.patienceMs;
    for (;;) {
      const route = await deps.router.route(sessionId, mode, avoid);
      if (route.kind === 'unavailable') {
        throw storycastError(Code.Unavailable, 'SESSION_OWNER_UNREACHABLE', `${route.why}; retry shortly`, { session_id: sessionId });
      }
      try {
        return await attempt(route);
      } catch (error) {
        const unreachable = route.kind === 'remote' && neverArrived(error);
        if (unreachable) avoid.add(route.replicaId);
        if (!(unreachable || reason(error) === 'SESSION_OWNED_ELSEWHERE') || Date.now() > deadline) throw relayed(error);
        deps.logger.debug({ sessionId, route, err: error }, 'routing the call again');
      }
    }
  }

  return {
    unary: (method: DescMethod, own: Unary): Unary =>
      async function routedUnary(req, ctx) {
        const owner = await ownerOf(method, req, ctx);
        if (!owner) return own(req, ctx);
        return routed(owner.sessionId, owner.mode, async (route) => {
          if (route.kind === 'local') return own(req, ctx);
          const answer = await deps
            .upstream(route.address)
            .unary(method as DescMethodUnary, ctx.signal, ctx.timeoutMs(), owner.headers(route.place), req);
          copyInto(ctx.responseHeader, relayedHeaders(answer.header));
          copyInto(ctx.responseTrailer, relayedHeaders(answer.trailer));
          return answer.message;
        });
      },

    streaming: (method: DescMethod, own: Streaming): Streaming =>
      async function* routedStream(req, ctx) {
        const owner = await ownerOf(method, req, ctx);
        if (!owner) {
          yield* own(req, ctx);
          return;
        }
        const open = () =>
          routed(owner.sessionId, owner.mode, async (route) => {
            if (route.kind === 'local') return peeked(own(req, ctx));
            const answer = await deps
              .upstream(route.address)
              .stream(method as DescMethodStreaming, ctx.signal, ctx.timeoutMs(), owner.headers(route.place), createAsyncIterable([req]));
            copyInto(ctx.responseHeader, relayedHeaders(answer.header));
            return peeked(answer.message, () => copyInto(ctx.responseTrailer, relayedHeaders(answer.trailer)));
          });
        // Only where the caller is: a forwarded stream that breaks is followed by the replica that forwarded it.
        if (FOLLOWS.has(method) && owner.hops === 0 && !ctx.requestHeader.has(FOLLOWING)) {
          const fields = req as Fields;
          yield* following(open, {
            sendId: fields.sendId === undefined ? undefined : String(fields.sendId),
            after: afterEventOf(fields),
            ctx,
            deps,
          });
        } else {
          yield* await open();
        }
      },
  };
}

interface FollowContext {
  /** Known from the start for WatchSend; SendStory's comes with its planned event. */
  readonly sendId: string | undefined;
  readonly after: number;
  readonly ctx: HandlerContext;
  readonly deps: ForwardDeps;
}

/**
 * The send's events, from wherever it runs: when the stream serving it fails
 * because its replica went away, the send goes on elsewhere (failover, or a
 * handover), so WatchSend picks it up there after the last event relayed.
 */
async function* following(open: () => Promise<AsyncIterable<Message>>, ctx: FollowContext): AsyncGenerator<Message> {
  const { deps } = ctx;
  const { signal, requestHeader } = ctx.ctx;
  let sendId = ctx.sendId;
  let seen = 0;
  let deadline = Date.now() + deps.patienceMs;
  let source = open;
  for (;;) {
    try {
      for await (const message of await source()) {
        const event = (message as Partial<SendStoryResponse>).event;
        if (event?.case === 'planned') sendId ??= event.value.sendId;
        seen++;
        deadline = Date.now() + deps.patienceMs;
        yield message;
      }
      return;
    } catch (error) {
      const stopping = signal.aborted || deps.stopping.aborted;
      if (sendId === undefined || stopping || !wentAway(error) || Date.now() > deadline) throw relayed(error);
      deps.logger.info({ sendId, seen, err: error }, 'the replica serving a send went away; following the send');
    }
    await sleep(250, undefined, { signal }).catch(() => undefined);
    const watched = sendId;
    const afterEvent = ctx.after + seen;
    source = async () => {
      const headers = forwardedHeaders(requestHeader, 0, false);
      headers.set(FOLLOWING, '1');
      const request = createAsyncIterable([create(WatchSendRequestSchema, { sendId: watched, afterEvent })]);
      return peeked((await deps.self().stream(StoryService.method.watchSend, signal, undefined, headers, request)).message);
    };
  }
}

/** Waits for the first message (or the error before it), so a call refused before answering can be routed again. */
async function peeked<T>(messages: AsyncIterable<T>, atEnd?: () => void): Promise<AsyncIterable<T>> {
  const it = messages[Symbol.asyncIterator]();
  const first = await it.next();
  return (async function* () {
    try {
      if (first.done) return;
      yield first.value;
      for (;;) {
        const step = await it.next();
        if (step.done) return;
        yield step.value;
      }
    } finally {
      atEnd?.();
      await it.return?.();
    }
  })();
}

const afterEventOf = (m: Fields) => Number((m as { afterEvent?: unknown }).afterEvent ?? 0);

function forwardedHeaders(incoming: Headers, hops: number, place: boolean): Headers {
  const headers = new Headers();
  incoming.forEach((value, name) => {
    if (!isProtocolHeader(name)) headers.append(name, value);
  });
  headers.set(HOPS, String(hops));
  if (place) headers.set(PLACE, '1');
  return headers;
}

function relayedHeaders(upstream: Headers): Headers {
  const headers = new Headers();
  upstream.forEach((value, name) => {
    if (!isProtocolHeader(name)) headers.append(name, value);
  });
  return headers;
}

function copyInto(target: Headers, source: Headers): void {
  source.forEach((value, name) => {
    target.append(name, value);
  });
}

/** An upstream's error as ours: the same code, message and details, without its protocol headers. */
function relayed(error: unknown): unknown {
  if (!(error instanceof ConnectError)) return error;
  const copy = new ConnectError(error.rawMessage, error.code, relayedHeaders(error.metadata), undefined, error.cause);
  // Incoming details are relayed as they came (type and bytes): the server writes both kinds.
  copy.details.push(...error.details);
  return copy;
}

function reason(error: unknown): string | undefined {
  return error instanceof ConnectError ? error.findDetails(ErrorInfoSchema)[0]?.reason : undefined;
}

/** Node error codes that mean the request never reached the peer: safe to send elsewhere, even a SendStory without request_id. */
const NEVER_ARRIVED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
/** ...and those that mean the peer went away mid-call. */
const WENT_AWAY = new Set([
  'ECONNRESET',
  'EPIPE',
  'ERR_HTTP2_STREAM_ERROR',
  'ERR_HTTP2_SESSION_ERROR',
  'ERR_HTTP2_GOAWAY_SESSION',
  'ERR_HTTP2_STREAM_CANCEL',
]);

function causeCodes(error: unknown): string[] {
  const codes: string[] = [];
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
  }
  return codes;
}

function neverArrived(error: unknown): boolean {
  return causeCodes(error).some((c) => NEVER_ARRIVED.has(c));
}

/**
 * The replica serving the stream is gone or let the send go (a lease lost, a
 * shutdown), or the send's new owner is not reachable yet: the send itself goes
 * on. Not the send's own failure (ANCHOR_FAILED is UNAVAILABLE too): that is the
 * send's end, and following it again would only replay it.
 */
const MOVED = new Set(['SEND_MOVED', 'SHUTTING_DOWN', 'SESSION_OWNED_ELSEWHERE', 'SESSION_OWNER_UNREACHABLE']);
function wentAway(error: unknown): boolean {
  if (!(error instanceof ConnectError)) return false;
  if (causeCodes(error).some((c) => WENT_AWAY.has(c) || NEVER_ARRIVED.has(c))) return true;
  // A peer process that dies mid-stream closes it with RST_STREAM CANCEL, which connect reports as
  // CANCELED with no cause; our own caller's abort was ruled out before this is asked.
  if (error.code === Code.Canceled) return true;
  if (error.code !== Code.Unavailable) return false;
  const why = reason(error);
  return why === undefined || MOVED.has(why);
}
