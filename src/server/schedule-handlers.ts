/**
 * Scheduled sends at the API: SendStory with start_time or repeat is checked
 * now and kept as a schedule (the one `scheduled` event answers it),
 * ListSchedules and DeleteSchedule read and end schedules. Thin: the store
 * keeps schedules and the scheduler (src/schedules) fires them.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { clone, create, toBinary } from '@bufbuild/protobuf';
import { timestampFromMs, timestampMs } from '@bufbuild/protobuf/wkt';
import { Code } from '@connectrpc/connect';
import type { RecipientListStore } from '../audiences/lists.js';
import type { Clock } from '../clock.js';
import type { ExperimentStore } from '../experiments/store.js';
import {
  DeleteScheduleResponseSchema,
  ListSchedulesResponseSchema,
  type DeleteScheduleRequest,
  type ListSchedulesRequest,
  type Schedule,
  ScheduleSchema,
} from '../gen/storycast/v1/schedule_pb.js';
import {
  OnDisconnect,
  SendStoryRequestSchema,
  SendStoryResponseSchema,
  type SendStoryRequest,
  type SendStoryResponse,
} from '../gen/storycast/v1/story_service_pb.js';
import { normalizeRecipients } from '../recipients.js';
import { cancelSchedule } from '../schedules/pending-sends.js';
import { BadRepeatError, checkRepeat, nextOccurrence } from '../schedules/repeat.js';
import type { Scheduler } from '../schedules/scheduler.js';
import type { ScheduleRecord, ScheduleStore } from '../schedules/store.js';
import type { StrategyRegistry } from '../strategy-registry.js';
import { decodeCursor, encodeCursor } from './cursor-token.js';
import { invalidField, requireRecipientCount, requireSessionId, storeUnavailable, storycastError } from './errors.js';
import { fingerprintOf } from './fingerprint.js';
import { listRecipientsOf } from './list-handlers.js';
import { checkRequestId, checkRequestShape, experimentNotFound, unknownStrategy } from './send-request.js';

export interface ScheduleHandlerDeps {
  readonly store: ScheduleStore;
  readonly scheduler: Pick<Scheduler, 'wake' | 'notifySettled'>;
  /** What start times are compared with and the scheduler fires on. */
  readonly clock: Clock;
  readonly strategies: StrategyRegistry;
  readonly experiments: Pick<ExperimentStore, 'get'>;
  readonly lists: RecipientListStore;
  readonly maxRecipients: number;
}

/** A start time this far in the past is a clock or a caller gone wrong, not "now". */
const START_TIME_SLACK_MS = 60_000;
/** Further ahead than this is a unit mistake (milliseconds sent as seconds), not a plan. */
const MAX_AHEAD_MS = 10 * 366 * 86_400_000;
const PAGE_SIZE = { default: 50, max: 1000 } as const;

/** Whether the request asks to start later rather than now. */
export const isScheduled = (req: SendStoryRequest): boolean => req.startTime !== undefined || req.repeat !== '' || req.timeZone !== '';

export function scheduleHandlers(deps: ScheduleHandlerDeps) {
  const { store, clock } = deps;
  const unavailable = (error: unknown) => storeUnavailable('schedule store', error);

  /** Everything a send of this request would refuse now, but for contacts not synced yet (they may be by then). */
  async function check(req: SendStoryRequest): Promise<string> {
    const { sessionId } = checkRequestShape(req);
    if (req.strategy !== '' && !deps.strategies.get(req.strategy)) throw unknownStrategy(deps.strategies, req.strategy);
    if (req.experiment !== '') {
      const experiment = await deps.experiments.get(req.experiment).catch((error: unknown) => {
        throw storeUnavailable('experiment store', error);
      });
      if (!experiment) throw experimentNotFound(`no experiment "${req.experiment}" on this server`);
    }
    checkRequestId(req.requestId);
    await listRecipientsOf(deps.lists, sessionId, req.recipientList);
    requireRecipientCount(req.recipients, deps.maxRecipients);
    if (req.recipientList === '' && !req.allContacts && normalizeRecipients(req.recipients).valid.length === 0) {
      throw invalidField(
        'recipients',
        'NO_VALID_RECIPIENTS',
        'recipients has no valid recipient, and no recipient_list or all_contacts names any',
      );
    }
    return sessionId;
  }

  /** When the first send starts: start_time, or the first occurrence of repeat at or after it (or after now). */
  function firstRun(req: SendStoryRequest, now: number): number {
    const startAt = req.startTime ? timestampMs(req.startTime) : undefined;
    if (
      startAt !== undefined &&
      !(startAt >= 0 && startAt <= now + MAX_AHEAD_MS && req.startTime!.nanos >= 0 && req.startTime!.nanos < 1e9)
    ) {
      throw invalidField('start_time', 'BAD_START_TIME', 'start_time is not a time within the next ten years');
    }
    if (startAt !== undefined && startAt < now - START_TIME_SLACK_MS) {
      throw invalidField(
        'start_time',
        'BAD_START_TIME',
        `start_time ${new Date(startAt).toISOString()} is more than a minute in the past (the server's time is ${new Date(now).toISOString()})`,
      );
    }
    if (req.repeat === '') {
      if (req.timeZone !== '')
        throw invalidField('time_zone', 'BAD_TIME_ZONE', 'time_zone is read only with repeat; a start_time carries its own offset');
      return startAt!;
    }
    const rule = { expression: req.repeat, timeZone: req.timeZone };
    const from = startAt === undefined ? now : Math.max(startAt - 1, now - START_TIME_SLACK_MS);
    try {
      checkRepeat(rule, from);
    } catch (error) {
      if (error instanceof BadRepeatError) {
        throw invalidField(error.field, error.field === 'repeat' ? 'BAD_REPEAT' : 'BAD_TIME_ZONE', error.message);
      }
      throw error;
    }
    return nextOccurrence(rule, from)!;
  }

  async function accept(req: SendStoryRequest): Promise<SendStoryResponse> {
    const sessionId = await check(req);
    const now = clock.now();
    const nextRunAt = firstRun(req, now);
    // With a request_id, a retry names the same schedule and the same send: creating is idempotent.
    const scheduleId =
      req.requestId === '' ? `sch-${randomBytes(16).toString('base64url')}` : `sch-${digest(`${sessionId}\n${req.requestId}`)}`;
    const oneOff = req.repeat === '';
    const record: ScheduleRecord = {
      scheduleId,
      sessionId,
      requestId: req.requestId,
      fingerprint: fingerprintOf(req, req.strategy),
      target: {
        strategy: req.strategy,
        experiment: req.experiment,
        recipientList: req.recipientList,
        allContacts: req.allContacts,
        recipients: req.recipients.length,
      },
      ...(oneOff
        ? { sendId: req.requestId === '' ? randomUUID() : uuidOf(`send\n${scheduleId}`) }
        : { repeat: req.repeat, timeZone: req.timeZone }),
      ...(req.startTime ? { startAt: timestampMs(req.startTime) } : {}),
      createdAt: now,
      nextRunAt,
      runs: 0,
    };
    const created = await store.create(record, requestOfEachSend(req)).catch((error: unknown) => {
      throw unavailable(error);
    });
    if (!created) {
      const existing = await store.get(scheduleId).catch((error: unknown) => {
        throw unavailable(error);
      });
      if (existing && existing.fingerprint !== record.fingerprint) {
        throw storycastError(
          Code.AlreadyExists,
          'REQUEST_ID_REUSED',
          `request_id "${req.requestId}" already created schedule ${scheduleId} with another request`,
          { field: 'request_id', schedule_id: scheduleId },
        );
      }
      return scheduledEvent(existing ?? record);
    }
    deps.scheduler.wake();
    return scheduledEvent(record);
  }

  return {
    accept,

    /** The `scheduled` event of the one-off whose send id this is, for a watcher that arrives before it starts. */
    async scheduledEventOf(sendId: string): Promise<SendStoryResponse | undefined> {
      const schedule = await store.bySendId(sendId).catch((error: unknown) => {
        throw unavailable(error);
      });
      return schedule && !schedule.ended ? scheduledEvent(schedule) : undefined;
    },

    async listSchedules(req: ListSchedulesRequest) {
      const sessionId = req.sessionId === '' ? undefined : requireSessionId(req.sessionId);
      if (req.pageSize < 0) throw invalidField('page_size', 'BAD_PAGE_SIZE', 'page_size must not be negative');
      const limit = req.pageSize === 0 ? PAGE_SIZE.default : Math.min(req.pageSize, PAGE_SIZE.max);
      const scope = `schedules/${req.sessionId}`;
      const cursor = decodeCursor(req.pageToken, scope);
      const after = cursor === undefined ? undefined : afterOf(cursor);
      const found = await store
        .list({ ...(sessionId ? { sessionId } : {}), ...(after ? { after } : {}), limit: limit + 1 })
        .catch((error: unknown) => {
          throw unavailable(error);
        });
      const page = found.slice(0, limit);
      const last = page.at(-1);
      return create(ListSchedulesResponseSchema, {
        schedules: page.map(scheduleToProto),
        nextPageToken: found.length > limit && last ? encodeCursor(scope, `${last.createdAt}/${last.scheduleId}`) : '',
      });
    },

    async deleteSchedule(req: DeleteScheduleRequest) {
      const scheduleId = req.scheduleId.trim();
      if (scheduleId === '') throw invalidField('schedule_id', 'MISSING_SCHEDULE_ID', 'schedule_id is required');
      const schedule = await store.get(scheduleId).catch((error: unknown) => {
        throw unavailable(error);
      });
      if (!schedule || schedule.ended) {
        throw storycastError(Code.NotFound, 'SCHEDULE_NOT_FOUND', `no schedule "${scheduleId}" is waiting on this server`, {
          field: 'schedule_id',
        });
      }
      await cancelSchedule({ store, scheduler: deps.scheduler, clock }, schedule).catch((error: unknown) => {
        throw unavailable(error);
      });
      return create(DeleteScheduleResponseSchema, { schedule: scheduleToProto(schedule) });
    },
  };
}

export type ScheduleHandlers = ReturnType<typeof scheduleHandlers>;

/** What every send of the schedule starts from: the request without its timing or its own request_id. */
function requestOfEachSend(req: SendStoryRequest): Uint8Array {
  const each = clone(SendStoryRequestSchema, req);
  each.startTime = undefined;
  each.repeat = '';
  each.timeZone = '';
  each.requestId = '';
  each.onDisconnect = OnDisconnect.CONTINUE;
  return toBinary(SendStoryRequestSchema, each);
}

function scheduledEvent(schedule: ScheduleRecord): SendStoryResponse {
  return create(SendStoryResponseSchema, { event: { case: 'scheduled', value: { schedule: scheduleToProto(schedule) } } });
}

function scheduleToProto(s: ScheduleRecord): Schedule {
  const ms = (at: number | undefined) => (at === undefined ? undefined : timestampFromMs(at));
  return create(ScheduleSchema, {
    scheduleId: s.scheduleId,
    sessionId: s.sessionId,
    repeat: s.repeat ?? '',
    timeZone: s.timeZone ?? '',
    startTime: ms(s.startAt),
    nextRunTime: ms(s.nextRunAt),
    sendId: s.sendId ?? '',
    runs: s.runs,
    lastRunTime: ms(s.lastRunAt),
    lastSendId: s.lastSendId ?? '',
    lastErrorReason: s.lastError?.reason ?? '',
    lastErrorMessage: s.lastError?.message ?? '',
    ...s.target,
    requestId: s.requestId,
    createTime: timestampFromMs(s.createdAt),
  });
}

function afterOf(cursor: string): { createdAt: number; scheduleId: string } {
  const slash = cursor.indexOf('/');
  return { createdAt: Number(cursor.slice(0, slash)), scheduleId: cursor.slice(slash + 1) };
}

const digest = (text: string): string => createHash('sha256').update(text).digest('base64url').slice(0, 22);

/** A UUID drawn from a hash: the send id a retried request_id gives again. */
function uuidOf(text: string): string {
  const hex = createHash('sha256').update(text).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
