/**
 * A SERVER span per call, continuing the caller's trace (W3C traceparent and
 * tracestate in its metadata), named and attributed as the OpenTelemetry RPC
 * conventions say. The handler runs with the span active, so what it starts
 * (a send) can hang its own spans under it. A server stream's span lasts
 * until its last message, or the error or cancellation that ends it.
 */
import { Code, ConnectError, type Interceptor } from '@connectrpc/connect';
import { codeToString } from '@connectrpc/connect/protocol-connect';
import {
  context,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Span,
  type TextMapGetter,
  type TextMapPropagator,
  type Tracer,
} from '@opentelemetry/api';
import { ErrorInfoSchema } from '../gen/google/rpc/error_details_pb.js';

// The RPC attributes are still "incubating" in @opentelemetry/semantic-conventions, whose docs advise copying them rather than importing.
const RPC_SYSTEM = 'rpc.system';
const RPC_SERVICE = 'rpc.service';
const RPC_METHOD = 'rpc.method';
const RPC_GRPC_STATUS_CODE = 'rpc.grpc.status_code';
const RPC_CONNECT_ERROR_CODE = 'rpc.connect_rpc.error_code';
/** connect's Code has no OK: a call that ends well has no error to take a code from. */
const GRPC_OK = 0;

const HEADERS: TextMapGetter<Headers> = {
  keys: (headers) => [...headers.keys()],
  get: (headers, key) => headers.get(key) ?? undefined,
};

export function rpcSpans(tracer: Tracer, propagator: TextMapPropagator): Interceptor {
  return (next) => async (req) => {
    const parent = propagator.extract(ROOT_CONTEXT, req.header, HEADERS);
    // The same handler serves gRPC, gRPC-Web and the Connect protocol; the codes are the same, the convention's names are not.
    const grpc = req.header.get('content-type')?.startsWith('application/grpc') ?? false;
    const span = tracer.startSpan(
      `${req.service.typeName}/${req.method.name}`,
      {
        kind: SpanKind.SERVER,
        attributes: { [RPC_SYSTEM]: grpc ? 'grpc' : 'connect_rpc', [RPC_SERVICE]: req.service.typeName, [RPC_METHOD]: req.method.name },
      },
      parent,
    );
    const active = trace.setSpan(parent, span);
    const end = (error: unknown) => endCall(span, grpc, error ?? (req.signal.aborted ? req.signal.reason : undefined));
    try {
      const res = await context.with(active, () => next(req));
      if (!res.stream) {
        end(undefined);
        return res;
      }
      // A server stream's handler runs, and fails, while its messages are read: after next() has returned.
      return { ...res, message: readWithin(res.message, active, end) };
    } catch (error) {
      end(error);
      throw error;
    }
  };
}

/**
 * The messages, each one produced with the call's context active (a
 * generator's body runs in the context of whoever calls next(), not of whoever
 * created it); `end` once, however the stream ends.
 */
async function* readWithin<T>(messages: AsyncIterable<T>, active: Context, end: (error: unknown) => void): AsyncGenerator<T> {
  const it = messages[Symbol.asyncIterator]();
  let error: unknown;
  let done = false;
  try {
    for (;;) {
      const step = await context.with(active, () => it.next());
      if (step.done) {
        done = true;
        return;
      }
      yield step.value;
    }
  } catch (thrown) {
    done = true;
    error = thrown;
    throw thrown;
  } finally {
    // The reader left early (the caller went away): let the handler's own finally run too.
    if (!done) await context.with(active, async () => it.return?.()).catch(() => {});
    end(error);
  }
}

function endCall(span: Span, grpc: boolean, error: unknown): void {
  if (error === undefined) {
    if (grpc) span.setAttribute(RPC_GRPC_STATUS_CODE, GRPC_OK);
    span.end();
    return;
  }
  // What the caller is told: connect answers anything but a ConnectError (or an abort) as INTERNAL.
  const known = error instanceof ConnectError || isAbort(error);
  const status = known ? ConnectError.from(error) : new ConnectError('internal error', Code.Internal);
  if (grpc) span.setAttribute(RPC_GRPC_STATUS_CODE, status.code);
  else span.setAttribute(RPC_CONNECT_ERROR_CODE, codeToString(status.code));
  const reason = status.findDetails(ErrorInfoSchema)[0]?.reason;
  if (reason) span.setAttribute('storycast.error.reason', reason);
  if (!known) span.recordException(error instanceof Error ? error : String(error));
  span.setStatus({ code: SpanStatusCode.ERROR, message: status.rawMessage });
  span.end();
}

function isAbort(error: unknown): boolean {
  return error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError');
}
