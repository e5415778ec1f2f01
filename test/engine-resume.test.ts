/**
 * A journaled send stopped at any step and resumed by a new engine on a new
 * network, as after kill -9: the same message id and strategy state, nobody
 * lost, nobody the journal shows settled sent again, the batch in flight at
 * the crash sent again (at least once).
 */
import { describe, expect, it } from 'vitest';
import adaptive from '../strategies/adaptive.js';
import bracket from '../strategies/bracket.js';
import type { AnyStrategy } from '../strategies/sdk.js';
import { planSize } from '../src/engine/engine.js';
import { decodeStep, encodeStep, type Checkpoint, type JournalStep } from '../src/engine/checkpoint.js';
import type { SendEvent, SummaryEvent } from '../src/engine/events.js';
import { foldJournal, preparedStory, storyAsAsked } from '../src/sends/resume.js';
import type { JournalEntry, SendJournal } from '../src/sends/store.js';
import { SimulatedNetwork } from '../src/transport/sim/network.js';
import type { SimProfileInput } from '../src/transport/sim/profile.js';
import type { Story } from '../src/transport/port.js';
import { rig } from './support/harness.js';
import { numbers } from './support/scripted-transport.js';

const profile: SimProfileInput = { name: 'flaky', baseMs: 300, perRecipientMs: 1, capacity: 400, failure: 'fast', failureRate: 0.1 };
const story: Story = { kind: 'image', data: new Uint8Array([0, 1, 2, 255]), caption: 'c' };

function process(seed: number) {
  let network!: SimulatedNetwork;
  const r = rig({ transport: (clock) => (network = new SimulatedNetwork({ profile, clock, seed, recordRecipients: true })) });
  return { ...r, network };
}

/** What a store would hold after the steps it was given: the journal a new process reads. */
function journalOf(steps: readonly JournalStep[], asked: Story): SendJournal {
  let recipients: readonly string[] = [];
  let storyBytes = storyAsAsked(asked);
  const entries: JournalEntry[] = [];
  for (const step of steps) {
    if (step.kind === 'planned') {
      recipients = step.recipients;
      entries.push({ event: step.event });
    } else if (step.kind === 'prepared') storyBytes = preparedStory(step.story);
    else entries.push(step.checkpoint ? { event: step.event, checkpoint: step.checkpoint } : { event: step.event });
  }
  const record = { sendId: 'x', requestId: '', fingerprint: '', sessionId: 's', strategy: 'adaptive', createdAt: 0, updatedAt: 0 };
  return {
    record: { ...record, state: 'RUNNING', events: entries.length, progress: { total: 0, delivered: 0, failed: 0, remaining: 0 } },
    recipients,
    story: storyBytes,
    entries,
  };
}

/** Runs a journaled send on `a`, "crashes" it after `keep` steps with the next one in flight, and resumes it on `b`. */
async function crashAndResume(keep: number, strategy: AnyStrategy = adaptive, recipients = numbers(3000)) {
  const a = process(7);
  const taken: JournalStep[] = [];
  const crash = new AbortController();
  await a.clock.run(async () => {
    const steps = a.engine.journaled({ sessionId: 's', story, recipients, strategy, signal: crash.signal })[Symbol.asyncIterator]();
    for (let i = 0; i < keep; i++) {
      const step = await steps.next();
      if (step.done) return;
      taken.push(step.value);
    }
    // The next call goes out; its outcome never reaches the journal.
    const callsBefore = a.network.oracle.calls.length;
    let settled = false;
    const inFlight = steps.next().finally(() => (settled = true));
    while (!settled && a.network.oracle.calls.length === callsBefore) await a.clock.sleep(5);
    crash.abort(new Error('kill -9'));
    await inFlight.catch(() => undefined);
  });
  const journal = journalOf(taken, story);
  const b = process(8);
  const events: SendEvent[] = [];
  await b.clock.run(async () => {
    for await (const step of b.engine.resume({ ...foldJournal(journal), strategy })) if (step.kind !== 'prepared') events.push(step.event);
  });
  return { a, b, taken, journal, events, recipients };
}

function deliveredOn(network: SimulatedNetwork, messageId: string): Map<string, number> {
  return new Map(network.oracle.deliveries(messageId));
}

describe('resuming a journaled send', () => {
  it('journaled() numbers every settled recipient once, and its checkpoints add up to the summary', async () => {
    const a = process(3);
    const steps: JournalStep[] = [];
    await a.clock.run(async () => {
      for await (const step of a.engine.journaled({ sessionId: 's', story, recipients: numbers(2000), strategy: adaptive }))
        steps.push(step);
    });
    expect(steps[0]!.kind).toBe('planned');
    expect(steps.filter((s) => s.kind === 'prepared')).toHaveLength(1);
    const fold = foldJournal(journalOf(steps, story));
    const summary = steps.at(-1)!.kind === 'event' ? (steps.at(-1) as { event: SummaryEvent }).event : undefined;
    expect(summary?.type).toBe('summary');
    expect(fold.delivered.size).toBe(summary!.delivered);
    expect(fold.failed.size).toBe(summary!.failed.length);
    expect(fold.delivered.size + fold.failed.size).toBe(2000);
    for (const f of summary!.failed) expect(fold.failed.get(fold.recipients.indexOf(f.recipient))?.code).toBe(f.code);
  });

  for (const keep of [1, 2, 3, 6, 12]) {
    it(`after a crash with ${keep} step(s) journaled: same message id, every recipient settled, in-flight batch sent again`, async () => {
      const { a, b, taken, journal, events, recipients } = await crashAndResume(keep);
      const fold = foldJournal(journal);
      const summary = events.at(-1) as SummaryEvent;
      expect(summary.type).toBe('summary');
      expect(summary.delivered + summary.failed.length).toBe(recipients.length);
      expect(events.some((e) => e.type === 'planned')).toBe(false);
      const anchorBefore = taken.find((s) => s.kind === 'event' && s.event.type === 'anchor');
      const messageId = summary.messageId;
      if (anchorBefore && anchorBefore.kind === 'event' && anchorBefore.event.type === 'anchor') {
        expect(messageId).toBe(anchorBefore.event.messageId);
        expect(events.some((e) => e.type === 'anchor')).toBe(false);
      }
      // Nobody the journal shows delivered goes out again; everyone delivered is delivered somewhere.
      const onA = deliveredOn(a.network, messageId);
      const onB = deliveredOn(b.network, messageId);
      for (const i of fold.delivered) expect(onB.has(fold.recipients[i]!)).toBe(false);
      const failed = new Set(summary.failed.map((f) => f.recipient));
      for (const r of fold.recipients) if (!failed.has(r)) expect((onA.get(r) ?? 0) + (onB.get(r) ?? 0)).toBeGreaterThanOrEqual(1);
      // The recipients of the call in flight at the crash went out again on the new network.
      const journaledCalls = fold.calls.length + (fold.messageId === undefined ? 0 : 1);
      const inFlight = a.network.oracle.calls.slice(journaledCalls);
      if (keep > 1) expect(inFlight).toHaveLength(1);
      for (const call of inFlight) {
        if (call.anchor) continue; // the sim gives a second anchor a new id; Baileys reuses the prepared message's
        for (const r of call.recipients ?? []) if (!failed.has(r)) expect(onB.get(r)).toBe(1);
      }
      // Batch indexes go on from the journal's.
      const firstBatch = events.find((e) => e.type === 'batch');
      if (firstBatch?.type === 'batch') expect(firstBatch.index).toBe(fold.calls.length);
      // The story was not prepared again once it had been.
      const prepared = taken.some((s) => s.kind === 'prepared');
      expect(b.network.oracle.prepareCount('s')).toBe(prepared ? 0 : 1);
    });
  }

  it("goes on with the strategy's journaled decision rather than starting over", async () => {
    const { taken, events, journal, b } = await crashAndResume(8, bracket, numbers(5000));
    const lastJournaled = [...taken].reverse().find((s) => s.kind === 'event' && s.checkpoint?.strategy);
    const decided = (lastJournaled as { checkpoint: Checkpoint }).checkpoint.strategy!;
    const fold = foldJournal(journal);
    const pending = fold.recipients.length - fold.delivered.size - fold.failed.size;
    const firstAfter = events.find((e) => e.type === 'batch' && !e.late);
    expect(firstAfter?.type === 'batch' && firstAfter.size).toBe(planSize(decided.size, pending, b.config.maxBatchSize));
  });

  it("keeps a strategy state's Infinity and NaN through JSON, and gives up on state JSON cannot hold", () => {
    const step = {
      state: { bad: Infinity, low: -Infinity, odd: Number.NaN, list: [1, { x: Infinity }] },
      size: 40,
      reason: 'r',
      timeoutMs: 900,
    };
    const saved = encodeStep(step)!;
    expect(JSON.parse(JSON.stringify(saved))).toEqual(saved);
    expect(decodeStep(JSON.parse(JSON.stringify(saved)))).toEqual(step);
    expect(encodeStep({ state: new Map([[1, 2]]), size: 1, reason: 'r' })).toBeUndefined();
    expect(encodeStep({ state: { f: () => 1 }, size: 1, reason: 'r' })).toBeUndefined();
    expect(decodeStep(encodeStep({ state: undefined, size: 5, reason: 'r' })!)).toEqual({ state: undefined, size: 5, reason: 'r' });
  });

  it('a journal without its planned event or story cannot be resumed, and says why', () => {
    const j = journalOf([], story);
    expect(() => foldJournal(j)).toThrow(/planned/);
  });
});
