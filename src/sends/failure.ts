/**
 * Why a send ended before its summary, as the journal keeps it (reason,
 * message, field, transport code) and back as the error its caller would
 * have seen, so a watcher after a restart gets the same gRPC status.
 */
import { SendError } from '../engine/send-error.js';
import type { SendFailure } from './store.js';

export function failureOf(error: unknown): SendFailure {
  if (!(error instanceof SendError)) return { reason: 'INTERNAL', message: error instanceof Error ? error.message : String(error) };
  return {
    reason: error.reason,
    message: error.message,
    ...(error.transportCode ? { transportCode: error.transportCode } : {}),
    ...(error.field ? { field: error.field } : {}),
  };
}

/** A failure read back from the journal as the error its caller would have seen. */
export function failureError(failure: SendFailure): Error {
  return failure.reason === 'INTERNAL'
    ? new Error(failure.message)
    : new SendError(
        failure.reason as SendError['reason'],
        failure.message,
        failure.field,
        failure.transportCode as SendError['transportCode'],
      );
}
