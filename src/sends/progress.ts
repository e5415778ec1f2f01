/** A send's counts so far, read off its event log (the last event that states them wins). */
import type { SendEvent } from '../engine/events.js';

export interface SendProgress {
  readonly total: number;
  readonly delivered: number;
  readonly failed: number;
  readonly remaining: number;
}

export function progressOf(events: readonly SendEvent[]): SendProgress {
  let progress: SendProgress = { total: 0, delivered: 0, failed: 0, remaining: 0 };
  for (const event of events) {
    const { total } = progress;
    if (event.type === 'planned') progress = { total: event.total, delivered: 0, failed: 0, remaining: event.total };
    else if (event.type === 'anchor') progress = { total, delivered: event.recipients, failed: 0, remaining: total - event.recipients };
    // A late event restates the counts too, so the latest batch event is the truth either way.
    else if (event.type === 'batch') progress = { total, delivered: event.delivered, failed: event.failed, remaining: event.remaining };
    else progress = { total: event.total, delivered: event.delivered, failed: event.failed.length, remaining: 0 };
  }
  return progress;
}
