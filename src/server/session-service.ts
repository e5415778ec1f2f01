/** SessionService handlers: thin translations between the API and the session directory. */
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { Code, type ConnectRouter, type HandlerContext } from '@connectrpc/connect';
import {
  ConnectSessionResponseSchema,
  GetSessionResponseSchema,
  ListSessionsResponseSchema,
  ListContactsResponseSchema,
  LogoutSessionResponseSchema,
  SessionSchema,
  SessionService,
  type ConnectSessionRequest,
  type ConnectSessionResponse,
  type Session,
} from '../gen/storycast/v1/session_service_pb.js';
import type { ScheduleStore } from '../schedules/store.js';
import type { ContactBook } from '../audiences/contacts.js';
import type { RecipientListStore } from '../audiences/lists.js';
import type { SessionDirectory, SessionInfo } from '../transport/sessions.js';
import { decodeCursor, encodeCursor } from './cursor-token.js';
import { invalidField, requireSessionId, storeUnavailable, storycastError } from './errors.js';
import { sessionStateToProto } from './session-state.js';

export function sessionToProto(info: SessionInfo): Session {
  return create(SessionSchema, {
    sessionId: info.id,
    state: sessionStateToProto(info.state),
    reason: info.reason ?? '',
    account: info.account ?? '',
    updateTime: timestampFromMs(info.updatedAt),
  });
}

export interface SessionServiceDeps {
  readonly sessions: SessionDirectory;
  /** A logout deletes the session's personal data: its saved lists and its contacts. */
  readonly lists: Pick<RecipientListStore, 'deleteSession'>;
  readonly contacts: ContactBook;
  readonly schedules: Pick<ScheduleStore, 'deleteSession'>;
}

const CONTACTS_PAGE_SIZE = { default: 100, max: 1000 } as const;

export function sessionServiceRoutes(deps: SessionServiceDeps) {
  const { sessions, lists, contacts, schedules } = deps;
  async function* connectSession(req: ConnectSessionRequest, ctx: HandlerContext): AsyncGenerator<ConnectSessionResponse> {
    const id = requireSessionId(req.sessionId);
    const phoneNumber = req.phoneNumber.replace(/[\s()+.-]/g, '');
    if (req.phoneNumber !== '' && !/^\d{7,15}$/.test(phoneNumber)) {
      throw invalidField(
        'phone_number',
        'BAD_PHONE_NUMBER',
        'phone_number must be an international number: country code and 7 to 15 digits in all',
      );
    }
    for await (const event of sessions.connect(id, { ...(phoneNumber ? { phoneNumber } : {}), signal: ctx.signal })) {
      if (event.type === 'qr') yield create(ConnectSessionResponseSchema, { event: { case: 'qr', value: { code: event.code } } });
      else if (event.type === 'pairing-code')
        yield create(ConnectSessionResponseSchema, { event: { case: 'pairingCode', value: { code: event.code } } });
      else yield create(ConnectSessionResponseSchema, { event: { case: 'session', value: sessionToProto(event.session) } });
    }
  }

  return (router: ConnectRouter) =>
    router.service(SessionService, {
      connectSession,

      getSession(req) {
        const id = requireSessionId(req.sessionId);
        const info = sessions.get(id);
        if (!info)
          throw storycastError(Code.NotFound, 'SESSION_NOT_FOUND', `session "${id}" is not known here: link it with ConnectSession`, {
            field: 'session_id',
          });
        return create(GetSessionResponseSchema, { session: sessionToProto(info) });
      },

      listSessions() {
        return create(ListSessionsResponseSchema, { sessions: sessions.list().map(sessionToProto) });
      },

      async listContacts(req) {
        const id = requireSessionId(req.sessionId);
        if (req.pageSize < 0) throw invalidField('page_size', 'BAD_PAGE_SIZE', 'page_size must not be negative');
        const limit = req.pageSize === 0 ? CONTACTS_PAGE_SIZE.default : Math.min(req.pageSize, CONTACTS_PAGE_SIZE.max);
        const after = decodeCursor(req.pageToken, `contacts/${id}`);
        const page = await contacts.page(id, { ...(after === undefined ? {} : { after }), limit: limit + 1 }).catch((error: unknown) => {
          throw storeUnavailable('contact store', error);
        });
        const shown = page.contacts.slice(0, limit);
        return create(ListContactsResponseSchema, {
          contacts: shown.map((c) => ({ jid: c.jid, name: c.name ?? '', notify: c.notify ?? '' })),
          nextPageToken: page.contacts.length > limit ? encodeCursor(`contacts/${id}`, shown.at(-1)!.jid) : '',
          totalSize: page.total,
          ...(page.syncedAt === undefined ? {} : { syncTime: timestampFromMs(page.syncedAt) }),
        });
      },

      async logoutSession(req) {
        const id = requireSessionId(req.sessionId);
        const existed = await sessions.logout(id);
        await Promise.all([lists.deleteSession(id), contacts.forget(id), schedules.deleteSession(id)]).catch((error: unknown) => {
          throw storycastError(
            Code.Unavailable,
            'STORE_UNAVAILABLE',
            `session "${id}" is logged out, but its recipient lists, contacts or schedules could not be deleted (retry the logout): ${(error as Error).message}`,
            {},
            error,
          );
        });
        return create(LogoutSessionResponseSchema, { existed });
      },
    });
}
