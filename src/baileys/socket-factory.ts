/**
 * Real Baileys sockets for the session manager. Baileys is loaded through
 * createRequire: its CommonJS entry re-exports through __exportStar, which
 * Node's ESM named-export detection cannot see.
 */
import { createRequire } from 'node:module';
import { NodeCache } from '@cacheable/node-cache';
import type { proto } from '@whiskeysockets/baileys';
import type { ManagedSocket, SocketFactory } from './sessions.js';

const baileys = createRequire(import.meta.url)('@whiskeysockets/baileys') as typeof import('@whiskeysockets/baileys');

/**
 * Recipients' device lists, one cache per session that outlives its sockets
 * (Baileys would start a new one with every socket, so every reconnect would
 * look every contact's devices up again): a later send to the same contacts
 * skips the lookups. Same lifetime per entry as Baileys' own cache.
 */
export function deviceCaches(): (sessionId: string) => NodeCache<unknown> {
  const caches = new Map<string, NodeCache<unknown>>();
  return (sessionId) => {
    let cache = caches.get(sessionId);
    if (!cache) caches.set(sessionId, (cache = new NodeCache<unknown>({ stdTTL: baileys.DEFAULT_CACHE_TTLS.USER_DEVICES, useClones: false })));
    return cache;
  };
}

export function baileysSocketFactory(getMessage: (key: proto.IMessageKey) => Promise<proto.IMessage | undefined>): SocketFactory {
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
    }) as unknown as ManagedSocket;
}
