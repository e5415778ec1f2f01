/**
 * A transport whose every call is decided by a script: latency and outcome per
 * call, in virtual time. For engine tests that need exact control; the
 * simulated network (src/transport/sim) is the realistic one.
 */
import type { Clock } from '../../src/clock.js';
import {
  TransportError,
  type PreparedStory,
  type SendRequest,
  type SendResult,
  type LateOutcome,
  type Story,
  type Transport,
  type TransportErrorCode,
} from '../../src/transport/port.js';

export interface ScriptedCall {
  readonly index: number;
  readonly sessionId: string;
  readonly recipients: readonly string[];
  readonly messageId: string | undefined;
  readonly startedAt: number;
}

export interface ScriptedOutcome {
  readonly latencyMs: number;
  /**
   * Fail with this code after latencyMs; 'HANG' never answers (until aborted);
   * 'LATE' hangs too, but its recipients were delivered: settle() reports it.
   */
  readonly fail?: TransportErrorCode | 'HANG' | 'LATE';
  readonly retryAfterMs?: number;
  /** Recipients of an otherwise good call that WhatsApp refused one by one. */
  readonly refuse?: readonly string[];
  /** Of latencyMs, one-off setup the transport reports (SendResult.setupMs). */
  readonly setupMs?: number;
}

export type Script = (call: ScriptedCall) => ScriptedOutcome;

export class ScriptedTransport implements Transport {
  readonly calls: ScriptedCall[] = [];
  /** Calls given up on that were delivered all the same, until settle() hands them over. */
  private late: LateOutcome[] = [];
  readonly prepared: Story[] = [];
  /** Deliveries per recipient for each message id. */
  readonly delivered = new Map<string, number>();
  private ids = 0;

  constructor(
    private readonly clock: Clock,
    private readonly script: Script,
  ) {}

  async settle(): Promise<readonly LateOutcome[]> {
    const late = this.late;
    this.late = [];
    return late;
  }

  private deliverLate(request: SendRequest, call: ScriptedCall): void {
    for (const r of request.recipients) this.delivered.set(r, (this.delivered.get(r) ?? 0) + 1);
    this.late.push({
      ...(request.batchIndex !== undefined ? { batchIndex: request.batchIndex } : {}),
      recipients: [...request.recipients],
      delivered: true,
      afterMs: this.clock.now() - call.startedAt,
    });
  }

  async prepare(_sessionId: string, story: Story): Promise<PreparedStory> {
    this.prepared.push(story);
    return { story };
  }

  async send(request: SendRequest, signal: AbortSignal): Promise<SendResult> {
    const call: ScriptedCall = {
      index: this.calls.length,
      sessionId: request.sessionId,
      recipients: [...request.recipients],
      messageId: request.messageId,
      startedAt: this.clock.now(),
    };
    this.calls.push(call);
    const outcome = this.script(call);
    if (outcome.fail === 'HANG' || outcome.fail === 'LATE') {
      const late = outcome.fail === 'LATE';
      await new Promise((_, reject) =>
        signal.addEventListener(
          'abort',
          () => {
            if (late) this.deliverLate(request, call);
            reject(signal.reason);
          },
          { once: true },
        ),
      );
    }
    await this.clock.sleep(outcome.latencyMs, signal);
    if (outcome.fail && outcome.fail !== 'HANG' && outcome.fail !== 'LATE')
      throw new TransportError(outcome.fail, `scripted ${outcome.fail}`, outcome.retryAfterMs);
    const refused = new Set(outcome.refuse ?? []);
    for (const r of request.recipients) if (!refused.has(r)) this.delivered.set(r, (this.delivered.get(r) ?? 0) + 1);
    const messageId = request.messageId ?? `MSG${++this.ids}`;
    const setup = outcome.setupMs ? { setupMs: outcome.setupMs } : {};
    if (refused.size === 0) return { messageId, ...setup };
    const error = new TransportError('SEND_FAILED', 'scripted refusal', undefined, { whatsappCode: 406 });
    return {
      messageId,
      ...setup,
      refused: [...refused].filter((r) => request.recipients.includes(r)).map((recipient) => ({ recipient, error })),
    };
  }
}

export { demoNumbers as numbers } from '../../src/recipients.js';
