import { pino, type Logger } from 'pino';

export type { Logger };

/** The service's structured logger. Tests pass `silentLogger`. */
export function createLogger(level = 'info'): Logger {
  return pino({ level, base: { service: 'storycast' } });
}

export const silentLogger: Logger = pino({ level: 'silent' });

/**
 * A JID or phone number with its middle digits hidden, for log lines:
 * enough to tell recipients apart while debugging, never a whole number.
 */
export function maskRecipient(recipient: string): string {
  const at = recipient.indexOf('@');
  const user = at === -1 ? recipient : recipient.slice(0, at);
  const domain = at === -1 ? '' : recipient.slice(at);
  if (user.length <= 4) return `${'*'.repeat(user.length)}${domain}`;
  return `${user.slice(0, 2)}${'*'.repeat(user.length - 4)}${user.slice(-2)}${domain}`;
}
