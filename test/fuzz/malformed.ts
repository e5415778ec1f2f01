/**
 * Requests that are wrong below the message: broken gRPC framing, wrong or
 * missing content types, compression lies, bodies past the read limit,
 * streams reset or left open, and HTTP/2 frames no client library would
 * write; then the same for gRPC-Web and Connect. Each case says what a proper
 * answer is; after each one the server must still answer a health check on a
 * new connection.
 */
import * as http2 from 'node:http2';
import { gzipSync } from 'node:zlib';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { GetExperimentRequestSchema } from '../../src/gen/storycast/v1/experiment_service_pb.js';
import {
  GetSendRequestSchema,
  GetSessionLearningRequestSchema,
  OnDisconnect,
  SendStoryRequestSchema,
  SendStoryResponseSchema,
} from '../../src/gen/storycast/v1/story_service_pb.js';
import { HealthCheckRequestSchema } from '../../src/gen/grpc/health/v1/health_pb.js';
import { READ_MAX_BYTES } from '../../src/server/limits.js';
import { checkHealth } from './health.js';
import { closeSession, connect, exchange, type RawAnswer } from './h2-client.js';
import { Flag, FrameType, frame, grpcRequestHeaders, hpack, PREFACE, RawConnection } from './h2-frames.js';
import { CODE_NAMES, envelope, httpStatus } from './protocols.js';
import { lengthDelimited } from './wire.js';

export interface MalformedResult {
  readonly name: string;
  /** What a proper answer is. */
  readonly expected: string;
  /** What came back. */
  readonly answer: string;
  readonly ok: boolean;
}

interface Verdict {
  readonly answer: string;
  readonly ok: boolean;
}

export interface MalformedCase {
  readonly name: string;
  readonly expected: string;
  run(url: string): Promise<Verdict>;
}

const UNARY = '/storycast.v1.StoryService/GetSessionLearning';
const STREAMING = '/storycast.v1.StoryService/SendStory';
const EMPTY_OK = '/storycast.v1.StoryService/ListStrategies';
const MiB = 1024 * 1024;

const request = toBinary(GetSessionLearningRequestSchema, create(GetSessionLearningRequestSchema, { sessionId: 'fuzz-a' }));
const grpcHeaders = (path = UNARY, extra: http2.OutgoingHttpHeaders = {}): http2.OutgoingHttpHeaders => ({
  ':method': 'POST',
  ':path': path,
  'content-type': 'application/grpc',
  te: 'trailers',
  ...extra,
});

function grpcStatusOf(a: RawAnswer): number | undefined {
  const s = a.trailers?.['grpc-status'] ?? a.headers?.['grpc-status'];
  return s === undefined ? undefined : Number(s);
}

/** An answer in a line: the HTTP status, the gRPC status (or Connect error) and its message, or how the stream ended instead. */
function describe(a: RawAnswer): string {
  const parts: string[] = [];
  if (a.headers) parts.push(`HTTP ${httpStatus(a)}`);
  const code = grpcStatusOf(a);
  if (code !== undefined) {
    const message = decodeURIComponent(String(a.trailers?.['grpc-message'] ?? a.headers?.['grpc-message'] ?? ''));
    parts.push(`grpc-status ${code} ${CODE_NAMES[code] ?? '?'}${message ? ` "${message.slice(0, 90)}"` : ''}`);
  } else if (a.headers && httpStatus(a) !== 200 && a.body.length > 0) {
    parts.push(`body ${a.body.toString('utf8').slice(0, 90)}`);
  } else if (a.body.includes(Buffer.from('grpc-status:'))) {
    // gRPC-Web: trailers at the end of the body.
    const text = a.body.toString('latin1');
    parts.push(`trailers ${JSON.stringify(text.slice(text.indexOf('grpc-status:')).slice(0, 90))}`);
  } else if (a.body.includes(Buffer.from('"error"'))) {
    // Connect streaming: the end-of-stream message.
    const text = a.body.toString('utf8');
    parts.push(`end-of-stream ${text.slice(text.indexOf('{')).slice(0, 90)}`);
  }
  if (a.timedOut) parts.push('no answer, client cancelled');
  else if (a.rstCode) parts.push(`reset ${a.rstCode}`);
  if (a.error && !a.timedOut) parts.push(a.error.slice(0, 90));
  return parts.join(', ') || 'nothing';
}

async function onFreshSession<T>(url: string, work: (s: http2.ClientHttp2Session) => Promise<T>): Promise<T> {
  const session = connect(url);
  try {
    return await work(session);
  } finally {
    await closeSession(session);
  }
}

/** One call on its own connection, judged by `ok`. */
function call(
  path: string,
  /** Merged over the gRPC request headers; null removes one. */
  headers: Record<string, string | null>,
  body: Uint8Array | undefined,
  ok: (a: RawAnswer) => boolean,
  options: { timeoutMs?: number; keepOpen?: boolean } = {},
): (url: string) => Promise<Verdict> {
  return (url) =>
    onFreshSession(url, async (s) => {
      const merged: http2.OutgoingHttpHeaders = { ...grpcHeaders(path) };
      for (const [name, value] of Object.entries(headers)) {
        if (value === null) delete merged[name];
        else merged[name] = value;
      }
      const a = await exchange(s, merged, body, { timeoutMs: options.timeoutMs ?? 30_000, keepOpen: options.keepOpen ?? false });
      return { answer: describe(a), ok: ok(a) };
    });
}

const status =
  (...codes: number[]) =>
  (a: RawAnswer) => {
    const code = grpcStatusOf(a);
    return code !== undefined && httpStatus(a) === 200 && (codes.length === 0 || codes.includes(code));
  };
/** Not gRPC at all: an HTTP error status is the proper answer (a gRPC status would do too). */
const httpError = (a: RawAnswer) => a.headers !== undefined && (httpStatus(a) !== 200 || grpcStatusOf(a) !== undefined);
/** gRPC-Web: the status in the headers, or in a trailer envelope (flag 0x80) at the end of the body. */
const grpcWebStatus = (a: RawAnswer) =>
  grpcStatusOf(a) !== undefined || (a.body.length > 5 && a.body.includes(Buffer.from('grpc-status:')) && !a.rstCode);
/** Connect unary: an HTTP error status with a JSON error whose code is one of the known ones. */
const connectError = (a: RawAnswer) => {
  if (!a.headers || httpStatus(a) === 200) return false;
  try {
    const { code } = JSON.parse(a.body.toString('utf8')) as { code?: string };
    return CODE_NAMES.includes(code as (typeof CODE_NAMES)[number]);
  } catch {
    return false;
  }
};
/** Connect streaming: 200 with an end-of-stream envelope (flag 0x02) carrying a known error code, or an HTTP error as for unary. */
const connectStreamError = (a: RawAnswer) => {
  if (connectError(a)) return true;
  if (httpStatus(a) !== 200) return false;
  let last: { flags: number; data: Buffer } | undefined;
  for (let at = 0; at + 5 <= a.body.length; at += 5 + a.body.readUInt32BE(at + 1)) {
    last = { flags: a.body[at]!, data: a.body.subarray(at + 5, at + 5 + a.body.readUInt32BE(at + 1)) };
  }
  if (!last || !(last.flags & 0x02)) return false;
  try {
    const { error } = JSON.parse(last.data.toString('utf8')) as { error?: { code?: string } };
    return CODE_NAMES.includes(error?.code as (typeof CODE_NAMES)[number]);
  } catch {
    return false;
  }
};

/** A send that takes more than a few milliseconds even a million times faster than real time. */
const longSend = toBinary(
  SendStoryRequestSchema,
  create(SendStoryRequestSchema, {
    sessionId: 'fuzz-deadline',
    story: { content: { case: 'text', value: { text: 'deadline' } } },
    recipients: Array.from({ length: 5000 }, (_, i) => `+1556${String(i).padStart(7, '0')}`),
    onDisconnect: OnDisconnect.CONTINUE,
  }),
);

/** A SendStory answer: OK only with a summary as its last event, or one of the given error codes. */
const completeOr =
  (...codes: number[]) =>
  (a: RawAnswer) => {
    const code = grpcStatusOf(a);
    if (code === undefined) return false;
    if (code !== 0) return codes.includes(code);
    let last: Uint8Array | undefined;
    for (let at = 0; at + 5 <= a.body.length; at += 5 + a.body.readUInt32BE(at + 1)) {
      last = a.body.subarray(at + 5, at + 5 + a.body.readUInt32BE(at + 1));
    }
    return last !== undefined && fromBinary(SendStoryResponseSchema, last).event.case === 'summary';
  };

/** A message of exactly `size` bytes: one unknown length-delimited field. */
function messageOfSize(size: number): Uint8Array {
  for (let n = size - 8; n <= size; n++) {
    const bytes = lengthDelimited(9999, new Uint8Array(n));
    if (bytes.length === size) return bytes;
  }
  throw new Error(`no single field makes ${size} bytes`);
}

/** Cancels a stream part way: after `bytes` of the body, or right after the headers. */
function resetAfter(bytes: number | undefined): (url: string) => Promise<Verdict> {
  return (url) =>
    onFreshSession(url, async (s) => {
      const stream = s.request(grpcHeaders(STREAMING));
      stream.on('error', () => {});
      if (bytes !== undefined) stream.write(envelope(new Uint8Array(4096).fill(0x41)).subarray(0, bytes));
      await new Promise((resolve) => setTimeout(resolve, 50));
      stream.close(http2.constants.NGHTTP2_CANCEL);
      await new Promise((resolve) => stream.once('close', resolve));
      return { answer: 'stream cancelled by the client', ok: true };
    });
}

/** `count` streams opened (headers, part of a body) and never finished, then the whole connection dropped. */
function abandonStreams(count: number, path: string): (url: string) => Promise<Verdict> {
  return async (url) => {
    const session = connect(url);
    const streams: http2.ClientHttp2Stream[] = [];
    for (let i = 0; i < count; i++) {
      const stream = session.request(grpcHeaders(path));
      stream.on('error', () => {});
      stream.write(envelope(request).subarray(0, 3));
      streams.push(stream);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    const refused = streams.filter((s) => s.rstCode !== undefined && s.rstCode !== 0).length;
    session.destroy();
    return { answer: `${count} streams opened, ${refused} refused by the server, connection dropped`, ok: true };
  };
}

/** Sends that stream back to a client that never reads (its window fills), then the connection drops. */
function unreadStreams(count: number): (url: string) => Promise<Verdict> {
  return async (url) => {
    const session = http2.connect(url, { settings: { initialWindowSize: 0 } });
    session.on('error', () => {});
    const body = toBinary(
      SendStoryRequestSchema,
      create(SendStoryRequestSchema, {
        sessionId: 'fuzz-unread',
        story: { content: { case: 'text', value: { text: 'unread' } } },
        // Few: the server keeps delivered recipients' receipts for 24 hours, which is not what this case measures.
        recipients: Array.from({ length: 100 }, (_, i) => `+1555${String(i).padStart(7, '0')}`),
      }),
    );
    for (let i = 0; i < count; i++) {
      const stream = session.request(grpcHeaders(STREAMING));
      stream.on('error', () => {});
      stream.pause();
      stream.end(envelope(body));
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
    session.destroy();
    return { answer: `${count} sends started, responses never read, connection dropped`, ok: true };
  };
}

/** Raw frames on a TCP connection; `ok` judges what came back. */
function raw(
  build: () => Uint8Array[],
  ok: (c: RawConnection) => boolean,
  options: { settleMs?: number; prefaced?: boolean; waitFor?: (c: RawConnection) => boolean } = {},
): (url: string) => Promise<Verdict> {
  return async (url) => {
    const c = await RawConnection.open(Number(new URL(url).port));
    try {
      if (options.prefaced !== false) await c.send(PREFACE, frame(FrameType.SETTINGS, 0, 0));
      for (const chunk of build()) if (!(await c.send(chunk))) break;
      await c.settle(options.settleMs ?? 1000, options.waitFor ?? ok);
      return { answer: c.summary(), ok: ok(c) };
    } finally {
      c.destroy();
    }
  };
}

/**
 * For floods whose proper answer is "whatever, as long as the server stays up" (checked by the health call after
 * each case): it answered at all. How far it got through the flood in the wait depends on the machine's load.
 */
const anyAnswer = (c: RawConnection) => c.isClosed || c.goaway() !== undefined || c.frames.length > 0;
/** A flood is over once the server closes, says GOAWAY or has answered a good part of it; else the wait ends it. */
const floodOver = (c: RawConnection) => c.isClosed || c.goaway() !== undefined || c.frames.length > 1000;
const closedOrGoaway = (c: RawConnection) => c.isClosed || c.goaway() !== undefined;
const withGoaway = (c: RawConnection) => c.goaway() !== undefined && c.goaway() !== 'NO_ERROR';
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};

export const MALFORMED_CASES: readonly MalformedCase[] = [
  // gRPC over node:http2, one call per connection.
  {
    name: 'gRPC: no content-type',
    expected: 'HTTP 415 (not a gRPC request)',
    run: call(UNARY, { 'content-type': null }, envelope(request), httpError),
  },
  {
    name: 'gRPC: content-type text/plain',
    expected: 'HTTP 415',
    run: call(UNARY, { 'content-type': 'text/plain' }, envelope(request), httpError),
  },
  {
    name: 'gRPC: application/grpc+json with a binary body',
    expected: 'a gRPC status (INVALID_ARGUMENT)',
    run: call(UNARY, { 'content-type': 'application/grpc+json' }, envelope(request), status()),
  },
  {
    name: 'gRPC: application/grpc+xml (no such codec)',
    expected: 'HTTP 415 or a gRPC status',
    run: call(UNARY, { 'content-type': 'application/grpc+xml' }, envelope(request), httpError),
  },
  {
    name: 'gRPC: length prefix larger than the body',
    expected: 'INVALID_ARGUMENT',
    run: call(UNARY, {}, envelope(request, 0, request.length + 100), status(3)),
  },
  {
    name: 'gRPC: length prefix smaller than the body',
    expected: 'a gRPC status',
    run: call(UNARY, {}, envelope(request, 0, 2), status()),
  },
  { name: 'gRPC: 3 bytes of a 5-byte prefix', expected: 'INVALID_ARGUMENT', run: call(UNARY, {}, Uint8Array.of(0, 0, 0), status(3)) },
  { name: 'gRPC: no message on a unary call', expected: 'a gRPC status', run: call(UNARY, {}, undefined, status()) },
  {
    name: 'gRPC: two messages on a unary call',
    expected: 'a gRPC status',
    run: call(UNARY, {}, Buffer.concat([envelope(request), envelope(request)]), status()),
  },
  {
    name: 'gRPC: compressed flag set without grpc-encoding',
    expected: 'a gRPC status (INTERNAL, as the gRPC spec has it)',
    run: call(UNARY, {}, envelope(request, 1), status()),
  },
  {
    name: 'gRPC: grpc-encoding gzip, body not gzip',
    expected: 'a gRPC status',
    run: call(UNARY, { 'grpc-encoding': 'gzip' }, envelope(request, 1), status()),
  },
  {
    name: 'gRPC: grpc-encoding br, body not brotli',
    expected: 'a gRPC status',
    run: call(UNARY, { 'grpc-encoding': 'br' }, envelope(request, 1), status()),
  },
  {
    name: 'gRPC: grpc-encoding snappy (not offered)',
    expected: 'UNIMPLEMENTED',
    run: call(UNARY, { 'grpc-encoding': 'snappy' }, envelope(request, 1), status(12)),
  },
  {
    name: 'gRPC: gzip bomb (16 KiB inflating to 32 MiB)',
    expected: 'RESOURCE_EXHAUSTED',
    run: call(
      UNARY,
      { 'grpc-encoding': 'gzip' },
      envelope(gzipSync(Buffer.concat([request, lengthDelimited(9999, new Uint8Array(32 * MiB))])), 1),
      status(8),
    ),
  },
  {
    name: 'gRPC: length prefix of 17 MiB, 10 bytes sent',
    expected: 'RESOURCE_EXHAUSTED',
    run: call(UNARY, {}, envelope(new Uint8Array(10), 0, 17 * MiB), status(8)),
  },
  {
    name: 'gRPC: length prefix 0xFFFFFFFF',
    expected: 'RESOURCE_EXHAUSTED',
    run: call(UNARY, {}, envelope(new Uint8Array(10), 0, 0xffffffff), status(8)),
  },
  {
    name: 'gRPC: message of exactly 16 MiB',
    expected: 'OK',
    run: call(EMPTY_OK, {}, envelope(messageOfSize(READ_MAX_BYTES)), status(0)),
  },
  {
    name: 'gRPC: message of 16 MiB + 1 byte',
    expected: 'RESOURCE_EXHAUSTED',
    run: call(EMPTY_OK, {}, envelope(messageOfSize(READ_MAX_BYTES + 1)), status(8)),
  },
  {
    name: 'gRPC: grpc-timeout "1x"',
    expected: 'INVALID_ARGUMENT',
    run: call(UNARY, { 'grpc-timeout': '1x' }, envelope(request), status(3)),
  },
  {
    name: 'gRPC: grpc-timeout "99999999H"',
    expected: 'a gRPC status',
    run: call(UNARY, { 'grpc-timeout': '99999999H' }, envelope(request), status()),
  },
  {
    name: 'gRPC: unknown method',
    expected: 'UNIMPLEMENTED, or HTTP 404 (which gRPC clients read as UNIMPLEMENTED)',
    run: call('/storycast.v1.StoryService/Nope', {}, envelope(request), (a) => status(12)(a) || httpStatus(a) === 404),
  },
  {
    name: 'gRPC: unknown service',
    expected: 'UNIMPLEMENTED or HTTP 404',
    run: call('/nope.v1.Nope/Nope', {}, envelope(request), httpError),
  },
  {
    name: 'gRPC: GET instead of POST',
    expected: 'HTTP 405 or a gRPC status',
    run: call(UNARY, { ':method': 'GET' }, undefined, httpError),
  },
  {
    name: 'gRPC: header value of 60 KiB',
    expected: 'an answer (a status, 431) or the stream refused; the server stays up',
    run: call(UNARY, { 'x-big': 'x'.repeat(60 * 1024) }, envelope(request), (a) => a.headers !== undefined || a.rstCode !== undefined),
  },
  {
    name: 'gRPC: a whole message, stream never ended, grpc-timeout 300m',
    expected: 'DEADLINE_EXCEEDED, or nothing until the client cancels',
    run: call(UNARY, { 'grpc-timeout': '300m' }, envelope(request), (a) => a.timedOut || status(4)(a), { keepOpen: true, timeoutMs: 3000 }),
  },
  {
    name: 'gRPC: headers only, stream never ended',
    expected: 'nothing until the client cancels (the call has not started)',
    run: call(UNARY, {}, new Uint8Array(0), (a) => a.timedOut || status()(a), { keepOpen: true, timeoutMs: 2000 }),
  },
  {
    name: 'gRPC: SendStory whose 1 ms deadline expires mid-send',
    expected: 'DEADLINE_EXCEEDED (or OK with the summary, had the send been faster)',
    run: call(STREAMING, { 'grpc-timeout': '1m' }, envelope(longSend), completeOr(4)),
  },
  {
    name: 'gRPC: SendStory with grpc-timeout 99999999H (11,000 years)',
    expected: 'OK with the summary: the deadline is far away',
    run: call(STREAMING, { 'grpc-timeout': '99999999H' }, envelope(longSend), completeOr()),
  },
  {
    name: 'gRPC: GetExperiment with a key of 1 MiB',
    expected: 'NOT_FOUND, in trailers that fit (the message quotes the key)',
    run: call(
      '/storycast.v1.ExperimentService/GetExperiment',
      {},
      envelope(toBinary(GetExperimentRequestSchema, create(GetExperimentRequestSchema, { key: 'k'.repeat(MiB) }))),
      status(5),
    ),
  },
  {
    name: 'gRPC: GetSend with a send_id of 1 MiB',
    expected: 'NOT_FOUND, in trailers that fit (the message quotes the id, cut between surrogate pairs)',
    run: call(
      '/storycast.v1.StoryService/GetSend',
      {},
      envelope(toBinary(GetSendRequestSchema, create(GetSendRequestSchema, { sendId: `a${'😀'.repeat(MiB / 2)}` }))),
      status(5),
    ),
  },
  {
    name: 'gRPC: health Check for a service named with 1 MiB',
    expected: 'NOT_FOUND, in trailers that fit',
    run: call(
      '/grpc.health.v1.Health/Check',
      {},
      envelope(toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, { service: 's'.repeat(MiB) }))),
      status(5),
    ),
  },
  { name: 'HTTP/2: RST_STREAM in the middle of a body', expected: 'nothing (the client left)', run: resetAfter(1000) },
  { name: 'HTTP/2: RST_STREAM right after the headers', expected: 'nothing (the client left)', run: resetAfter(undefined) },
  {
    name: 'HTTP/2: 1,000 streams opened and abandoned, connection dropped',
    expected: 'the server stays up',
    run: abandonStreams(1000, UNARY),
  },
  {
    name: 'HTTP/2: 200 SendStory streams abandoned mid-body, connection dropped',
    expected: 'the server stays up',
    run: abandonStreams(200, STREAMING),
  },
  {
    name: 'HTTP/2: 50 sends whose responses are never read, connection dropped',
    expected: 'the sends end (cancelled)',
    run: unreadStreams(50),
  },

  // Raw frames on a TCP socket.
  {
    name: 'HTTP/2: garbage instead of the connection preface',
    expected: 'connection closed',
    run: raw(
      () => [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), Buffer.alloc(64, 0xff)],
      (c) => c.isClosed,
      { prefaced: false },
    ),
  },
  {
    name: 'HTTP/2: a frame of unknown type 0xFA, then PING',
    expected: 'unknown frame ignored, PING answered',
    run: raw(
      () => [frame(0xfa, 0, 0, Buffer.alloc(16)), frame(FrameType.PING, 0, 0, Buffer.alloc(8))],
      (c) => c.frames.some((f) => f.type === FrameType.PING && f.flags & Flag.ACK),
    ),
  },
  {
    name: 'HTTP/2: frame larger than SETTINGS_MAX_FRAME_SIZE',
    expected: 'GOAWAY FRAME_SIZE_ERROR',
    run: raw(() => [frame(FrameType.HEADERS, Flag.END_HEADERS, 1, Buffer.alloc(20_000))], withGoaway),
  },
  {
    name: 'HTTP/2: HEADERS on stream 0',
    expected: 'GOAWAY PROTOCOL_ERROR',
    run: raw(() => [frame(FrameType.HEADERS, Flag.END_HEADERS, 0, grpcRequestHeaders(UNARY))], withGoaway),
  },
  {
    name: 'HTTP/2: HPACK index 1000 (not in any table)',
    expected: 'GOAWAY COMPRESSION_ERROR',
    run: raw(() => [frame(FrameType.HEADERS, Flag.END_HEADERS, 1, Buffer.from([0xff, 0xe9, 0x07]))], withGoaway),
  },
  {
    name: 'HTTP/2: CONTINUATION flood (10,000 frames, never END_HEADERS)',
    expected: 'connection refused or closed, not buffered without end',
    run: raw(
      () => [
        frame(FrameType.HEADERS, 0, 1, grpcRequestHeaders(UNARY)),
        ...Array.from({ length: 10_000 }, (_, i) => frame(FrameType.CONTINUATION, 0, 1, hpack([[`x-${i}`, 'y'.repeat(100)]]))),
      ],
      closedOrGoaway,
      { settleMs: 3000 },
    ),
  },
  {
    name: 'HTTP/2: 1 MiB header list in CONTINUATION frames',
    expected: 'stream or connection refused',
    run: raw(
      () => {
        const block = hpack(Array.from({ length: 1024 }, (_, i): [string, string] => [`x-h${i}`, 'v'.repeat(1000)]));
        const frames = [frame(FrameType.HEADERS, 0, 1, grpcRequestHeaders(UNARY))];
        for (let at = 0; at < block.length; at += 16_000) {
          const last = at + 16_000 >= block.length;
          frames.push(frame(FrameType.CONTINUATION, last ? Flag.END_HEADERS : 0, 1, block.subarray(at, at + 16_000)));
        }
        return frames;
      },
      (c) => closedOrGoaway(c) || c.frames.some((f) => f.type === FrameType.RST_STREAM || f.type === FrameType.HEADERS),
      { settleMs: 2000 },
    ),
  },
  {
    name: 'HTTP/2: rapid reset (5,000 HEADERS each followed by RST_STREAM)',
    expected: 'the server stays up (it may GOAWAY)',
    run: raw(
      () => {
        const headers = grpcRequestHeaders(UNARY);
        const out: Buffer[] = [];
        for (let i = 0; i < 5000; i++) {
          const id = 1 + 2 * i;
          out.push(frame(FrameType.HEADERS, Flag.END_HEADERS, id, headers), frame(FrameType.RST_STREAM, 0, id, u32(8)));
        }
        return [Buffer.concat(out)];
      },
      anyAnswer,
      { settleMs: 2000, waitFor: floodOver },
    ),
  },
  {
    name: 'HTTP/2: SETTINGS flood (10,000 frames)',
    expected: 'the server stays up (it may GOAWAY)',
    run: raw(() => [Buffer.concat(Array.from({ length: 10_000 }, () => frame(FrameType.SETTINGS, 0, 0)))], anyAnswer, {
      settleMs: 2000,
      waitFor: floodOver,
    }),
  },
  {
    name: 'HTTP/2: PING flood (100,000 frames)',
    expected: 'the server stays up (it may GOAWAY)',
    run: raw(() => [Buffer.concat(Array.from({ length: 100_000 }, () => frame(FrameType.PING, 0, 0, Buffer.alloc(8))))], anyAnswer, {
      settleMs: 2000,
      waitFor: floodOver,
    }),
  },
  {
    name: 'HTTP/2: WINDOW_UPDATE past 2^31-1 on the connection',
    expected: 'GOAWAY FLOW_CONTROL_ERROR',
    run: raw(
      () => [frame(FrameType.WINDOW_UPDATE, 0, 0, u32(0x7fffffff)), frame(FrameType.WINDOW_UPDATE, 0, 0, u32(0x7fffffff))],
      withGoaway,
    ),
  },
  {
    name: 'HTTP/2: stream ids going backwards',
    expected: 'the stream ignored or refused; the server stays up',
    run: raw(
      () => [
        frame(FrameType.HEADERS, Flag.END_HEADERS, 5, grpcRequestHeaders(UNARY)),
        frame(FrameType.HEADERS, Flag.END_HEADERS, 3, grpcRequestHeaders(UNARY)),
      ],
      () => true,
      { waitFor: floodOver, settleMs: 500 },
    ),
  },
  {
    name: 'HTTP/2: DATA on a stream never opened',
    expected: 'GOAWAY PROTOCOL_ERROR (or STREAM_CLOSED)',
    run: raw(() => [frame(FrameType.DATA, 0, 7, envelope(request))], withGoaway),
  },
  {
    name: 'HTTP/2: half a frame header, then silence',
    expected: 'the connection waits; the server stays up',
    run: raw(
      () => [Buffer.from([0, 0, 10, 1])],
      () => true,
      { waitFor: floodOver, settleMs: 500 },
    ),
  },

  // gRPC-Web and Connect.
  {
    name: 'gRPC-Web: garbage body',
    expected: 'a gRPC status in the trailers',
    run: call(UNARY, { 'content-type': 'application/grpc-web+proto', te: null }, envelope(Buffer.from([0xff, 0xff])), grpcWebStatus),
  },
  {
    name: 'gRPC-Web: length prefix larger than the body',
    expected: 'a gRPC status in the trailers',
    run: call(UNARY, { 'content-type': 'application/grpc-web+proto', te: null }, envelope(request, 0, 1000), grpcWebStatus),
  },
  {
    name: 'gRPC-Web: application/grpc-web-text, not base64',
    expected: 'HTTP 415 or a gRPC status',
    run: call(
      UNARY,
      { 'content-type': 'application/grpc-web-text', te: null },
      Buffer.from('!!!not base64'),
      (a) => httpError(a) || grpcWebStatus(a),
    ),
  },
  {
    name: 'Connect: application/proto with a garbage body',
    expected: 'an HTTP error with a JSON error code',
    run: call(UNARY, { 'content-type': 'application/proto', te: null }, Buffer.from([0xff, 0xff, 0xff]), connectError),
  },
  ...['{', 'null', '[1,2]', '{"sessionId": {"a": 1}}', `{"sessionId": "${'x'.repeat(MiB)}", "nope": 1}`, '['.repeat(100_000)].map(
    (text): MalformedCase => ({
      name: `Connect: application/json ${JSON.stringify(text.slice(0, 24))}${text.length > 24 ? `… (${text.length} chars)` : ''}`,
      expected: 'an HTTP error with a JSON error code (invalid_argument)',
      run: call(UNARY, { 'content-type': 'application/json', te: null }, Buffer.from(text), connectError),
    }),
  ),
  {
    name: 'gRPC: application/grpc+json with 1 MiB in a wrongly typed field',
    expected: 'a gRPC status whose trailers fit',
    run: call(
      UNARY,
      { 'content-type': 'application/grpc+json' },
      envelope(Buffer.from(`{"sessionId": ${JSON.stringify({ v: 'x'.repeat(MiB) })}}`)),
      status(),
    ),
  },
  {
    name: 'Connect: connect-protocol-version 2',
    expected: 'OK (the header is only checked when required) or invalid_argument',
    run: call(
      UNARY,
      { 'content-type': 'application/proto', 'connect-protocol-version': '2', te: null },
      request,
      (a) => connectError(a) || httpStatus(a) === 200,
    ),
  },
  {
    name: 'Connect: connect-timeout-ms "soon"',
    expected: 'invalid_argument',
    run: call(UNARY, { 'content-type': 'application/proto', 'connect-timeout-ms': 'soon', te: null }, request, connectError),
  },
  {
    name: 'Connect: content-encoding gzip, body not gzip',
    expected: 'an HTTP error with a JSON error code',
    run: call(UNARY, { 'content-type': 'application/proto', 'content-encoding': 'gzip', te: null }, request, connectError),
  },
  {
    name: 'Connect: application/json body over 16 MiB',
    expected: 'resource_exhausted',
    run: call(
      UNARY,
      { 'content-type': 'application/json', te: null },
      Buffer.from(`{"sessionId": "${'x'.repeat(READ_MAX_BYTES)}"}`),
      connectError,
    ),
  },
  {
    name: 'Connect: a streaming call whose only envelope is flagged end-of-stream',
    expected: 'an error status',
    run: call(STREAMING, { 'content-type': 'application/connect+proto', te: null }, envelope(Buffer.from('{}'), 0x02), connectStreamError),
  },
  {
    name: 'Connect: a streaming call with a garbage envelope',
    expected: 'an error status',
    run: call(
      STREAMING,
      { 'content-type': 'application/connect+proto', te: null },
      envelope(Buffer.from([0xff, 0xff])),
      connectStreamError,
    ),
  },
  {
    name: 'Connect: GET with a garbage ?message=',
    expected: 'an HTTP error',
    run: call(
      `${UNARY}?encoding=proto&message=%ff%ff&connect=v1`,
      { ':method': 'GET', 'content-type': null, te: null },
      undefined,
      httpError,
    ),
  },
];

export async function runMalformed(
  url: string,
  progress: (line: string) => void,
  cases: readonly MalformedCase[] = MALFORMED_CASES,
): Promise<MalformedResult[]> {
  const results: MalformedResult[] = [];
  for (const c of cases) {
    const t0 = Date.now();
    let verdict: Verdict;
    try {
      verdict = await c.run(url);
    } catch (error) {
      verdict = { answer: `the case itself failed: ${(error as Error).message}`, ok: false };
    }
    // Whatever the case did, the server must still answer on a new connection.
    const health = await onFreshSession(url, (s) => checkHealth(s, ''));
    const alive = health.status === 'SERVING';
    if (process.env.FUZZ_DEBUG) progress(`${Date.now() - t0} ms ${c.name}`);
    results.push({
      name: c.name,
      expected: c.expected,
      answer: alive ? verdict.answer : `${verdict.answer}; then health: ${health.status}`,
      ok: verdict.ok && alive,
    });
  }
  progress(`${results.length} malformed cases, ${results.filter((r) => !r.ok).length} failed`);
  return results;
}
