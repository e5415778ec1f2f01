/**
 * The StoryService calls about saved recipient lists, and how SendStory reads
 * the list a request names. Thin: the store (src/audiences) keeps the lists,
 * src/recipients.ts normalises them; this file only translates. Recipients
 * never appear in an error message: an invalid one is named by its index.
 */
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { Code } from '@connectrpc/connect';
import { isValidListName, type RecipientListInfo, type RecipientListStore } from '../audiences/lists.js';
import {
  DeleteRecipientListResponseSchema,
  GetRecipientListResponseSchema,
  ListRecipientListsResponseSchema,
  RecipientListSchema,
  SaveRecipientListResponseSchema,
  type RecipientList as RecipientListProto,
} from '../gen/storycast/v1/recipient_list_pb.js';
import type {
  DeleteRecipientListRequest,
  GetRecipientListRequest,
  ListRecipientListsRequest,
  SaveRecipientListRequest,
} from '../gen/storycast/v1/recipient_list_pb.js';
import type { Clock } from '../clock.js';
import { normalizeRecipients } from '../recipients.js';
import { decodeCursor, encodeCursor } from './cursor-token.js';
import { invalidField, requireRecipientCount, requireSessionId, storeUnavailable, storycastError } from './errors.js';

export interface ListHandlerDeps {
  readonly lists: RecipientListStore;
  /** The server's recipient limit (STORYCAST_MAX_RECIPIENTS), which a list may not exceed either. */
  readonly maxRecipients: number;
  readonly clock: Clock;
}

const LISTS_PAGE_SIZE = { default: 50, max: 1000 } as const;

function requireListName(name: string, field = 'name'): string {
  if (name === '') throw invalidField(field, 'MISSING_LIST_NAME', `${field} is required`);
  if (!isValidListName(name)) {
    throw invalidField(field, 'BAD_LIST_NAME', `${field} may contain only letters, digits, dot, dash and underscore (1 to 64)`);
  }
  return name;
}

function listNotFound(sessionId: string, name: string, field: string) {
  return storycastError(Code.NotFound, 'RECIPIENT_LIST_NOT_FOUND', `session "${sessionId}" has no recipient list "${name}"`, { field });
}

const stored = <T>(promise: Promise<T>): Promise<T> =>
  promise.catch((error: unknown) => {
    throw storeUnavailable('recipient list store', error);
  });

function toProto(list: RecipientListInfo, recipients: readonly string[] = []): RecipientListProto {
  return create(RecipientListSchema, {
    sessionId: list.sessionId,
    name: list.name,
    recipients: [...recipients],
    recipientCount: list.count,
    createTime: timestampFromMs(list.createdAt),
    updateTime: timestampFromMs(list.updatedAt),
  });
}

/** The saved list a SendStory request names, or undefined when it names none. NOT_FOUND for an unknown one. */
export async function listRecipientsOf(lists: RecipientListStore, sessionId: string, name: string): Promise<readonly string[] | undefined> {
  if (name === '') return undefined;
  requireListName(name, 'recipient_list');
  const list = await stored(lists.get(sessionId, name));
  if (!list) throw listNotFound(sessionId, name, 'recipient_list');
  return list.recipients;
}

export function listHandlers(deps: ListHandlerDeps) {
  const { lists } = deps;
  return {
    async saveRecipientList(req: SaveRecipientListRequest) {
      const sessionId = requireSessionId(req.sessionId);
      const name = requireListName(req.name);
      requireRecipientCount(req.recipients, deps.maxRecipients);
      const { valid, invalid, duplicates } = normalizeRecipients(req.recipients);
      const first = invalid[0];
      if (first) {
        const more = invalid.length > 1 ? ` (and ${invalid.length - 1} more)` : '';
        throw invalidField(
          `recipients[${first.index}]`,
          'INVALID_RECIPIENT',
          `recipients[${first.index}]: ${first.reason}${more}; nothing was saved`,
        );
      }
      const list = await stored(lists.save({ sessionId, name, recipients: valid, at: deps.clock.now() }));
      return create(SaveRecipientListResponseSchema, {
        list: toProto({ ...list, count: list.recipients.length }, list.recipients),
        duplicateRecipients: duplicates,
      });
    },

    async getRecipientList(req: GetRecipientListRequest) {
      const sessionId = requireSessionId(req.sessionId);
      const name = requireListName(req.name);
      const list = await stored(lists.get(sessionId, name));
      if (!list) throw listNotFound(sessionId, name, 'name');
      return create(GetRecipientListResponseSchema, { list: toProto({ ...list, count: list.recipients.length }, list.recipients) });
    },

    async listRecipientLists(req: ListRecipientListsRequest) {
      const sessionId = requireSessionId(req.sessionId);
      if (req.pageSize < 0) throw invalidField('page_size', 'BAD_PAGE_SIZE', 'page_size must not be negative');
      const limit = req.pageSize === 0 ? LISTS_PAGE_SIZE.default : Math.min(req.pageSize, LISTS_PAGE_SIZE.max);
      const after = decodeCursor(req.pageToken, `lists/${sessionId}`);
      const page = await stored(lists.list(sessionId, { ...(after === undefined ? {} : { after }), limit: limit + 1 }));
      const more = page.length > limit;
      const shown = page.slice(0, limit);
      return create(ListRecipientListsResponseSchema, {
        lists: shown.map((l) => toProto(l)),
        nextPageToken: more ? encodeCursor(`lists/${sessionId}`, shown.at(-1)!.name) : '',
      });
    },

    async deleteRecipientList(req: DeleteRecipientListRequest) {
      const sessionId = requireSessionId(req.sessionId);
      const name = requireListName(req.name);
      return create(DeleteRecipientListResponseSchema, { existed: await stored(lists.delete(sessionId, name)) });
    },
  };
}
