/** Large enough for 100,000 recipients per request and a summary that lists them all as failed. */
export const READ_MAX_BYTES = 16 * 1024 * 1024;
export const WRITE_MAX_BYTES = 64 * 1024 * 1024;
