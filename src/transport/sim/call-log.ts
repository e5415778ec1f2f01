/**
 * A file of the simulated network's send calls, shared by every process that
 * appends to it (STORYCAST_SIM_CALL_LOG): the evidence a multi-replica test
 * judges "one sender per session at a time" by. Each call writes a line when it
 * starts and one when it ends, stamped with the real wall clock, as replicas
 * with their own scaled simulation clocks have no other time in common.
 *
 * Each line is one write(2) on a descriptor opened with O_APPEND: lines from
 * several processes land whole and in order, and a SIGKILLed process leaves
 * every line it wrote, with nothing held back in a buffer.
 */
import { openSync, writeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';

interface CallLogLine {
  readonly pid: number;
  readonly sessionId: string;
  /** null at the start of a call that creates the status (the network picks its id). */
  readonly messageId: string | null;
  /** Counts this process's calls, whichever network made them: with pid, names a call. */
  readonly call: number;
  readonly phase: 'start' | 'end';
  /** Date.now(): the simulation's scaled clock differs between processes. */
  readonly at: number;
  readonly recipients: number;
  /** 'ok', 'aborted' or the TransportError code; on end lines only. */
  readonly outcome?: string;
}

interface LoggedCall {
  end(outcome: string, messageId: string | undefined): void;
}

export interface CallLog {
  start(call: { sessionId: string; messageId: string | undefined; recipients: number }): LoggedCall;
}

// Never closed: a call aborted by the shutdown ends after its network closed, and its
// end line must still land; the kernel closes the descriptor when the process exits.
const descriptors = new Map<string, number>();
let calls = 0;

/** Throws if the file cannot be opened, so a wrong path stops start-up rather than a test's evidence. */
export function openCallLog(path: string): CallLog {
  const key = resolve(path);
  let fd = descriptors.get(key);
  if (fd === undefined) {
    fd = openSync(key, 'a');
    descriptors.set(key, fd);
  }
  const write = (line: CallLogLine) => writeSync(fd, `${JSON.stringify(line)}\n`);
  return {
    start({ sessionId, messageId, recipients }) {
      const call = ++calls;
      const pid = process.pid;
      write({ pid, sessionId, messageId: messageId ?? null, call, phase: 'start', at: Date.now(), recipients });
      return {
        end: (outcome, finalId) =>
          write({ pid, sessionId, messageId: finalId ?? messageId ?? null, call, phase: 'end', at: Date.now(), recipients, outcome }),
      };
    },
  };
}

export interface CallInterval {
  readonly pid: number;
  readonly call: number;
  readonly sessionId: string;
  readonly messageId: string | null;
  readonly recipients: number;
  readonly start: number;
  /** Undefined when the process never wrote the end: killed, or the call still runs. */
  readonly end: number | undefined;
  readonly outcome: string | undefined;
}

/** The calls of each session, in the order they started in the file. Malformed lines throw: they mean the log cannot be trusted. */
export function parseCallLog(text: string): Map<string, CallInterval[]> {
  const calls = new Map<string, { -readonly [K in keyof CallInterval]: CallInterval[K] }>();
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  lines.forEach((raw, index) => {
    const line = parseLine(raw, index + 1);
    const key = `${line.pid}:${line.call}`;
    const known = calls.get(key);
    if (line.phase === 'start') {
      if (known) throw new Error(`call log line ${index + 1}: call ${key} started twice`);
      const { pid, call, sessionId, messageId, recipients, at } = line;
      calls.set(key, { pid, call, sessionId, messageId, recipients, start: at, end: undefined, outcome: undefined });
      return;
    }
    if (!known || known.end !== undefined) throw new Error(`call log line ${index + 1}: call ${key} ended without a start`);
    known.end = line.at;
    known.outcome = line.outcome;
    known.messageId = line.messageId;
  });
  return bySession(calls.values());
}

export async function readCallLog(path: string): Promise<Map<string, CallInterval[]>> {
  return parseCallLog(await readFile(path, 'utf8'));
}

function parseLine(raw: string, number: number): CallLogLine {
  let line: Partial<CallLogLine>;
  try {
    line = JSON.parse(raw) as Partial<CallLogLine>;
  } catch {
    throw new Error(`call log line ${number} is not JSON: ${raw}`);
  }
  const valid =
    Number.isInteger(line.pid) &&
    Number.isInteger(line.call) &&
    typeof line.sessionId === 'string' &&
    (line.messageId === null || typeof line.messageId === 'string') &&
    (line.phase === 'start' || line.phase === 'end') &&
    Number.isFinite(line.at) &&
    Number.isInteger(line.recipients) &&
    (line.phase === 'start' ? line.outcome === undefined : typeof line.outcome === 'string');
  if (!valid) throw new Error(`call log line ${number} is not a call: ${raw}`);
  return line as CallLogLine;
}

export interface CallOverlap {
  readonly sessionId: string;
  /** The call that started first. */
  readonly first: CallInterval;
  readonly second: CallInterval;
}

/**
 * Pairs of calls for one session, from two processes, that were in flight at
 * once. A call left unfinished ends when its process was killed (killedAt, ms
 * on the same wall clock), or never if it was not: a process that was not
 * killed and wrote no end may still be sending. Calls that only touch (one
 * ends in the ms the other starts) do not count: the clock cannot order them.
 */
export function overlappingCalls(calls: Iterable<CallInterval>, killedAt: ReadonlyMap<number, number> = new Map()): CallOverlap[] {
  const endOf = (call: CallInterval) => call.end ?? killedAt.get(call.pid) ?? Number.POSITIVE_INFINITY;
  const overlaps: CallOverlap[] = [];
  for (const [sessionId, list] of bySession(calls)) {
    const byStart = [...list].sort((a, b) => a.start - b.start);
    let running: CallInterval[] = [];
    for (const call of byStart) {
      running = running.filter((other) => endOf(other) > call.start);
      for (const other of running) {
        if (other.pid !== call.pid) overlaps.push({ sessionId, first: other, second: call });
      }
      running.push(call);
    }
  }
  return overlaps;
}

function bySession(calls: Iterable<CallInterval>): Map<string, CallInterval[]> {
  const sessions = new Map<string, CallInterval[]>();
  for (const call of calls) {
    const list = sessions.get(call.sessionId);
    if (list) list.push(call);
    else sessions.set(call.sessionId, [call]);
  }
  return sessions;
}
