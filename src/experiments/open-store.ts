/**
 * Picks the experiment store for a store URL (STORYCAST_STORE), the same URL
 * the send journal and session memory use, so one sqlite file or one redis
 * holds all of them. Parsing is src/sends/open-store.ts's.
 */
import type { Logger } from '../log.js';
import { redactUrl } from '../util/redact-url.js';
import { RedisExperimentStore } from './redis-store.js';
import { SqliteExperimentStore } from './sqlite-store.js';
import { type ExperimentStore, MemoryExperimentStore } from './store.js';

const SUPPORTED_SCHEMES = ['sqlite://', 'redis://', 'rediss://', 'memory://'] as const;

/**
 * Throws when the URL's scheme is unknown or a sqlite file cannot be opened.
 * A redis store connects on its first call (or its connect()), so a down
 * redis shows up as rejected calls, not here.
 */
export function createExperimentStore(url: string, opts: { logger: Logger }): ExperimentStore {
  if (url.startsWith('memory://')) return new MemoryExperimentStore();
  // Strips the scheme like session memory does: `sqlite://./x.db` -> `./x.db`, `sqlite:///abs/x.db` -> `/abs/x.db`.
  if (url.startsWith('sqlite://')) return new SqliteExperimentStore(url.slice('sqlite://'.length));
  if (url.startsWith('redis://') || url.startsWith('rediss://')) return new RedisExperimentStore({ url, logger: opts.logger });
  const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(url)?.[0] ?? '(none)';
  throw new Error(
    `unsupported experiment store URL "${redactUrl(url)}" (scheme ${scheme}): supported schemes are ${SUPPORTED_SCHEMES.join(', ')}`,
  );
}
