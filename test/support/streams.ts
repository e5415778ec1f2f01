/** Reading a connect server stream to its end in tests, keeping the error that ended it. */
import { ConnectError } from '@connectrpc/connect';
import { ErrorInfoSchema } from '../../src/gen/google/rpc/error_details_pb.js';

/** Every message of a stream, or the messages before the error that ended it. */
export async function collectStream<T>(stream: AsyncIterable<T>): Promise<{ events: T[]; error?: ConnectError }> {
  const events: T[] = [];
  try {
    for await (const e of stream) events.push(e);
    return { events };
  } catch (error) {
    return { events, error: ConnectError.from(error) };
  }
}

/** Every message of a stream, or the error that ended it, thrown. */
export async function allOf<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const { events, error } = await collectStream(stream);
  if (error) throw error;
  return events;
}

/** How a call failed: its code and its ErrorInfo's reason and field (all undefined-safe when it did not fail). */
export async function failureOf(call: Promise<unknown>): Promise<{ code: number; reason?: string; field?: string; message: string }> {
  const error = ConnectError.from(
    await call.then(
      () => undefined,
      (e: unknown) => e,
    ),
  );
  const info = error.findDetails(ErrorInfoSchema)[0];
  return { code: error.code, reason: info?.reason, field: info?.metadata.field, message: error.rawMessage };
}
