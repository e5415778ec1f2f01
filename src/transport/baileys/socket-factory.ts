/**
 * Real Baileys sockets for the session manager. Baileys is loaded through
 * createRequire: its CommonJS entry re-exports through __exportStar, which
 * Node's ESM named-export detection cannot see.
 */
import { createRequire } from 'node:module';
import { NodeCache } from '@cacheable/node-cache';
import type { proto, SocketConfig } from '@whiskeysockets/baileys';
import type { ManagedSocket, SocketFactory } from './sessions.js';

const baileys = createRequire(import.meta.url)('@whiskeysockets/baileys') as typeof import('@whiskeysockets/baileys');

/**
 * How long a recipient's device list is trusted. Baileys' own 5 minutes makes
 * every daily status to the same list look every device up again (one usync
 * query per batch); Evolution API keeps them for days. A list that went stale
 * costs little: the phone (device 0) is always in it, so the recipient still
 * gets the status, and only a device linked since misses it. A day matches the
 * life of a status.
 */
export const DEVICE_LIST_TTL_S = 24 * 60 * 60;

/**
 * Recipients' device lists, one cache per session that outlives its sockets
 * (Baileys would start a new one with every socket, so every reconnect would
 * look every contact's devices up again): a later send to the same contacts
 * skips the lookups.
 */
export function deviceCaches(ttlSeconds = DEVICE_LIST_TTL_S): (sessionId: string) => NodeCache<unknown> {
  const caches = new Map<string, NodeCache<unknown>>();
  return (sessionId) => {
    let cache = caches.get(sessionId);
    if (!cache) {
      cache = new NodeCache<unknown>({ stdTTL: ttlSeconds, useClones: false });
      caches.set(sessionId, cache);
    }
    return cache;
  };
}

/**
 * Socket options laid over the defaults below, e.g. a test pointing
 * `waWebSocketUrl` at a local server with short `connectTimeoutMs` and
 * `defaultQueryTimeoutMs`. Production passes none.
 */
export type ExtraSocketConfig = Omit<Partial<SocketConfig>, 'auth' | 'getMessage'>;

export function baileysSocketFactory(
  getMessage: (key: proto.IMessageKey) => Promise<proto.IMessage | undefined>,
  extra: ExtraSocketConfig = {},
): SocketFactory {
  const devicesOf = deviceCaches();
  return ({ auth, logger, sessionId }) =>
    baileys.makeWASocket({
      auth,
      // Baileys logs a lot at info; keep its own lines to warnings and up.
      logger: logger.child({ component: 'baileys' }, { level: 'warn' }) as never,
      printQRInTerminal: false,
      // A status poster should not mark the account online or pull its history.
      markOnlineOnConnect: false,
      syncFullHistory: false,
      browser: baileys.Browsers.ubuntu('storycast'),
      getMessage,
      userDevicesCache: devicesOf(sessionId) as never,
      ...extra,
    }) as unknown as ManagedSocket;
}
