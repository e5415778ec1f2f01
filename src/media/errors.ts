/**
 * A story whose media is at fault: the caller's mistake, so retrying the same
 * request cannot help. Transports throw it from prepare(); being a SendError,
 * the engine passes it on as it is (INVALID_ARGUMENT at the API, naming the
 * field) instead of counting it as a failed attempt.
 */
import { SendError } from '../engine/send-error.js';

export type MediaErrorReason = 'BAD_MEDIA_URL' | 'MEDIA_TOO_LARGE';

export class MediaError extends SendError {
  constructor(reason: MediaErrorReason, message: string, field: string, options?: { cause?: unknown }) {
    super(reason, message, field, undefined, options);
  }
}
