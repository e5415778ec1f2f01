/**
 * STORYCAST_STORE read once for every store on it (session memory, receipts,
 * the send journal, experiments), so one sqlite file or one redis holds them
 * all and they agree on what a URL means.
 */
import { redactUrl } from '../util/redact-url.js';

export type StoreLocation = { readonly kind: 'memory' } | { readonly kind: 'sqlite'; readonly path: string } | { readonly kind: 'redis' };

const SUPPORTED_SCHEMES = ['sqlite://', 'redis://', 'rediss://', 'memory://'] as const;

/** `sqlite://./x.db` -> `./x.db`, `sqlite:///abs/x.db` -> `/abs/x.db`. Throws, naming `what`, for another scheme. */
export function storeLocation(url: string, what: string): StoreLocation {
  if (url.startsWith('memory://')) return { kind: 'memory' };
  if (url.startsWith('sqlite://')) return { kind: 'sqlite', path: url.slice('sqlite://'.length) };
  if (url.startsWith('redis://') || url.startsWith('rediss://')) return { kind: 'redis' };
  const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(url)?.[0] ?? '(none)';
  throw new Error(`unsupported ${what} URL "${redactUrl(url)}" (scheme ${scheme}): supported schemes are ${SUPPORTED_SCHEMES.join(', ')}`);
}
