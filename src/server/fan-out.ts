/**
 * ListSessions with replicas: each replica knows the sessions it runs, so the
 * one called asks the other live replicas for theirs and answers with them
 * all. A replica that does not answer in time is left out (and logged) rather
 * than failing the call: the list is what can be seen now.
 */
import { create } from '@bufbuild/protobuf';
import type { HandlerContext, Transport } from '@connectrpc/connect';
import {
  type ListSessionsRequest,
  type ListSessionsResponse,
  ListSessionsResponseSchema,
  type Session,
  SessionService,
} from '../gen/storycast/v1/session_service_pb.js';
import type { Logger } from '../log.js';

/** Long enough for a loaded replica, short enough that one hung replica does not hang the list. */
const ASK_TIMEOUT_MS = 2000;

export interface FanOutDeps {
  /** The other live replicas. */
  readonly others: () => Promise<readonly { readonly id: string; readonly address: string }[]>;
  readonly upstream: (address: string) => Transport;
  readonly logger: Logger;
}

type ListSessions = (req: ListSessionsRequest, ctx: HandlerContext) => Promise<ListSessionsResponse>;

/** How one replica asks another: its headers carry the caller's (authorization included) and mark the call as asked. */
export interface Asking {
  /** A replica asking: answer from this replica's own sessions only. */
  readonly asked: (incoming: Headers) => boolean;
  readonly headers: (incoming: Headers) => Headers;
}

export function listedEverywhere(own: ListSessions, deps: FanOutDeps, asking: Asking): ListSessions {
  return async (req, ctx) => {
    const mine = await own(req, ctx);
    if (asking.asked(ctx.requestHeader)) return mine;
    const others = await deps.others().catch((error: unknown) => {
      deps.logger.warn({ err: error }, 'could not read the replica directory; listing this replica only');
      return [];
    });
    const theirs = await Promise.all(
      others.map(async (replica) => {
        try {
          const answer = await deps
            .upstream(replica.address)
            .unary(SessionService.method.listSessions, ctx.signal, ASK_TIMEOUT_MS, asking.headers(ctx.requestHeader), req);
          return answer.message.sessions;
        } catch (error) {
          deps.logger.warn({ err: error, replica: replica.id }, 'a replica did not list its sessions');
          return [];
        }
      }),
    );
    return create(ListSessionsResponseSchema, { sessions: merged([mine.sessions, ...theirs]) });
  };
}

/** One entry per session, the most recently updated where two replicas both know it (a handover). */
function merged(lists: readonly (readonly Session[])[]): Session[] {
  const byId = new Map<string, Session>();
  for (const session of lists.flat()) {
    const known = byId.get(session.sessionId);
    const newer = (session.updateTime?.seconds ?? 0n) > (known?.updateTime?.seconds ?? -1n);
    if (!known || newer) byId.set(session.sessionId, session);
  }
  return [...byId.values()].sort((a, b) => (a.sessionId < b.sessionId ? -1 : a.sessionId > b.sessionId ? 1 : 0));
}
