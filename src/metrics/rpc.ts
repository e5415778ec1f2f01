/**
 * The RPC families as go-grpc-prometheus defines them (names, labels, code
 * spelling), so the usual gRPC dashboards and alerts read storycast as they
 * read any Go service.
 */
import { Code, ConnectError, type Interceptor } from '@connectrpc/connect';
import type { DescMethod } from '@bufbuild/protobuf';
import type { Metrics } from './registry.js';

/** grpc-go's codes.Code.String(), which go-grpc-prometheus puts in grpc_code ("Canceled" with one l). */
const CODE_NAMES: Record<Code | 0, string> = {
  0: 'OK',
  [Code.Canceled]: 'Canceled',
  [Code.Unknown]: 'Unknown',
  [Code.InvalidArgument]: 'InvalidArgument',
  [Code.DeadlineExceeded]: 'DeadlineExceeded',
  [Code.NotFound]: 'NotFound',
  [Code.AlreadyExists]: 'AlreadyExists',
  [Code.PermissionDenied]: 'PermissionDenied',
  [Code.ResourceExhausted]: 'ResourceExhausted',
  [Code.FailedPrecondition]: 'FailedPrecondition',
  [Code.Aborted]: 'Aborted',
  [Code.OutOfRange]: 'OutOfRange',
  [Code.Unimplemented]: 'Unimplemented',
  [Code.Internal]: 'Internal',
  [Code.Unavailable]: 'Unavailable',
  [Code.DataLoss]: 'DataLoss',
  [Code.Unauthenticated]: 'Unauthenticated',
};

/** The grpc_code a failure is counted under: the code the client will see, as connect maps the error. */
function grpcCodeName(error: unknown): string {
  return CODE_NAMES[ConnectError.from(error).code] ?? 'Unknown';
}

const GRPC_TYPES: Record<DescMethod['methodKind'], string> = {
  unary: 'unary',
  server_streaming: 'server_stream',
  client_streaming: 'client_stream',
  bidi_streaming: 'bidi_stream',
};

/**
 * Counts every call it sees: started, handled with its code, how long it took
 * and the messages each way. A streamed response is counted when its last
 * message has gone or the stream failed, not when the handler returned it.
 * Place it before interceptors that refuse calls (auth), so refusals are counted.
 */
export function rpcMetrics(metrics: Metrics): Interceptor {
  const { started, handled, handlingSeconds, msgReceived, msgSent } = metrics.rpc;
  return (next) => async (req) => {
    // Only methods the router serves reach an interceptor: these labels are bounded by the protos.
    const labels = { grpc_type: GRPC_TYPES[req.method.methodKind], grpc_service: req.service.typeName, grpc_method: req.method.name };
    const begin = performance.now();
    let done = false;
    const end = (code: string) => {
      if (done) return;
      done = true;
      handled.inc({ ...labels, grpc_code: code });
      handlingSeconds.observe(labels, (performance.now() - begin) / 1000);
    };
    // A handler that ends quietly because its caller went away (SendStory, WatchSend) did not
    // complete the call: the client saw CANCELLED (or its deadline), and so do these counters.
    const outcome = () => (req.signal.aborted ? grpcCodeName(req.signal.reason) : 'OK');
    started.inc(labels);
    const received = req.stream ? { ...req, message: counted(req.message, () => msgReceived.inc(labels)) } : req;
    if (!req.stream) msgReceived.inc(labels);
    try {
      const res = await next(received);
      if (!res.stream) {
        msgSent.inc(labels);
        end(outcome());
        return res;
      }
      return { ...res, message: followed(res.message, () => msgSent.inc(labels), outcome, end) };
    } catch (error) {
      end(grpcCodeName(error));
      throw error;
    }
  };
}

async function* counted<T>(messages: AsyncIterable<T>, each: () => void): AsyncGenerator<T> {
  for await (const m of messages) {
    each();
    yield m;
  }
}

/** Counts a response stream's messages and reports how it ended, exactly once. */
async function* followed<T>(
  messages: AsyncIterable<T>,
  each: () => void,
  outcome: () => string,
  end: (code: string) => void,
): AsyncGenerator<T> {
  try {
    for await (const m of messages) {
      yield m;
      // After the yield: the message was taken by the transport, not merely produced.
      each();
    }
    end(outcome());
  } catch (error) {
    end(grpcCodeName(error));
    throw error;
  } finally {
    // Left without finishing or throwing: the transport stopped reading (the client went away).
    end(CODE_NAMES[Code.Canceled]);
  }
}
