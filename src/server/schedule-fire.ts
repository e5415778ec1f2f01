/**
 * How the scheduler starts one occurrence: the stored request goes the way
 * SendStory's would (send-request.ts) under a request_id of the occurrence's
 * own, with ON_DISCONNECT_CONTINUE since nobody is attached to it.
 */
import { fromBinary } from '@bufbuild/protobuf';
import { Code } from '@connectrpc/connect';
import { ErrorInfoSchema } from '../gen/google/rpc/error_details_pb.js';
import { SendStoryRequestSchema } from '../gen/storycast/v1/story_service_pb.js';
import type { Logger } from '../log.js';
import type { FireResult } from '../schedules/scheduler.js';
import type { ScheduleRecord, ScheduleStore } from '../schedules/store.js';
import { SessionElsewhereError } from '../sends/errors.js';
import type { SendRegistry } from '../sends/registry.js';
import { sendError, startRequestOf, type SendRequestDeps } from './send-request.js';

export interface FireDeps {
  readonly store: Pick<ScheduleStore, 'request'>;
  readonly registry: Pick<SendRegistry, 'start'>;
  readonly requests: SendRequestDeps;
  readonly logger: Logger;
}

/** Unique per occurrence, and the same every time that occurrence is fired: the registry attaches a second firing to the first. */
const occurrenceRequestId = (scheduleId: string, occurrenceAt: number): string => `schedule-${scheduleId}-${occurrenceAt}`;
const OCCURRENCE_REQUEST_ID = /^schedule-(sch-[A-Za-z0-9_-]{22})-\d+$/;

/** The schedule a send was started by, read back from its request_id; undefined for a send a caller started. */
export const scheduleIdOfRequest = (requestId: string): string | undefined => OCCURRENCE_REQUEST_ID.exec(requestId)?.[1];

export function fireScheduled(deps: FireDeps) {
  return async (schedule: ScheduleRecord, occurrenceAt: number): Promise<FireResult> => {
    const bytes = await deps.store.request(schedule.scheduleId);
    if (!bytes) return { error: { reason: 'SCHEDULE_NOT_FOUND', message: 'the schedule was deleted before it fired' } };
    const req = fromBinary(SendStoryRequestSchema, bytes);
    try {
      const start = await startRequestOf(deps.requests, req, deps.logger.child({ scheduleId: schedule.scheduleId }), {
        requestId: occurrenceRequestId(schedule.scheduleId, occurrenceAt),
        ...(schedule.sendId ? { sendId: schedule.sendId } : {}),
      });
      const attachment = await deps.registry.start(start, 'continue');
      attachment.release(false);
      return { sendId: attachment.sendId };
    } catch (error) {
      if (error instanceof SessionElsewhereError) return { elsewhere: true };
      const refused = sendError(error);
      // A store or journal that is down heals: the scheduler tries the occurrence again rather than give it up.
      if (refused.code === Code.Unavailable) throw refused;
      const reason = refused.findDetails(ErrorInfoSchema)[0]?.reason ?? Code[refused.code].toUpperCase();
      return { error: { reason, message: refused.rawMessage } };
    }
  };
}
