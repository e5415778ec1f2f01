/** Large enough for 100,000 recipients per request and a summary that lists them all as failed. */
export const READ_MAX_BYTES = 16 * 1024 * 1024;
export const WRITE_MAX_BYTES = 64 * 1024 * 1024;
/** The longest delay a Node timer holds. */
export const MAX_TIMER_MS = 2 ** 31 - 1;
/**
 * HTTP/2 memory per connection, in MB (node's default is 10): a response of up to
 * WRITE_MAX_BYTES buffered for a slow reader must not make the connection refuse
 * its other streams (ENHANCE_YOUR_CALM).
 */
export const SESSION_MEMORY_MB = 2 * Math.ceil((READ_MAX_BYTES + WRITE_MAX_BYTES) / 2 ** 20);
