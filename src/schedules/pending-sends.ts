/**
 * One-off schedules as the send registry sees them (its PendingSends): a send
 * id given out when the schedule was accepted is SCHEDULED until the
 * scheduler starts it, and stays readable, CANCELLED or FAILED, when it never
 * will.
 */
import type { Clock } from '../clock.js';
import type { PendingSends } from '../sends/registry-types.js';
import type { SendRecord } from '../sends/store.js';
import type { Scheduler } from './scheduler.js';
import type { ScheduleRecord, ScheduleStore } from './store.js';

/** A watcher of a scheduled send looks at the store at least this often (it may start on another replica). */
const LOOK_AGAIN_MS = 5000;

const NO_PROGRESS = { total: 0, delivered: 0, failed: 0, remaining: 0 } as const;

export function sendOfSchedule(schedule: ScheduleRecord): SendRecord {
  const { ended } = schedule;
  return {
    sendId: schedule.sendId ?? '',
    requestId: '',
    fingerprint: '',
    sessionId: schedule.sessionId,
    strategy: schedule.target.strategy,
    createdAt: schedule.createdAt,
    updatedAt: ended?.at ?? schedule.createdAt,
    state: ended?.state ?? 'SCHEDULED',
    ...(ended ? { finishedAt: ended.at } : {}),
    ...(ended?.failure ? { failure: ended.failure } : {}),
    events: 0,
    progress: NO_PROGRESS,
    ...(schedule.nextRunAt === undefined ? {} : { startAt: schedule.nextRunAt }),
    scheduleId: schedule.scheduleId,
  };
}

export class ScheduledSends implements PendingSends {
  constructor(private readonly deps: { readonly store: ScheduleStore; readonly scheduler: Scheduler; readonly clock: Clock }) {}

  async get(sendId: string): Promise<SendRecord | undefined> {
    const schedule = await this.deps.store.bySendId(sendId);
    return schedule ? sendOfSchedule(schedule) : undefined;
  }

  async cancel(sendId: string): Promise<SendRecord | undefined> {
    const schedule = await this.deps.store.bySendId(sendId);
    if (!schedule) return undefined;
    return sendOfSchedule(await cancelSchedule(this.deps, schedule));
  }

  waitForStart(sendId: string, signal?: AbortSignal): Promise<void> {
    return this.deps.scheduler.whenSettled(sendId, LOOK_AGAIN_MS, signal);
  }
}

/**
 * Ends a schedule: a one-off stays, CANCELLED, for its send id to answer
 * (until the retention); a repeating one is deleted. Returns it as it was
 * left (or, deleted, as it was).
 */
export async function cancelSchedule(
  deps: { readonly store: ScheduleStore; readonly scheduler: Pick<Scheduler, 'wake' | 'notifySettled'>; readonly clock: Clock },
  schedule: ScheduleRecord,
): Promise<ScheduleRecord> {
  // Read again: the scheduler may have started or failed it since the caller looked.
  const current = await deps.store.get(schedule.scheduleId);
  if (!current || current.ended) return current ?? schedule;
  let left = current;
  if (current.sendId === undefined) await deps.store.delete(current.scheduleId);
  else {
    const { nextRunAt: _next, ...rest } = current;
    left = { ...rest, ended: { state: 'CANCELLED', at: deps.clock.now() } };
    await deps.store.update(left);
  }
  deps.scheduler.wake();
  if (current.sendId !== undefined) deps.scheduler.notifySettled(current.sendId);
  return left;
}
