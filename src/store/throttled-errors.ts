/**
 * A down store errors on every reconnect attempt (and @keyv/redis registers
 * its client listeners twice once connected): each distinct message is
 * logged at most once per interval, with how many were suppressed.
 */
import type { Logger } from '../log.js';

/**
 * Every store error of this process, suppressed ones included, by the store's
 * kind: the logger's message less its trailing " error" ("send store",
 * "session memory store"), a constant of the code, never a URL. Process-wide
 * because the stores are made where no metrics registry reaches; /metrics
 * reads it at scrape.
 */
const errorCounts = new Map<string, number>();

export function storeErrorCounts(): ReadonlyMap<string, number> {
  return errorCounts;
}

export function throttledErrorLogger(
  logger: Logger,
  where: { readonly store: string; readonly message: string },
  intervalMs = 60_000,
): (error: unknown) => void {
  const seen = new Map<string, { at: number; suppressed: number }>();
  const kind = where.message.replace(/ error$/, '');
  return (error: unknown) => {
    errorCounts.set(kind, (errorCounts.get(kind) ?? 0) + 1);
    const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    const now = Date.now();
    const entry = seen.get(text);
    if (entry && now - entry.at < intervalMs) {
      entry.suppressed++;
      return;
    }
    seen.set(text, { at: now, suppressed: 0 });
    if (seen.size > 100) seen.delete(seen.keys().next().value!);
    logger.warn({ err: error, store: where.store, suppressed: entry?.suppressed ?? 0 }, where.message);
  };
}
