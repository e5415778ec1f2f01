/**
 * Picks the experiment store for a store URL (STORYCAST_STORE), the same URL
 * the send journal and session memory use, so one sqlite file or one redis
 * holds all of them. Parsing is src/sends/open-store.ts's.
 */
import type { Logger } from '../log.js';
import { storeLocation } from '../store/store-url.js';
import { RedisExperimentStore } from './redis-store.js';
import { SqliteExperimentStore } from './sqlite-store.js';
import { type ExperimentStore, MemoryExperimentStore } from './store.js';

/**
 * Throws when the URL's scheme is unknown or a sqlite file cannot be opened.
 * A redis store connects on its first call (or its connect()), so a down
 * redis shows up as rejected calls, not here.
 */
export function createExperimentStore(url: string, opts: { logger: Logger }): ExperimentStore {
  const location = storeLocation(url, 'experiment store');
  if (location.kind === 'memory') return new MemoryExperimentStore();
  if (location.kind === 'sqlite') return new SqliteExperimentStore(location.path);
  return new RedisExperimentStore({ url, logger: opts.logger });
}
