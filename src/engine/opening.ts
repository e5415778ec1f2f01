/**
 * The two calls before the batches: preparing the story (media uploaded once
 * per send) and the anchor, the first call, which creates the status and its
 * message id. Both are retried; failing either fails the send before anyone
 * but the anchor's recipients could have been reached.
 */
import type { Clock } from '../clock.js';
import type { SmartSendConfig } from '../config.js';
import type { SendRecorder } from '../memory/types.js';
import type { PreparedStory, RecipientRefusal, Story, Transport } from '../transport/port.js';
import { callWithTimeout } from './call.js';
import type { AnchorEvent } from './events.js';
import type { PaceSlot, SessionPacer } from './pacer.js';
import { retry } from './retry.js';
import { SendError } from './send-error.js';

export interface OpeningDeps {
  readonly transport: Transport;
  readonly clock: Clock;
  readonly config: SmartSendConfig;
  readonly pacer: SessionPacer;
}

/**
 * Prepares the story once per send (media uploads happen here, never per batch).
 * callWithTimeout stops waiting for a timed-out attempt, but its upload may
 * still be winding down: the next attempt starts only once it has settled, so
 * two uploads of one story never run at once. An attempt that has not settled
 * a whole timeout after being told to stop ends the retries instead.
 */
export async function prepareStory(
  deps: OpeningDeps,
  sessionId: string,
  story: Story,
  signal: AbortSignal,
): Promise<PreparedStory | undefined> {
  const { clock, config, transport } = deps;
  let settled: Promise<unknown> = Promise.resolve();
  const outcome = await retry<PreparedStory>({
    maxAttempts: config.maxAttempts,
    signal,
    attempt: async () => {
      settled = Promise.resolve();
      const result = await callWithTimeout(clock, config.batchTimeoutMs, (s) => {
        const work = transport.prepare(sessionId, story, s);
        settled = work.catch(() => undefined);
        return work;
      });
      // The request itself is at fault (its media URL or size): another attempt would fail the same way.
      if (!result.ok && result.error.cause instanceof SendError) throw result.error.cause;
      return result;
    },
    beforeRetry: async (last) => {
      const stop = new AbortController();
      const grace = clock.sleep(config.batchTimeoutMs, AbortSignal.any([signal, stop.signal])).then(
        () => 'stuck' as const,
        () => 'cancelled' as const,
      );
      const waited = await Promise.race([settled.then(() => 'settled' as const), grace]);
      stop.abort();
      if (waited === 'stuck') {
        throw new SendError(
          'PREPARE_FAILED',
          `the story could not be prepared: an attempt that timed out was still running ${config.batchTimeoutMs} ms later`,
          undefined,
          last.code,
          { cause: last },
        );
      }
      return waited === 'settled';
    },
  });
  if (!outcome) return undefined;
  if (outcome.ok) return outcome.value;
  throw SendError.fromTransport('PREPARE_FAILED', 'the story could not be prepared', outcome.error);
}

/** The first call: creates the status and its message id. Retried; failing it fails the send. */
export async function sendAnchor(
  deps: OpeningDeps,
  sessionId: string,
  story: PreparedStory,
  recipients: readonly string[],
  recorder: SendRecorder,
  smart: boolean,
  signal: AbortSignal,
): Promise<{ event: AnchorEvent; refused: readonly RecipientRefusal[] } | undefined> {
  const { clock, config, pacer, transport } = deps;
  const outcome = await retry<{ event: AnchorEvent; refused: readonly RecipientRefusal[] }>({
    maxAttempts: config.maxAttempts,
    signal,
    attempt: async (n) => {
      let slot: PaceSlot;
      try {
        slot = await pacer.acquire(sessionId, signal);
      } catch {
        return undefined;
      }
      const result = await callWithTimeout(clock, config.batchTimeoutMs, (s) => transport.send({ sessionId, story, recipients }, s));
      // A refused anchor teaches the rate like any call; the next attempt waits for the server's hint.
      pacer.observe(slot, result);
      // A lone anchor proves nothing about batch size; the single-mode call is a real batch.
      if (!smart)
        recorder.record({
          size: recipients.length,
          durationMs: result.durationMs,
          ok: result.ok,
          sizeRelated: !result.ok && result.error.code !== 'RATE_LIMITED',
          callsPerSecond: pacer.learned(sessionId),
        });
      if (!result.ok) return result;
      const refused = result.value.refused ?? [];
      // Refused to the last recipient, the call reached nobody: another attempt, as for a failure.
      if (refused.length >= recipients.length) return { ok: false, error: refused[0]!.error };
      const event: AnchorEvent = {
        type: 'anchor',
        messageId: result.value.messageId,
        recipients: recipients.length - refused.length,
        durationMs: result.durationMs,
        attempts: n,
      };
      return { ok: true, value: { event, refused } };
    },
  });
  if (!outcome) return undefined;
  if (outcome.ok) return outcome.value;
  await recorder.flush();
  throw SendError.fromTransport('ANCHOR_FAILED', 'the anchor could not be sent', outcome.error);
}
