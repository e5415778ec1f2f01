/**
 * What sends do, from the registry's observer: every transport call after the
 * anchor as it happens, and each send's recipients and duration when it ends.
 * Labels are strategies, outcomes, transport codes and experiment arms: sets
 * the code or the operator bounds, never a session, send or number.
 */
import type { SummaryEvent } from '../engine/events.js';
import type { SendObserver } from '../sends/registry-types.js';
import type { TransportErrorCode } from '../transport/port.js';
import type { Metrics } from './registry.js';

/** Exhaustive by type, so a new transport code is a label at once; anything else is OTHER. */
const TRANSPORT_CODES = new Set(
  Object.keys({
    LOGGED_OUT: true,
    FORBIDDEN: true,
    SESSION_NOT_FOUND: true,
    SESSION_NOT_CONNECTED: true,
    STATUS_REJECTED: true,
    TIMEOUT: true,
    RATE_LIMITED: true,
    SEND_FAILED: true,
    DISCONNECTED: true,
  } satisfies Record<TransportErrorCode, true>),
);

function boundedCode(code: string | undefined): string {
  if (code === undefined || code === '') return '';
  return TRANSPORT_CODES.has(code) ? code : 'OTHER';
}

/** How a send ended, in four values. */
function sendOutcome(summary: SummaryEvent): 'delivered' | 'partial' | 'stopped' | 'cancelled' {
  if (summary.stoppedBy === 'CANCELLED') return 'cancelled';
  if (summary.stoppedBy) return 'stopped';
  return summary.failed.length === 0 ? 'delivered' : 'partial';
}

export function sendMetrics(metrics: Metrics): SendObserver {
  const m = metrics.sends;
  return ({ planned }, event) => {
    // The observer runs in the send's path: a metrics fault must never break a send.
    try {
      const { strategy } = planned;
      if (event.type === 'batch') {
        const outcome = event.late ? 'late' : event.ok ? 'ok' : 'failed';
        m.batches.inc({ strategy, outcome, code: boundedCode(event.error?.code) });
        // A late event is not a call: its size and time (start to a late ack) would skew what calls look like.
        if (!event.late) {
          m.batchSize.observe({ strategy }, event.size);
          m.batchDurationSeconds.observe({ strategy }, event.durationMs / 1000);
        }
        return;
      }
      if (event.type !== 'summary') return;
      // Counted once, where the send ends: a send resumed after a crash is counted whole by the process
      // that finishes it, and the one that crashed (its counters gone with it) never counted it.
      const delivered = event.delivered;
      const failed = event.failed.length;
      const outcome = sendOutcome(event);
      m.recipients.inc({ outcome: 'delivered' }, delivered);
      m.recipients.inc({ outcome: 'failed' }, failed);
      m.sends.inc({ strategy, outcome });
      m.sendDurationSeconds.observe({ strategy }, event.totalDurationMs / 1000);
      if (planned.experiment && planned.arm) {
        const arm = { experiment: planned.experiment, arm: planned.arm };
        m.experimentSends.inc({ ...arm, outcome });
        m.experimentRecipients.inc({ ...arm, outcome: 'delivered' }, delivered);
        m.experimentRecipients.inc({ ...arm, outcome: 'failed' }, failed);
      }
    } catch {
      // Nothing to do: the send goes on, one sample is missing.
    }
  };
}
