/**
 * Driving generated requests at the server: each case is encoded, sent on
 * its protocol, and its answer judged. Answers also feed the pools that
 * later requests draw ids from (sends planned, statuses posted).
 */
import { type DescMessage, fromBinary, fromJsonString, type Message, toBinary, toJsonString } from '@bufbuild/protobuf';
import fc from 'fast-check';
import type { SendStoryRequest } from '../../src/gen/storycast/v1/story_service_pb.js';
import { caseArbitrary, extremeCases, type FuzzCase, type KnownPick, messageOf, type Protocol } from './cases.js';
import { describeInput } from './describe.js';
import { exchange, type H2Pool } from './h2-client.js';
import { frameRequest, INTERNAL, type Outcome, outcomeOf, requestHeaders } from './protocols.js';
import type { Rpc } from './rpcs.js';

export type FindingKind = 'INTERNAL' | 'UNKNOWN' | 'no status' | 'bad response';

export interface Finding {
  readonly rpc: string;
  readonly kind: FindingKind;
  readonly input: string;
  readonly answer: string;
}

export interface RpcReport {
  readonly rpc: string;
  sent: number;
  /** Status code -> answers with it. */
  readonly codes: Record<number, number>;
  readonly protocols: Record<Protocol, number>;
  /** INTERNAL for a request that decodes: a handler bug. */
  internal: number;
  /** INTERNAL for bytes that do not decode as the request type: connect-es's "parse binary" answer. */
  internalUnparseable: number;
  /** UNKNOWN: an error no handler turned into a status on purpose. */
  unknown: number;
  /** No proper status: a reset, a missing grpc-status, an unknown code, a half-sent envelope. */
  noStatus: number;
  /** OK with a response that does not decode, or a unary OK without exactly one message. */
  badResponses: number;
}

/** What earlier answers returned, for requests that refer to real sends and statuses. */
export class Pools {
  private readonly sendIds: string[] = [];
  private readonly scheduleIds: string[] = [];
  private readonly posted: { sessionId: string; messageId: string }[] = [];

  readonly pick: KnownPick = (ref) => {
    if (ref.pool === 'sendId') return this.sendIds[ref.index % this.sendIds.length] ?? 'no-send-yet';
    if (ref.pool === 'scheduleId') return this.scheduleIds[ref.index % this.scheduleIds.length] ?? 'no-schedule-yet';
    const post = this.posted[ref.index % this.posted.length];
    if (!post) return ref.pool === 'postedSession' ? 'fuzz-a' : 'no-status-yet';
    return ref.pool === 'postedSession' ? post.sessionId : post.messageId;
  };

  learnSend(sessionId: string, events: readonly { event: { case?: string; value?: unknown } }[]): void {
    for (const { event } of events) {
      if (event.case === 'planned') keep(this.sendIds, (event.value as { sendId: string }).sendId);
      if (event.case === 'scheduled') {
        const { schedule } = event.value as { schedule?: { scheduleId: string; sendId: string } };
        if (schedule) keep(this.scheduleIds, schedule.scheduleId);
        // A one-off's send id answers GetSend, WatchSend and CancelSend before it starts.
        if (schedule?.sendId) keep(this.sendIds, schedule.sendId);
      }
      if (event.case === 'summary') {
        const { messageId } = event.value as { messageId: string };
        if (messageId) keep(this.posted, { sessionId, messageId });
      }
    }
  }
}

const POOL_SIZE = 200;

function keep<T>(pool: T[], value: T): void {
  pool.push(value);
  if (pool.length > POOL_SIZE) pool.shift();
}

export function emptyReport(rpc: Rpc): RpcReport {
  return {
    rpc: rpc.name,
    sent: 0,
    codes: {},
    protocols: { grpc: 0, 'grpc-web': 0, connect: 0, 'connect-json': 0 },
    internal: 0,
    internalUnparseable: 0,
    unknown: 0,
    noStatus: 0,
    badResponses: 0,
  };
}

/** The cases for one RPC: its extremes (unless told otherwise) first, then generated ones, sampled 100 at a time so huge values do not pile up. */
export function* casesFor(rpc: Rpc, count: number, seed: number, extremes = extremeCases(rpc).slice(0, count)): Generator<FuzzCase> {
  yield* extremes;
  const arb = caseArbitrary(rpc);
  let remaining = count - extremes.length;
  for (let chunk = 0; remaining > 0; chunk++) {
    const batch = fc.sample(arb, { seed: (seed + chunk * 7919) | 0, numRuns: Math.min(100, remaining) });
    remaining -= batch.length;
    yield* batch;
  }
}

/** A stable seed per RPC, so one RPC's cases do not change when another is added. */
export function seedFor(rpc: Rpc, seed: number): number {
  let h = 2166136261;
  for (const c of rpc.name) h = Math.imul(h ^ c.charCodeAt(0), 16777619);
  return (seed ^ h) | 0;
}

function decodes(schema: DescMessage, protocol: Protocol, bytes: Uint8Array): boolean {
  try {
    if (protocol === 'connect-json') fromJsonString(schema, Buffer.from(bytes).toString('utf8'));
    else fromBinary(schema, bytes);
    return true;
  } catch {
    return false;
  }
}

/** Every response message decoded, or why not. */
function responses(rpc: Rpc, protocol: Protocol, outcome: Extract<Outcome, { kind: 'status' }>): Message[] | string {
  if (!rpc.streaming && outcome.code === 0 && outcome.messages.length !== 1) return `unary OK with ${outcome.messages.length} messages`;
  const out: Message[] = [];
  for (const bytes of outcome.messages) {
    try {
      out.push(
        protocol === 'connect-json' ? fromJsonString(rpc.output, Buffer.from(bytes).toString('utf8')) : fromBinary(rpc.output, bytes),
      );
    } catch (error) {
      return `a response message that does not decode: ${(error as Error).message}`;
    }
  }
  return out;
}

export interface Sender {
  readonly pool: H2Pool;
  readonly pools: Pools;
  readonly timeoutMs: number;
  /** Called for each answer that is a finding; returns whether the example is kept. */
  readonly found: (finding: Finding) => void;
}

const HEAVY_BYTES = 1024 * 1024;

/** One at a time for bodies over 1 MiB: a few 16 MiB requests at once are a memory test of the client, not the server. */
class Gate {
  private tail: Promise<void> = Promise.resolve();
  run<T>(work: () => Promise<T>): Promise<T> {
    const result = this.tail.then(work);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}

const heavy = new Gate();

export async function sendCase(sender: Sender, rpc: Rpc, fuzz: FuzzCase, report: RpcReport): Promise<void> {
  let protocol = fuzz.protocol;
  let message: Message | undefined;
  let payload: Uint8Array;
  const { body } = fuzz;
  if (body.kind === 'message') {
    message = messageOf(rpc.input, body.draft, sender.pools.pick);
    try {
      payload = protocol === 'connect-json' ? Buffer.from(toJsonString(rpc.input, message)) : toBinary(rpc.input, message);
    } catch {
      // Some messages have no JSON form (a Timestamp past year 9999): such a case goes out as binary Connect.
      protocol = 'connect';
      payload = toBinary(rpc.input, message);
    }
  } else {
    payload = body.kind === 'raw' ? body.bytes : Buffer.from(body.text);
  }
  const send = () =>
    exchange(sender.pool.session(), requestHeaders(protocol, rpc), frameRequest(protocol, rpc, payload), { timeoutMs: sender.timeoutMs });
  const answer = payload.length > HEAVY_BYTES ? await heavy.run(send) : await send();
  const outcome = outcomeOf(protocol, rpc, answer);
  report.sent++;
  report.protocols[protocol]++;
  const finding = (kind: FindingKind, text: string) =>
    sender.found({ rpc: rpc.name, kind, input: describeInput(rpc.input, { protocol, body }, message, payload), answer: text });
  if (outcome.kind === 'broken') {
    report.noStatus++;
    finding('no status', outcome.reason);
    return;
  }
  report.codes[outcome.code] = (report.codes[outcome.code] ?? 0) + 1;
  const said = `${outcome.code}: ${outcome.message.slice(0, 300)}`;
  if (outcome.code === INTERNAL) {
    // connect-es answers bytes that do not parse as the request type with INTERNAL "parse binary: ...", before any
    // handler runs (grpc-go and grpc-java do the same; connect-go says INVALID_ARGUMENT). Counted apart; any other INTERNAL is a finding.
    const unparseable = body.kind !== 'message' && !decodes(rpc.input, protocol, payload) && outcome.message.startsWith('parse binary:');
    if (unparseable) {
      report.internalUnparseable++;
    } else {
      report.internal++;
      finding('INTERNAL', said);
    }
  }
  if (outcome.code === 2) {
    report.unknown++;
    finding('UNKNOWN', said);
  }
  const decoded = responses(rpc, protocol, outcome);
  if (typeof decoded === 'string') {
    report.badResponses++;
    finding('bad response', decoded);
    return;
  }
  if (rpc.name === 'StoryService/SendStory' && message) {
    sender.pools.learnSend((message as SendStoryRequest).sessionId, decoded as unknown as { event: { case?: string; value?: unknown } }[]);
  }
}
