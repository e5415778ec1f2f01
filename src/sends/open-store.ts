/**
 * Picks the send journal for a store URL (STORYCAST_STORE), the same URL
 * session memory uses, so one sqlite file or one redis holds both.
 */
import type { Logger } from '../log.js';
import { storeLocation } from '../store/store-url.js';
import { RedisSendStore } from './redis-store.js';
import { SqliteSendStore } from './sqlite-store.js';
import { MemorySendStore, type SendStore } from './store.js';

/**
 * Throws when the URL's scheme is unknown or a sqlite file cannot be opened.
 * A redis store connects on its first call (or its connect()), so a down
 * redis shows up as rejected writes, not here.
 */
export function createSendStore(url: string, opts: { logger: Logger }): SendStore {
  const location = storeLocation(url, 'send store');
  if (location.kind === 'memory') return new MemorySendStore();
  if (location.kind === 'sqlite') return new SqliteSendStore(location.path);
  return new RedisSendStore({ url, logger: opts.logger });
}
