/**
 * Picks the schedule store for STORYCAST_STORE, beside the journal, session
 * memory, experiments and lists, so one sqlite file or one redis holds them all.
 */
import type { Logger } from '../log.js';
import { storeLocation } from '../store/store-url.js';
import { RedisScheduleStore } from './redis-store.js';
import { SqliteScheduleStore } from './sqlite-store.js';
import { MemoryScheduleStore, type ScheduleStore } from './store.js';

export function createScheduleStore(url: string, opts: { logger: Logger }): ScheduleStore {
  const location = storeLocation(url, 'schedule store');
  if (location.kind === 'memory') return new MemoryScheduleStore();
  if (location.kind === 'sqlite') return new SqliteScheduleStore(location.path);
  return new RedisScheduleStore({ url, logger: opts.logger });
}
