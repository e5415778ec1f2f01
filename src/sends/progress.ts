/** A send's counts, moved on by each event that states them (the last one wins). */
import type { SendEvent } from '../engine/events.js';
import type { SendProgress } from './store.js';

export const NO_PROGRESS: SendProgress = { total: 0, delivered: 0, failed: 0, remaining: 0 };

export function progressAfter(progress: SendProgress, event: SendEvent): SendProgress {
  const { total } = progress;
  if (event.type === 'planned') return { total: event.total, delivered: 0, failed: 0, remaining: event.total };
  if (event.type === 'anchor') return { total, delivered: event.recipients, failed: 0, remaining: total - event.recipients };
  // A late event restates the counts too, so the latest batch event is the truth either way.
  if (event.type === 'batch') return { total, delivered: event.delivered, failed: event.failed, remaining: event.remaining };
  return { total: event.total, delivered: event.delivered, failed: event.failed.length, remaining: 0 };
}
