/**
 * What one send in an experiment achieved, read off its event log when it
 * ends: the record an arm's results are computed from. Its `planned` event
 * says which experiment, arm and unit it counts for (journaled, so a send
 * resumed after a crash still counts). A send that failed before its summary
 * (the anchor could not be sent) counts as not finished.
 */
import type { SendEvent } from '../engine/events.js';
import type { SendOutcome } from './types.js';

export interface EndedSend {
  readonly sendId: string;
  readonly sessionId: string;
  readonly events: readonly SendEvent[];
  /** When it ended, on the registry's clock. */
  readonly at: number;
}

/** Undefined when no experiment counts the send. */
export function outcomeOf(send: EndedSend): SendOutcome | undefined {
  const planned = send.events[0];
  if (planned?.type !== 'planned' || !planned.experiment || !planned.arm || !planned.unit) return undefined;
  const summary = send.events.at(-1);
  // A late event restates an earlier call: it is not a call of its own.
  const calls = send.events.filter((e) => e.type === 'batch' && !e.late);
  const base = {
    experiment: planned.experiment,
    arm: planned.arm,
    unit: planned.unit,
    sendId: send.sendId,
    sessionId: send.sessionId,
    recipients: planned.total,
    calls: calls.length,
    failedCalls: calls.filter((e) => e.type === 'batch' && !e.ok).length,
    at: send.at,
  };
  if (summary?.type !== 'summary') return { ...base, delivered: 0, givenUp: planned.total, durationMs: 0, finished: false };
  return {
    ...base,
    delivered: summary.delivered,
    givenUp: summary.failed.length,
    durationMs: summary.totalDurationMs,
    finished: summary.stoppedBy === undefined,
  };
}
