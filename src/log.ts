import { pino, type Logger } from 'pino';

export type { Logger };

/** The service's structured logger. Tests pass `silentLogger`. */
export function createLogger(level = 'info'): Logger {
  return pino({ level, base: { service: 'storycast' } });
}

export const silentLogger: Logger = pino({ level: 'silent' });
