/**
 * A transport whose every call is decided by a script: latency and outcome per
 * call, in virtual time. For engine tests that need exact control; the
 * simulated network (src/sim) is the realistic one.
 */
import type { Clock } from '../../src/clock.js';
import { TransportError, type PreparedStory, type SendRequest, type Story, type Transport, type TransportErrorCode } from '../../src/transport.js';

export interface ScriptedCall {
  readonly index: number;
  readonly sessionId: string;
  readonly recipients: readonly string[];
  readonly messageId: string | undefined;
  readonly startedAt: number;
}

export interface ScriptedOutcome {
  readonly latencyMs: number;
  /** Fail with this code after latencyMs; 'HANG' never answers (until aborted). */
  readonly fail?: TransportErrorCode | 'HANG';
  readonly retryAfterMs?: number;
}

export type Script = (call: ScriptedCall) => ScriptedOutcome;

export class ScriptedTransport implements Transport {
  readonly calls: ScriptedCall[] = [];
  readonly prepared: Story[] = [];
  /** Deliveries per recipient for each message id. */
  readonly delivered = new Map<string, number>();
  private ids = 0;

  constructor(
    private readonly clock: Clock,
    private readonly script: Script,
  ) {}

  async prepare(_sessionId: string, story: Story): Promise<PreparedStory> {
    this.prepared.push(story);
    return { story };
  }

  async send(request: SendRequest, signal: AbortSignal): Promise<{ messageId: string }> {
    const call: ScriptedCall = {
      index: this.calls.length,
      sessionId: request.sessionId,
      recipients: [...request.recipients],
      messageId: request.messageId,
      startedAt: this.clock.now(),
    };
    this.calls.push(call);
    const outcome = this.script(call);
    if (outcome.fail === 'HANG') {
      await new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
    }
    await this.clock.sleep(outcome.latencyMs, signal);
    if (outcome.fail && outcome.fail !== 'HANG') throw new TransportError(outcome.fail, `scripted ${outcome.fail}`, outcome.retryAfterMs);
    for (const r of request.recipients) this.delivered.set(r, (this.delivered.get(r) ?? 0) + 1);
    return { messageId: request.messageId ?? `MSG${++this.ids}` };
  }
}

export { demoNumbers as numbers } from '../../src/recipients.js';
