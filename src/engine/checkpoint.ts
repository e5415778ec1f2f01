/**
 * What the engine hands a journal so a send can be resumed by another process,
 * and what it takes back to resume one. A journaled send yields steps: each
 * event with a checkpoint (who it delivered or failed, by position in the
 * send's recipient list, and the strategy's decision after it), plus one step
 * without an event when the story is prepared. The engine waits for each step
 * to be taken before it sends anything more, so a journal that writes a step
 * before taking the next never records a recipient delivered that was not.
 */
import type { AnyStrategy, Step } from '../../strategies/sdk.js';
import type { Logger } from '../log.js';
import type { Story } from '../transport/port.js';
import type { FailedRecipient, PlannedEvent, SendEvent } from './events.js';

export interface FailedAt {
  readonly index: number;
  readonly code: FailedRecipient['code'];
  readonly reason: string;
}

/** The strategy's decision, in JSON (see encodeState for numbers JSON cannot hold). */
export interface SavedStep {
  readonly state: unknown;
  readonly size: number;
  readonly reason: string;
  readonly timeoutMs?: number;
}

export interface Checkpoint {
  /** Runs of positions, flat: start, count, start, count... (a batch is mostly one run: see toRuns). */
  readonly delivered?: readonly number[];
  readonly failed?: readonly FailedAt[];
  /** Absent before the strategy decided, or when its state does not survive JSON. */
  readonly strategy?: SavedStep;
  /** Time the send has taken so far, so a resumed send's duration leaves out the downtime. */
  readonly elapsedMs: number;
}

export type JournalStep =
  | { readonly kind: 'event'; readonly event: SendEvent; readonly checkpoint?: Checkpoint }
  /** The first step: the list positions refer to. */
  | { readonly kind: 'planned'; readonly event: PlannedEvent; readonly recipients: readonly string[] }
  /** The story ready to send again without preparing (uploading) again: the transport's encoding. */
  | { readonly kind: 'prepared'; readonly story: Uint8Array };

/** Where a journaled send stopped, folded from its journal (src/sends/resume.ts). */
export interface ResumePoint {
  readonly planned: PlannedEvent;
  readonly recipients: readonly string[];
  readonly strategy: AnyStrategy;
  /** The story as asked, when it was not prepared yet. */
  readonly story?: Story;
  /** The prepared story as the transport saved it (Transport.saveStory). */
  readonly prepared?: Uint8Array;
  /** Set once the anchor went: every later call reuses it. */
  readonly messageId?: string;
  readonly anchorMs?: number;
  /** Final states so far by position; everyone else is still to be sent (again). */
  readonly delivered: ReadonlySet<number>;
  readonly failed: ReadonlyMap<number, FailedAt>;
  readonly step?: SavedStep;
  /** Sizes of the calls after the anchor so far, and whether each worked. */
  readonly calls: readonly { readonly size: number; readonly ok: boolean }[];
  readonly elapsedMs: number;
  readonly signal?: AbortSignal;
  readonly logger?: Logger;
}

/**
 * Positions as runs of consecutive ones, flattened: [5, 3, 9, 1] is 5, 6, 7, 9.
 * Fresh recipients go out in list order, so a batch's 600 positions are
 * usually one run: a checkpoint stays a few bytes whatever the batch size.
 */
export function toRuns(positions: readonly number[]): number[] {
  const runs: number[] = [];
  for (const p of positions) {
    const last = runs.length - 2;
    if (last >= 0 && runs[last]! + runs[last + 1]! === p) runs[last + 1]!++;
    else runs.push(p, 1);
  }
  return runs;
}

export function* fromRuns(runs: readonly number[]): Generator<number> {
  for (let i = 0; i + 1 < runs.length; i += 2) for (let p = runs[i]!; p < runs[i]! + runs[i + 1]!; p++) yield p;
}

const NON_FINITE = '$number';

/**
 * A strategy's state as JSON, keeping what bracket's state holds and JSON
 * drops (Infinity, -Infinity, NaN). Undefined when the state holds something
 * JSON cannot say (a Map, a class instance, a function): such a send resumes
 * with a fresh decision from the strategy's start instead.
 */
export function encodeStep(step: Step<unknown>): SavedStep | undefined {
  try {
    if (step.state === undefined) return { size: step.size, reason: step.reason, state: undefined, ...timeout(step) };
    const state: unknown = JSON.parse(
      JSON.stringify(step.state, function (this: unknown, _key: string, value: unknown) {
        if (typeof value === 'number' && !Number.isFinite(value)) return { [NON_FINITE]: String(value) };
        if (typeof value === 'function' || typeof value === 'symbol') throw new TypeError('not JSON');
        if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
          const proto: unknown = Object.getPrototypeOf(value);
          if (proto !== Object.prototype && proto !== null) throw new TypeError('not plain data');
        }
        return value;
      }),
    );
    return { state, size: step.size, reason: step.reason, ...timeout(step) };
  } catch {
    return undefined;
  }
}

/** The inverse of encodeStep. */
export function decodeStep(saved: SavedStep): Step<unknown> {
  const revive = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(revive);
    if (typeof value !== 'object' || value === null) return value;
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === NON_FINITE) return Number((value as Record<string, string>)[NON_FINITE]);
    return Object.fromEntries(keys.map((k) => [k, revive((value as Record<string, unknown>)[k])]));
  };
  return { state: revive(saved.state), size: saved.size, reason: saved.reason, ...timeout(saved) };
}

function timeout(step: { readonly timeoutMs?: number }): { timeoutMs?: number } {
  return step.timeoutMs !== undefined ? { timeoutMs: step.timeoutMs } : {};
}
