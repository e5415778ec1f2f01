/**
 * How long each transport call's event took to reach its caller: the call
 * log's end line (written by the simulated network as the call returns, wall
 * clock) to the client's arrival stamp (wall clock too, same machine; both
 * whole ms, so each delay is within 1 ms). Every benchmark send has a session
 * of its own and a session's calls run one after another, so the session's
 * k-th call in the log made its k-th call event (the anchor, then each
 * batch): matched by session and order, and checked by size.
 */
import type { CallInterval } from '../../src/transport/sim/call-log.js';
import type { StreamOutcome } from './load-client.js';

export interface Delays {
  /** Call end to event arrival, ms, one per matched call. */
  readonly ms: number[];
  /** Sends whose events and calls did not pair up (counts or sizes differ): their delays are left out. */
  readonly unmatched: string[];
}

export function callToClientDelays(outcomes: readonly StreamOutcome[], calls: ReadonlyMap<string, readonly CallInterval[]>): Delays {
  const ms: number[] = [];
  const unmatched: string[] = [];
  for (const outcome of outcomes) {
    const made = (calls.get(outcome.sessionId) ?? []).filter((c) => c.end !== undefined);
    const heard = outcome.arrivals.filter((a) => a.calls === 1);
    const paired = made.length === heard.length && made.every((c, i) => c.recipients === heard[i]!.size);
    if (!paired) {
      unmatched.push(`${outcome.sessionId}: ${made.length} calls in the log, ${heard.length} call events`);
      continue;
    }
    made.forEach((c, i) => {
      ms.push(heard[i]!.at - c.end!);
    });
  }
  return { ms, unmatched };
}

/** The q-quantile (0..1) by nearest rank; NaN for no samples. */
export function quantile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
