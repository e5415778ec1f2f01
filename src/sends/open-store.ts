/**
 * Picks the send journal for a store URL (STORYCAST_STORE), the same URL
 * session memory uses, so one sqlite file or one redis holds both.
 */
import type { Logger } from '../log.js';
import { redactUrl } from '../util/redact-url.js';
import { RedisSendStore } from './redis-store.js';
import { SqliteSendStore } from './sqlite-store.js';
import { MemorySendStore, type SendStore } from './store.js';

const SUPPORTED_SCHEMES = ['sqlite://', 'redis://', 'rediss://', 'memory://'] as const;

/**
 * Throws when the URL's scheme is unknown or a sqlite file cannot be opened.
 * A redis store connects on its first call (or its connect()), so a down
 * redis shows up as rejected writes, not here.
 */
export function createSendStore(url: string, opts: { logger: Logger }): SendStore {
  if (url.startsWith('memory://')) return new MemorySendStore();
  // Strips the scheme like session memory does: `sqlite://./x.db` -> `./x.db`, `sqlite:///abs/x.db` -> `/abs/x.db`.
  if (url.startsWith('sqlite://')) return new SqliteSendStore(url.slice('sqlite://'.length));
  if (url.startsWith('redis://') || url.startsWith('rediss://')) return new RedisSendStore({ url, logger: opts.logger });
  const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(url)?.[0] ?? '(none)';
  throw new Error(
    `unsupported send store URL "${redactUrl(url)}" (scheme ${scheme}): supported schemes are ${SUPPORTED_SCHEMES.join(', ')}`,
  );
}
