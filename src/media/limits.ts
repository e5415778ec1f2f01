/** The media size cap, applied alike to inline data and to fetched bodies. */
import { MediaError } from './errors.js';

/** STORYCAST_MAX_MEDIA_BYTES's default: room for a status video, while bounding what one send holds in memory. */
export const DEFAULT_MAX_MEDIA_BYTES = 64 * 1024 * 1024;

/** Refuses inline media over the cap, naming the field and the limit. */
export function assertInlineMediaSize(data: Uint8Array, maxBytes: number, field: string): void {
  if (data.byteLength > maxBytes) {
    throw new MediaError(
      'MEDIA_TOO_LARGE',
      `${field} has ${data.byteLength} bytes, more than STORYCAST_MAX_MEDIA_BYTES (${maxBytes} bytes)`,
      field,
    );
  }
}
