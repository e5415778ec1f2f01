/**
 * A journal read back as where its send stopped: the fold of its checkpoints
 * into who is settled, what the strategy last decided and which calls went,
 * for SendEngine.resume. The story is kept in the journal in one of two
 * forms, told apart by a leading byte: as asked (until it is prepared) or as
 * the transport saved it once prepared.
 */
import { fromRuns, type Checkpoint, type FailedAt, type ResumePoint, type SavedStep } from '../engine/checkpoint.js';
import type { PlannedEvent } from '../engine/events.js';
import type { Story } from '../transport/port.js';
import { decodeStory, encodeStory } from '../transport/story-codec.js';
import type { SendJournal } from './store.js';

const AS_ASKED = 0;
const PREPARED = 1;

export function storyAsAsked(story: Story): Uint8Array {
  return tagged(AS_ASKED, encodeStory(story));
}

export function preparedStory(saved: Uint8Array): Uint8Array {
  return tagged(PREPARED, saved);
}

function tagged(tag: number, bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length + 1);
  out[0] = tag;
  out.set(bytes, 1);
  return out;
}

export type JournalFold = Omit<ResumePoint, 'strategy' | 'signal' | 'logger'>;

/** Throws when the journal cannot be resumed from (no planned event, no story): the caller fails the send with it. */
export function foldJournal(journal: SendJournal): JournalFold {
  const first = journal.entries[0]?.event;
  if (first?.type !== 'planned') throw new Error('the journal has no planned event');
  const planned: PlannedEvent = first;
  const delivered = new Set<number>();
  const failed = new Map<number, FailedAt>();
  const calls: { size: number; ok: boolean }[] = [];
  let messageId: string | undefined;
  let anchorMs: number | undefined;
  let step: SavedStep | undefined;
  let elapsedMs = 0;
  for (const { event, checkpoint } of journal.entries) {
    if (event.type === 'anchor') {
      messageId = event.messageId;
      anchorMs = event.durationMs;
    } else if (event.type === 'batch' && !event.late) calls.push({ size: event.size, ok: event.ok });
    const saved = checkpoint as Checkpoint | undefined;
    if (!saved) continue;
    for (const f of saved.failed ?? []) {
      delivered.delete(f.index);
      failed.set(f.index, f);
    }
    // Delivered after failing: a late ack for a call given up on.
    for (const i of fromRuns(saved.delivered ?? [])) {
      failed.delete(i);
      delivered.add(i);
    }
    if (saved.strategy) step = saved.strategy;
    elapsedMs = saved.elapsedMs;
  }
  const story = journal.story;
  if (!story || story.length === 0) throw new Error('the journal holds no story');
  const form = story[0] === PREPARED ? { prepared: story.subarray(1) } : { story: decodeStory(story.subarray(1)) };
  return {
    planned,
    recipients: journal.recipients,
    ...form,
    ...(messageId !== undefined ? { messageId } : {}),
    ...(anchorMs !== undefined ? { anchorMs } : {}),
    delivered,
    failed,
    ...(step ? { step } : {}),
    calls,
    elapsedMs,
  };
}
