/**
 * The three protocols the server speaks, on the wire: how a request body is
 * framed for each, and how an answer is read back into a status code. An
 * answer that cannot be read as a status (a reset, a missing grpc-status, an
 * unknown code, a half envelope) becomes a Broken outcome, never a guess.
 */
import type * as http2 from 'node:http2';
import type { Protocol } from './cases.js';
import type { RawAnswer } from './h2-client.js';
import type { Rpc } from './rpcs.js';

/** gRPC status codes by their Connect names. */
export const CODE_NAMES = [
  'ok',
  'canceled',
  'unknown',
  'invalid_argument',
  'deadline_exceeded',
  'not_found',
  'already_exists',
  'permission_denied',
  'resource_exhausted',
  'failed_precondition',
  'aborted',
  'out_of_range',
  'unimplemented',
  'internal',
  'unavailable',
  'data_loss',
  'unauthenticated',
] as const;

export const INTERNAL = 13;

export type Outcome =
  | {
      readonly kind: 'status';
      readonly code: number;
      readonly message: string;
      /** The response messages, as sent (binary, or JSON text for connect-json). */
      readonly messages: readonly Uint8Array[];
    }
  | { readonly kind: 'broken'; readonly reason: string };

export function envelope(payload: Uint8Array, flags = 0, length = payload.length): Buffer {
  const out = Buffer.alloc(5 + payload.length);
  out[0] = flags;
  out.writeUInt32BE(length >>> 0, 1);
  out.set(payload, 5);
  return out;
}

export function requestHeaders(protocol: Protocol, rpc: Rpc): http2.OutgoingHttpHeaders {
  const base = { ':method': 'POST', ':path': rpc.path };
  switch (protocol) {
    case 'grpc':
      return { ...base, 'content-type': 'application/grpc+proto', te: 'trailers' };
    case 'grpc-web':
      return { ...base, 'content-type': 'application/grpc-web+proto', 'x-grpc-web': '1' };
    case 'connect':
      return {
        ...base,
        'content-type': rpc.streaming ? 'application/connect+proto' : 'application/proto',
        'connect-protocol-version': '1',
      };
    case 'connect-json':
      return { ...base, 'content-type': rpc.streaming ? 'application/connect+json' : 'application/json', 'connect-protocol-version': '1' };
  }
}

/** The request body: enveloped, except for Connect unary calls, whose body is the message itself. */
export function frameRequest(protocol: Protocol, rpc: Rpc, payload: Uint8Array): Uint8Array {
  if ((protocol === 'connect' || protocol === 'connect-json') && !rpc.streaming) return payload;
  return envelope(payload);
}

interface Envelope {
  readonly flags: number;
  readonly data: Uint8Array;
}

function splitEnvelopes(body: Buffer): Envelope[] | string {
  const out: Envelope[] = [];
  let at = 0;
  while (at < body.length) {
    if (body.length - at < 5) return `a ${body.length - at}-byte fragment of an envelope prefix at the end`;
    const length = body.readUInt32BE(at + 1);
    if (body.length - at - 5 < length) return `an envelope promising ${length} bytes with ${body.length - at - 5} left`;
    out.push({ flags: body[at]!, data: body.subarray(at + 5, at + 5 + length) });
    at += 5 + length;
  }
  return out;
}

function header(h: http2.IncomingHttpHeaders | undefined, name: string): string | undefined {
  const v = h?.[name];
  return Array.isArray(v) ? v.join(',') : v;
}

/** :status, which node types as a string header but hands over as a number. */
export function httpStatus(answer: RawAnswer): number | undefined {
  const status = answer.headers?.[':status'];
  return status === undefined ? undefined : Number(status);
}

function knownCode(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d{1,2}$/.test(text)) return undefined;
  const code = Number(text);
  return code <= 16 ? code : undefined;
}

function decodeMessage(text: string | undefined): string {
  if (!text) return '';
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Why the stream ended without an answer, in words. */
function noAnswer(answer: RawAnswer): string {
  if (answer.timedOut) return 'no answer before the client gave up';
  if (answer.rstCode) return `stream reset (code ${answer.rstCode})${answer.error ? `: ${answer.error}` : ''}`;
  return answer.error ?? 'stream closed without a status';
}

function grpcOutcome(answer: RawAnswer): Outcome {
  const status = header(answer.trailers, 'grpc-status') ?? header(answer.headers, 'grpc-status');
  if (status === undefined) return { kind: 'broken', reason: answer.headers ? `no grpc-status (${noAnswer(answer)})` : noAnswer(answer) };
  const code = knownCode(status);
  if (code === undefined) return { kind: 'broken', reason: `grpc-status "${status}" is no known code` };
  if (httpStatus(answer) !== 200) return { kind: 'broken', reason: `HTTP ${httpStatus(answer)} with grpc-status ${status}` };
  const envelopes = splitEnvelopes(answer.body);
  if (typeof envelopes === 'string') return { kind: 'broken', reason: envelopes };
  const message = decodeMessage(header(answer.trailers, 'grpc-message') ?? header(answer.headers, 'grpc-message'));
  return { kind: 'status', code, message, messages: envelopes.map((e) => e.data) };
}

/** gRPC-Web: the status is in the headers (trailers-only) or in a final envelope flagged 0x80 holding HTTP/1-style trailer lines. */
function grpcWebOutcome(answer: RawAnswer): Outcome {
  if (!answer.headers) return { kind: 'broken', reason: noAnswer(answer) };
  const envelopes = splitEnvelopes(answer.body);
  if (typeof envelopes === 'string') return { kind: 'broken', reason: envelopes };
  const trailer = envelopes.find((e) => e.flags & 0x80);
  const fields = new Map<string, string>();
  if (trailer) {
    for (const line of Buffer.from(trailer.data).toString('utf8').split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon > 0) fields.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
  }
  const status = fields.get('grpc-status') ?? header(answer.headers, 'grpc-status');
  if (status === undefined) return { kind: 'broken', reason: `no grpc-status (${noAnswer(answer)})` };
  const code = knownCode(status);
  if (code === undefined) return { kind: 'broken', reason: `grpc-status "${status}" is no known code` };
  const message = decodeMessage(fields.get('grpc-message') ?? header(answer.headers, 'grpc-message'));
  return { kind: 'status', code, message, messages: envelopes.filter((e) => !(e.flags & 0x80)).map((e) => e.data) };
}

function connectError(json: unknown): { code: number; message: string } | string {
  if (typeof json !== 'object' || json === null) return 'an error body that is not a JSON object';
  const { code, message } = json as { code?: unknown; message?: unknown };
  const index = typeof code === 'string' ? CODE_NAMES.indexOf(code as (typeof CODE_NAMES)[number]) : -1;
  if (index <= 0) return `error code ${JSON.stringify(code)} is no known code`;
  return { code: index, message: typeof message === 'string' ? message : '' };
}

function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    return undefined;
  }
}

/** Connect unary: 200 with the message as the body, or an HTTP error status with a JSON error. */
function connectUnaryOutcome(answer: RawAnswer): Outcome {
  if (!answer.headers) return { kind: 'broken', reason: noAnswer(answer) };
  if (answer.rstCode || answer.timedOut) return { kind: 'broken', reason: `body cut: ${noAnswer(answer)}` };
  if (httpStatus(answer) === 200) return { kind: 'status', code: 0, message: '', messages: [answer.body] };
  const error = connectError(parseJson(answer.body));
  if (typeof error === 'string') return { kind: 'broken', reason: `HTTP ${httpStatus(answer)}: ${error}` };
  return { kind: 'status', ...error, messages: [] };
}

/** Connect streaming: envelopes, the last flagged 0x02 with a JSON end-of-stream that holds any error. */
function connectStreamOutcome(answer: RawAnswer): Outcome {
  if (!answer.headers) return { kind: 'broken', reason: noAnswer(answer) };
  if (httpStatus(answer) !== 200) return connectUnaryOutcome(answer);
  const envelopes = splitEnvelopes(answer.body);
  if (typeof envelopes === 'string') return { kind: 'broken', reason: envelopes };
  const end = envelopes.at(-1);
  if (!end || !(end.flags & 0x02)) return { kind: 'broken', reason: `no end-of-stream message (${noAnswer(answer)})` };
  const json = parseJson(end.data) as { error?: unknown } | undefined;
  if (typeof json !== 'object' || json === null) return { kind: 'broken', reason: 'an end-of-stream message that is not JSON' };
  const messages = envelopes.slice(0, -1).map((e) => e.data);
  if (json.error === undefined) return { kind: 'status', code: 0, message: '', messages };
  const error = connectError(json.error);
  if (typeof error === 'string') return { kind: 'broken', reason: error };
  return { kind: 'status', ...error, messages };
}

export function outcomeOf(protocol: Protocol, rpc: Rpc, answer: RawAnswer): Outcome {
  switch (protocol) {
    case 'grpc':
      return grpcOutcome(answer);
    case 'grpc-web':
      return grpcWebOutcome(answer);
    default:
      return rpc.streaming ? connectStreamOutcome(answer) : connectUnaryOutcome(answer);
  }
}
