/**
 * A span per send (storycast.send) with a child per transport call, the anchor
 * (storycast.anchor) and each batch (storycast.batch), built from the events
 * the registry tells its observer as they happen. A send started by a call is
 * that call's child: the registry plans it inside the call's handler, with
 * the call's context active. A send resumed here from the journal starts a
 * trace of its own, marked storycast.send.resumed: the journal does not keep
 * the context of the span it had before.
 */
import { context, ROOT_CONTEXT, SpanStatusCode, trace, type Attributes, type Context, type Span, type Tracer } from '@opentelemetry/api';
import type { AnchorEvent, BatchEvent, SummaryEvent } from '../engine/events.js';
import { SendMovedError } from '../sends/errors.js';
import type { SendRegistry } from '../sends/registry.js';
import type { ObservedSend, SendObserver } from '../sends/registry-types.js';

interface OpenSend {
  readonly span: Span;
  /** Its children's parent. */
  readonly context: Context;
  /** Epoch ms, as its children's times are given. */
  readonly startedAt: number;
}

export interface SendSpans {
  readonly observe: SendObserver;
  follow(sends: Pick<SendRegistry, 'watch'>): void;
  /** Ends what is still open (a shutdown exports it rather than losing it); later events are ignored. */
  endAll(): void;
}

export function sendSpans(tracer: Tracer): SendSpans {
  const open = new Map<string, OpenSend>();
  let registry: Pick<SendRegistry, 'watch'> | undefined;
  let stopped = false;

  const start = (send: ObservedSend): OpenSend => {
    const startedAt = Date.now();
    const parent = send.resumed ? ROOT_CONTEXT : context.active();
    const span = tracer.startSpan('storycast.send', { startTime: startedAt, attributes: sendAttributes(send) }, parent);
    const opened = { span, context: trace.setSpan(parent, span), startedAt };
    open.set(send.sendId, opened);
    if (registry) void endWithoutSummary(registry, send.sendId);
    return opened;
  };

  /**
   * Waits for the send's end as a watcher sees it: after a summary the span is
   * already closed; without one (it failed, or stopped to go on elsewhere)
   * this is the only word of it.
   */
  const endWithoutSummary = async (sends: Pick<SendRegistry, 'watch'>, sendId: string) => {
    let error: unknown;
    try {
      const it = sends.watch(sendId, 0);
      while (!(await it.next()).done) {
        // Only the end matters here; the observer has the events.
      }
    } catch (thrown) {
      error = thrown;
    }
    const send = open.get(sendId);
    if (!send) return;
    open.delete(sendId);
    if (error instanceof SendMovedError) send.span.setAttribute('storycast.send.suspended', true);
    else if (error !== undefined) {
      const reason = (error as { reason?: unknown }).reason;
      send.span.setAttribute('storycast.send.failure', typeof reason === 'string' ? reason : 'INTERNAL');
      send.span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
    }
    send.span.end();
  };

  /** A transport call that took durationMs and has just ended. */
  const call = (send: OpenSend, name: string, durationMs: number, attributes: Attributes): { span: Span; endedAt: number } => {
    const endedAt = Date.now();
    // durationMs is on the engine's clock: on a sped-up simulated network it can exceed the send's real age.
    const startTime = Math.max(send.startedAt, endedAt - durationMs);
    return { span: tracer.startSpan(name, { startTime, attributes }, send.context), endedAt };
  };

  const anchor = (send: OpenSend, event: AnchorEvent) => {
    const { span, endedAt } = call(send, 'storycast.anchor', event.durationMs, {
      'storycast.anchor.recipients': event.recipients,
      'storycast.anchor.attempts': event.attempts,
      'storycast.anchor.duration_ms': event.durationMs,
    });
    span.end(endedAt);
  };

  const batch = (send: OpenSend, event: BatchEvent) => {
    const { span, endedAt } = call(send, 'storycast.batch', event.durationMs, batchAttributes(event));
    if (!event.ok) span.setStatus({ code: SpanStatusCode.ERROR, message: event.error?.code ?? 'failed' });
    span.end(endedAt);
  };

  const summary = (sendId: string, send: OpenSend, event: SummaryEvent) => {
    open.delete(sendId);
    send.span.setAttributes({
      'storycast.send.delivered': event.delivered,
      'storycast.send.failed': event.failed.length,
      'storycast.send.batches': event.batches,
    });
    if (event.stoppedBy) send.span.setAttribute('storycast.send.stopped_by', event.stoppedBy);
    // A cancelled send did what it was told; one a transport error stopped did not.
    if (event.stoppedBy && event.stoppedBy !== 'CANCELLED') send.span.setStatus({ code: SpanStatusCode.ERROR, message: event.stoppedBy });
    send.span.end();
  };

  return {
    observe: (observed, event) => {
      if (stopped) return;
      const send = open.get(observed.sendId) ?? start(observed);
      if (event.type === 'anchor') anchor(send, event);
      else if (event.type === 'batch') batch(send, event);
      else if (event.type === 'summary') summary(observed.sendId, send, event);
    },
    follow: (sends) => {
      registry = sends;
    },
    endAll: () => {
      stopped = true;
      for (const send of open.values()) {
        send.span.setAttribute('storycast.send.unfinished', true);
        send.span.end();
      }
      open.clear();
    },
  };
}

function sendAttributes({ sendId, planned, resumed }: ObservedSend): Attributes {
  return {
    'storycast.send.id': sendId,
    // Traces are looked up by hand: "what did session X's sends do" is the question an operator starts from.
    'storycast.session.id': planned.sessionId,
    'storycast.strategy': planned.strategy,
    ...(planned.strategyReason ? { 'storycast.strategy.reason': planned.strategyReason } : {}),
    'storycast.send.total': planned.total,
    'storycast.send.mode': planned.mode,
    'storycast.send.first_batch_size': planned.firstBatchSize,
    'storycast.send.used_history': planned.usedHistory,
    'storycast.send.reason': planned.reason,
    'storycast.send.resumed': resumed,
    ...(planned.experiment ? { 'storycast.experiment': planned.experiment } : {}),
    ...(planned.arm ? { 'storycast.experiment.arm': planned.arm } : {}),
  };
}

function batchAttributes(event: BatchEvent): Attributes {
  return {
    'storycast.batch.index': event.index,
    'storycast.batch.size': event.size,
    'storycast.batch.duration_ms': event.durationMs,
    'storycast.batch.outcome': event.late ? 'late' : event.ok ? 'ok' : 'failed',
    'storycast.batch.reason': event.reason,
    'storycast.batch.next_size': event.nextSize,
    'storycast.batch.remaining': event.remaining,
    ...(event.error ? { 'storycast.batch.error_code': event.error.code, 'storycast.batch.retryable': event.error.retryable } : {}),
    ...(event.error?.whatsappCode === undefined ? {} : { 'storycast.batch.whatsapp_code': event.error.whatsappCode }),
    ...(event.refused ? { 'storycast.batch.refused': event.refused } : {}),
    ...(event.setupMs ? { 'storycast.batch.setup_ms': event.setupMs } : {}),
  };
}
