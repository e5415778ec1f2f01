/**
 * Deadlines too far away for a Node timer. A timer holds at most 2^31-1 ms
 * (24.8 days); connect turns a longer grpc-timeout (legal: up to 99,999,999
 * hours) or connect-timeout-ms into a timer that fires after 1 ms, so a call
 * with a deadline in the year 13000 would end at once. Such a deadline is no
 * deadline: the header is dropped before connect reads it.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { MAX_TIMER_MS } from './limits.js';

const GRPC_UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000_001 };

export function dropEndlessDeadlines(headers: IncomingHttpHeaders): void {
  const grpc = headers['grpc-timeout'];
  const parsed = typeof grpc === 'string' ? /^(\d{1,8})([HMSmun])$/.exec(grpc) : null;
  if (parsed && Number(parsed[1]) * GRPC_UNIT_MS[parsed[2]!]! > MAX_TIMER_MS) delete headers['grpc-timeout'];
  const connect = headers['connect-timeout-ms'];
  if (typeof connect === 'string' && /^\d{1,10}$/.test(connect) && Number(connect) > MAX_TIMER_MS) delete headers['connect-timeout-ms'];
}
