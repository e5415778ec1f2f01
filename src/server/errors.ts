/**
 * Domain errors as ConnectErrors: the status code DESIGN.md names, plus a
 * google.rpc.ErrorInfo detail (domain "storycast", an UPPER_SNAKE reason,
 * the offending field in metadata) that callers in any language branch on.
 */
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import { SendError, type SendErrorReason } from '../engine/send-error.js';
import { ErrorInfoSchema } from '../gen/google/rpc/error_details_pb.js';
import { isValidSessionId } from '../transport/sessions.js';

const ERROR_DOMAIN = 'storycast';

/**
 * Messages quote what the caller sent (a key, a send id, a strategy name), and
 * gRPC carries them in trailers (grpc-message, and again in
 * grpc-status-details-bin): a 1 MiB key quoted whole makes a header block
 * HTTP/2 cannot send, and node then drops the whole connection, every other
 * call on it included. Found by the fuzzer (test/fuzz).
 */
const MAX_MESSAGE_CHARS = 512;

function bounded(message: string): string {
  if (message.length <= MAX_MESSAGE_CHARS) return message;
  // Never end on half a surrogate pair: grpc-message is percent-encoded, and encodeURIComponent throws on a lone one.
  const head = message.slice(0, MAX_MESSAGE_CHARS).replace(/[\ud800-\udbff]$/, '');
  return `${head}… (${message.length} characters)`;
}

export function storycastError(
  code: Code,
  reason: string,
  message: string,
  metadata: Record<string, string> = {},
  cause?: unknown,
): ConnectError {
  return new ConnectError(
    bounded(message),
    code,
    undefined,
    [{ desc: ErrorInfoSchema, value: create(ErrorInfoSchema, { reason, domain: ERROR_DOMAIN, metadata }) }],
    cause,
  );
}

/** The request's session_id, checked the same way by every RPC that takes one. */
export function requireSessionId(id: string): string {
  if (id.trim() === '') throw invalidField('session_id', 'MISSING_SESSION_ID', 'session_id is required');
  if (!isValidSessionId(id)) {
    throw invalidField(
      'session_id',
      'BAD_SESSION_ID',
      'session_id may contain only letters, digits, dot, dash and underscore (at most 64)',
    );
  }
  return id;
}

/** A request's recipients, at most the server's limit (STORYCAST_MAX_RECIPIENTS), checked the same way by every RPC that takes them. */
export function requireRecipientCount(recipients: readonly string[], limit: number): void {
  if (recipients.length > limit) {
    throw invalidField('recipients', 'TOO_MANY_RECIPIENTS', `recipients has ${recipients.length} entries; the limit is ${limit}`);
  }
}

/** A store a call needs is down: UNAVAILABLE, reason STORE_UNAVAILABLE, naming the store ("contact store"). */
export function storeUnavailable(store: string, error: unknown): ConnectError {
  return storycastError(Code.Unavailable, 'STORE_UNAVAILABLE', `${store} unavailable: ${(error as Error).message}`, {}, error);
}

/** A bad request field: INVALID_ARGUMENT naming it. */
export function invalidField(field: string, reason: string, message: string): ConnectError {
  return storycastError(Code.InvalidArgument, reason, message, { field });
}

const CODE_OF: Record<SendErrorReason, Code> = {
  MISSING_SESSION_ID: Code.InvalidArgument,
  TOO_MANY_RECIPIENTS: Code.InvalidArgument,
  NO_VALID_RECIPIENTS: Code.InvalidArgument,
  BAD_MEDIA_URL: Code.InvalidArgument,
  MEDIA_TOO_LARGE: Code.InvalidArgument,
  PREPARE_FAILED: Code.Unavailable,
  ANCHOR_FAILED: Code.Unavailable,
  SESSION_NOT_FOUND: Code.NotFound,
  SESSION_NOT_CONNECTED: Code.FailedPrecondition,
  LOGGED_OUT: Code.FailedPrecondition,
  FORBIDDEN: Code.PermissionDenied,
  // WhatsApp refuses every status from this account as it is addressed today: retrying will not help.
  STATUS_REJECTED: Code.FailedPrecondition,
};

/** Anything a handler throws, as what the client should see. Unknown errors become INTERNAL without leaking details. */
export function toConnectError(error: unknown): ConnectError {
  if (error instanceof ConnectError) return error;
  if (error instanceof SendError) {
    const metadata: Record<string, string> = {};
    if (error.field) metadata.field = error.field;
    if (error.transportCode) metadata.transport_code = error.transportCode;
    return storycastError(CODE_OF[error.reason], error.reason, error.message, metadata, error);
  }
  return storycastError(Code.Internal, 'INTERNAL', 'internal error', {}, error);
}
