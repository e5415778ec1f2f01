/** Reading a connect server stream to its end in tests, keeping the error that ended it. */
import { ConnectError } from '@connectrpc/connect';

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
