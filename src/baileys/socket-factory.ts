/**
 * Real Baileys sockets for the session manager. Baileys is loaded through
 * createRequire: its CommonJS entry re-exports through __exportStar, which
 * Node's ESM named-export detection cannot see.
 */
import { createRequire } from 'node:module';
import type { proto } from '@whiskeysockets/baileys';
import type { ManagedSocket, SocketFactory } from './sessions.js';

const baileys = createRequire(import.meta.url)('@whiskeysockets/baileys') as typeof import('@whiskeysockets/baileys');

export function baileysSocketFactory(getMessage: (key: proto.IMessageKey) => Promise<proto.IMessage | undefined>): SocketFactory {
  return ({ auth, logger }) =>
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
    }) as unknown as ManagedSocket;
}
