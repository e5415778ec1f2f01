/**
 * The engine's side of media: a prepare refused for its media is the caller's
 * fault (no retry, INVALID_ARGUMENT's reason), and a timed-out prepare must
 * have stopped before the next attempt starts, so one story is never uploaded
 * twice at once. Virtual time throughout.
 */
import { describe, expect, it } from 'vitest';
import type { Clock } from '../src/clock.js';
import { SendError } from '../src/engine/send-error.js';
import { MediaError } from '../src/media/errors.js';
import type { PreparedStory, SendRequest, Story, Transport } from '../src/transport/port.js';
import { rig, runSend, summaryOf } from './support/harness.js';
import { numbers } from './support/scripted-transport.js';

const image: Story = { kind: 'image', url: 'https://media.example/a.jpg' };

interface Attempt {
  readonly startedAt: number;
  endedAt?: number;
}

/**
 * Prepares as told per attempt: 'ok' at once, 'throw' an error, or 'hang' until
 * aborted and then take `lingerMs` more to stop ('forever' never stops), as an
 * upload being torn down does.
 */
class PrepareScript implements Transport {
  readonly attempts: Attempt[] = [];
  running = 0;
  maxRunning = 0;

  constructor(
    private readonly clock: Clock,
    private readonly plan: readonly ({ kind: 'ok' } | { kind: 'throw'; error: unknown } | { kind: 'hang'; lingerMs: number | 'forever' })[],
  ) {}

  async prepare(_sessionId: string, story: Story, signal: AbortSignal): Promise<PreparedStory> {
    const attempt: Attempt = { startedAt: this.clock.now() };
    const step = this.plan[this.attempts.length] ?? { kind: 'ok' };
    this.attempts.push(attempt);
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    try {
      if (step.kind === 'throw') throw step.error;
      if (step.kind === 'hang') {
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
        if (step.lingerMs === 'forever') await new Promise(() => {});
        // In steps: a real teardown spans many turns of the event loop, not one timer.
        else for (let i = 0; i < 4; i++) await this.clock.sleep(step.lingerMs / 4);
        throw signal.reason;
      }
      return { story };
    } finally {
      this.running--;
      attempt.endedAt = this.clock.now();
    }
  }

  async send(request: SendRequest): Promise<{ messageId: string }> {
    return { messageId: request.messageId ?? 'MSG1' };
  }
}

function setup(plan: ConstructorParameters<typeof PrepareScript>[1]) {
  let transport!: PrepareScript;
  const r = rig({
    transport: (clock) => (transport = new PrepareScript(clock, plan)),
    config: { batchTimeoutMs: 1000, maxAttempts: 3, minRecipientsForSmartSend: 100 },
  });
  return { r, transport: () => transport };
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.fail('expected the send to fail'),
    (error: unknown) => error,
  );
}

describe('SendEngine.prepare and media', () => {
  it("a media refusal is the caller's: not retried, and it surfaces with its reason and field", async () => {
    const refused = new MediaError(
      'BAD_MEDIA_URL',
      'story.image.url host media.example resolves to 10.0.0.1, which is not a public address',
      'story.image.url',
    );
    const { r, transport } = setup([{ kind: 'throw', error: refused }]);
    const error = await failure(runSend(r, { recipients: numbers(5), story: image }));
    expect(error).toBeInstanceOf(SendError);
    expect(error).toMatchObject({ reason: 'BAD_MEDIA_URL', field: 'story.image.url', message: refused.message });
    expect(transport().attempts).toHaveLength(1);
  });

  it('media over the cap is refused the same way', async () => {
    const tooLarge = new MediaError(
      'MEDIA_TOO_LARGE',
      'story.video.data has 9 bytes, more than STORYCAST_MAX_MEDIA_BYTES (8 bytes)',
      'story.video.data',
    );
    const { r, transport } = setup([{ kind: 'throw', error: tooLarge }]);
    await expect(runSend(r, { recipients: numbers(5), story: image })).rejects.toMatchObject({
      reason: 'MEDIA_TOO_LARGE',
      field: 'story.video.data',
    });
    expect(transport().attempts).toHaveLength(1);
  });

  it('other prepare failures are still retried', async () => {
    const { r, transport } = setup([{ kind: 'throw', error: new Error('upload hiccup') }, { kind: 'ok' }]);
    const events = await runSend(r, { recipients: numbers(5), story: image });
    expect(summaryOf(events).delivered).toBe(5);
    expect(transport().attempts).toHaveLength(2);
  });

  it('starts the next attempt only once a timed-out one has stopped: never two at once', async () => {
    const { r, transport } = setup([{ kind: 'hang', lingerMs: 400 }, { kind: 'hang', lingerMs: 700 }, { kind: 'ok' }]);
    const events = await runSend(r, { recipients: numbers(5), story: image });
    expect(summaryOf(events).delivered).toBe(5);
    const attempts = transport().attempts;
    expect(attempts).toHaveLength(3);
    expect(transport().maxRunning).toBe(1);
    expect(attempts[1]!.startedAt).toBeGreaterThanOrEqual(attempts[0]!.endedAt!);
    expect(attempts[2]!.startedAt).toBeGreaterThanOrEqual(attempts[1]!.endedAt!);
  });

  it('gives up, rather than overlap or hang, when a timed-out attempt never stops', async () => {
    const { r, transport } = setup([{ kind: 'hang', lingerMs: 'forever' }]);
    const error = await failure(runSend(r, { recipients: numbers(5), story: image }));
    expect(error).toMatchObject({ reason: 'PREPARE_FAILED', transportCode: 'TIMEOUT' });
    expect((error as Error).message).toMatch(/an attempt that timed out was still running 1000 ms later/);
    expect(transport().attempts).toHaveLength(1);
  });
});
