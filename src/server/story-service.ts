/**
 * StoryService handlers: thin translations between the API and the engine,
 * session memory and strategy registry. No scaling logic lives here.
 */
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { Code, type ConnectRouter } from '@connectrpc/connect';
import { builtinStrategies } from '../../strategies/index.js';
import {
  GetSessionLearningResponseSchema,
  GetStoryReceiptsResponseSchema,
  ListStrategiesResponseSchema,
  ResetSessionLearningResponseSchema,
  StoryService,
} from '../gen/storycast/v1/story_service_pb.js';
import type { SessionMemory } from '../memory/types.js';
import { BadPageTokenError, decodePageToken, encodePageToken } from '../receipts/page-token.js';
import { ReceiptStoreError, type ReceiptQueries, type ReceiptsPage } from '../receipts/types.js';
import type { StrategyRegistry } from '../strategy-registry.js';
import type { ExperimentStore } from '../experiments/store.js';
import { invalidField, requireSessionId, storeUnavailable, storycastError } from './errors.js';
import type { SendRegistry } from '../sends/registry.js';
import { sendHandlers } from './send-handlers.js';
import { listHandlers } from './list-handlers.js';
import { scheduleHandlers } from './schedule-handlers.js';
import type { Scheduler } from '../schedules/scheduler.js';
import type { ScheduleStore } from '../schedules/store.js';
import type { RecipientListStore } from '../audiences/lists.js';
import type { ContactBook } from '../audiences/contacts.js';
import type { SessionDirectory } from '../transport/sessions.js';
import type { Clock } from '../clock.js';
import type { RunningSends } from './sends.js';
import { historyToProto } from './translate.js';

export interface StoryServiceDeps {
  readonly memory: SessionMemory;
  readonly strategies: StrategyRegistry;
  readonly sends: RunningSends;
  readonly registry: SendRegistry;
  readonly memoryTtlMs: number;
  readonly receipts: ReceiptQueries;
  readonly experiments: ExperimentStore;
  readonly defaultExperiment: string;
  readonly lists: RecipientListStore;
  readonly contacts: ContactBook;
  readonly sessions: Pick<SessionDirectory, 'get'>;
  readonly maxRecipients: number;
  readonly schedules: ScheduleStore;
  readonly scheduler: Pick<Scheduler, 'wake' | 'notifySettled'>;
  /** Wall time: when lists were saved, what start times are compared with. */
  readonly clock: Clock;
}

/** AIP-158: a page size of 0 means the default; above the maximum is read as the maximum. */
const RECEIPTS_PAGE_SIZE = { default: 100, max: 1000 } as const;

export function storyServiceRoutes(deps: StoryServiceDeps) {
  const { memory, strategies, sends } = deps;
  const schedules = scheduleHandlers({
    store: deps.schedules,
    scheduler: deps.scheduler,
    clock: deps.clock,
    strategies,
    experiments: deps.experiments,
    lists: deps.lists,
    maxRecipients: deps.maxRecipients,
  });

  return (router: ConnectRouter) =>
    router.service(StoryService, {
      ...sendHandlers({
        registry: deps.registry,
        sends,
        requests: {
          strategies,
          experiments: deps.experiments,
          defaultExperiment: deps.defaultExperiment,
          audiences: { lists: deps.lists, contacts: deps.contacts, sessions: deps.sessions },
        },
        schedules,
      }),
      ...listHandlers({ lists: deps.lists, maxRecipients: deps.maxRecipients, clock: deps.clock }),
      listSchedules: schedules.listSchedules,
      deleteSchedule: schedules.deleteSchedule,

      async getSessionLearning(req) {
        const sessionId = requireSessionId(req.sessionId);
        const history = await memory.inspect(sessionId).catch((error: unknown) => {
          throw storeUnavailable('session memory store', error);
        });
        return create(
          GetSessionLearningResponseSchema,
          history ? { found: true, history: historyToProto(history, deps.memoryTtlMs) } : { found: false },
        );
      },

      async resetSessionLearning(req) {
        const sessionId = requireSessionId(req.sessionId);
        const existed = await memory.reset(sessionId).catch((error: unknown) => {
          throw storeUnavailable('session memory store', error);
        });
        return create(ResetSessionLearningResponseSchema, { existed });
      },

      async getStoryReceipts(req) {
        const sessionId = requireSessionId(req.sessionId);
        const messageId = req.messageId.trim();
        if (messageId === '') throw invalidField('message_id', 'MISSING_MESSAGE_ID', 'message_id is required');
        if (messageId.length > 128) throw invalidField('message_id', 'BAD_MESSAGE_ID', 'message_id is longer than any WhatsApp message id');
        if (req.pageSize < 0) throw invalidField('page_size', 'BAD_PAGE_SIZE', 'page_size must not be negative');
        const limit = req.pageSize === 0 ? RECEIPTS_PAGE_SIZE.default : Math.min(req.pageSize, RECEIPTS_PAGE_SIZE.max);
        let offset: number;
        try {
          offset = decodePageToken(req.pageToken, sessionId, messageId);
        } catch (error) {
          if (error instanceof BadPageTokenError) throw invalidField('page_token', 'BAD_PAGE_TOKEN', error.message);
          throw error;
        }
        const page = await deps.receipts.page(sessionId, messageId, offset, limit).catch((error: unknown) => {
          throw error instanceof ReceiptStoreError
            ? storycastError(Code.Unavailable, 'STORE_UNAVAILABLE', error.message, {}, error)
            : error;
        });
        if (!page) {
          throw storycastError(
            Code.NotFound,
            'STORY_NOT_FOUND',
            `no status "${messageId}" was sent or answered for on session "${sessionId}" in the last 24 hours`,
            { field: 'message_id' },
          );
        }
        return receiptsToProto(page);
      },

      async listStrategies() {
        return create(ListStrategiesResponseSchema, {
          strategies: strategies.list().map((s) => ({ name: s.name, description: s.description, builtin: builtinStrategies.includes(s) })),
          defaultStrategy: strategies.defaultName,
        });
      },
    });
}

function receiptsToProto(page: ReceiptsPage) {
  return create(GetStoryReceiptsResponseSchema, {
    sessionId: page.sessionId,
    messageId: page.messageId,
    counts: page.counts,
    recipients: page.recipients.map((r) => ({
      recipient: r.recipient,
      sent: r.sent,
      ...(r.deliveredAt !== undefined ? { deliverTime: timestampFromMs(r.deliveredAt) } : {}),
      ...(r.readAt !== undefined ? { readTime: timestampFromMs(r.readAt) } : {}),
    })),
    nextPageToken: page.nextOffset === undefined ? '' : encodePageToken(page.sessionId, page.messageId, page.nextOffset),
    totalSize: page.total,
    createTime: timestampFromMs(page.createdAt),
    expireTime: timestampFromMs(page.expiresAt),
  });
}
