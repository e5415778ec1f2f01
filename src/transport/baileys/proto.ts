/**
 * Baileys' WhatsApp protobuf classes. `proto` is re-exported through
 * __exportStar, which Node's CJS named-export detection cannot see: required
 * here instead of imported, so ESM importers get the real object.
 */
import { createRequire } from 'node:module';

export const { proto } = createRequire(import.meta.url)('@whiskeysockets/baileys') as typeof import('@whiskeysockets/baileys');
