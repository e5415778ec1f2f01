/**
 * Picks the recipient list store for STORYCAST_STORE, beside the journal,
 * session memory and experiments, so one sqlite file or one redis holds them all.
 */
import type { Logger } from '../log.js';
import { storeLocation } from '../store/store-url.js';
import { MemoryRecipientListStore, type RecipientListStore } from './lists.js';
import { RedisRecipientListStore } from './redis-lists.js';
import { SqliteRecipientListStore } from './sqlite-lists.js';

export function createRecipientListStore(url: string, opts: { logger: Logger }): RecipientListStore {
  const location = storeLocation(url, 'recipient list store');
  if (location.kind === 'memory') return new MemoryRecipientListStore();
  if (location.kind === 'sqlite') return new SqliteRecipientListStore(location.path);
  return new RedisRecipientListStore({ url, logger: opts.logger });
}
