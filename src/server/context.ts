/**
 * Per-call context: a request id (the caller's x-request-id, or a new one)
 * and a logger carrying it, so every log line of a call can be found again.
 */
import { randomUUID } from 'node:crypto';
import { type ContextValues, createContextKey, type HandlerContext, type Interceptor } from '@connectrpc/connect';
import { silentLogger, type Logger } from '../log.js';

const loggerKey = createContextKey<Logger>(silentLogger, { description: 'request logger' });

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** Gives each call a request id and a child logger, echoes the id in the response header, logs failures. */
export function requestContext(base: Logger): Interceptor {
  return (next) => async (req) => {
    const given = req.header.get('x-request-id');
    const requestId = given && REQUEST_ID.test(given) ? given : randomUUID();
    const log = base.child({ requestId, rpc: `${req.service.typeName}/${req.method.name}` });
    req.contextValues.set(loggerKey, log);
    // Read when the call fails, not now: later interceptors add to it (the tenant, once known).
    const current = () => req.contextValues.get(loggerKey);
    try {
      const res = await next(req);
      res.header.set('x-request-id', requestId);
      // A server stream fails while it is being read, after next() has returned.
      return res.stream ? { ...res, message: logFailure(res.message, current) } : res;
    } catch (error) {
      current().warn({ err: error }, 'call failed');
      throw error;
    }
  };
}

async function* logFailure<T>(messages: AsyncIterable<T>, log: () => Logger): AsyncGenerator<T> {
  try {
    yield* messages;
  } catch (error) {
    log().warn({ err: error }, 'call failed');
    throw error;
  }
}

/** Adds fields to every later log line of the call (the tenant, once the caller is known). */
export function bindLogFields(values: ContextValues, fields: Record<string, string>): void {
  values.set(loggerKey, values.get(loggerKey).child(fields));
}

export function loggerOf(ctx: HandlerContext): Logger {
  return ctx.values.get(loggerKey);
}
