/**
 * HTTP/2 below node:http2: frames written by hand on a TCP socket, so a case
 * can send what no HTTP/2 library would (headers on stream 0, a CONTINUATION
 * flood, HPACK garbage, a window past 2^31-1) and read back the frames the
 * server answered with, down to its GOAWAY code.
 */
import { connect, type Socket } from 'node:net';

export const FrameType = {
  DATA: 0,
  HEADERS: 1,
  RST_STREAM: 3,
  SETTINGS: 4,
  PING: 6,
  GOAWAY: 7,
  WINDOW_UPDATE: 8,
  CONTINUATION: 9,
} as const;

export const Flag = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4 } as const;

const ERROR_NAMES = [
  'NO_ERROR',
  'PROTOCOL_ERROR',
  'INTERNAL_ERROR',
  'FLOW_CONTROL_ERROR',
  'SETTINGS_TIMEOUT',
  'STREAM_CLOSED',
  'FRAME_SIZE_ERROR',
  'REFUSED_STREAM',
  'CANCEL',
  'COMPRESSION_ERROR',
  'CONNECT_ERROR',
  'ENHANCE_YOUR_CALM',
  'INADEQUATE_SECURITY',
  'HTTP_1_1_REQUIRED',
];

const TYPE_NAMES = [
  'DATA',
  'HEADERS',
  'PRIORITY',
  'RST_STREAM',
  'SETTINGS',
  'PUSH_PROMISE',
  'PING',
  'GOAWAY',
  'WINDOW_UPDATE',
  'CONTINUATION',
];

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

export function frame(
  type: number,
  flags: number,
  streamId: number,
  payload: Uint8Array = new Uint8Array(0),
  length = payload.length,
): Buffer {
  const out = Buffer.alloc(9 + payload.length);
  out.writeUIntBE(length, 0, 3);
  out[3] = type;
  out[4] = flags;
  out.writeUInt32BE(streamId & 0x7fffffff, 5);
  out.set(payload, 9);
  return out;
}

/** HPACK's integer with an N-bit prefix. */
function hpackInt(value: number, prefixBits: number, firstByteFlags = 0): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [firstByteFlags | value];
  const out = [firstByteFlags | max];
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest & 0x7f) | 0x80);
    rest >>= 7;
  }
  out.push(rest);
  return out;
}

/** Literal header fields without indexing, new names, no Huffman: the plainest HPACK there is. */
export function hpack(headers: readonly (readonly [string, string])[]): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of headers) {
    const n = Buffer.from(name);
    const v = Buffer.from(value);
    parts.push(Buffer.from([0x00, ...hpackInt(n.length, 7)]), n, Buffer.from(hpackInt(v.length, 7)), v);
  }
  return Buffer.concat(parts);
}

export function grpcRequestHeaders(path: string, extra: readonly (readonly [string, string])[] = []): Buffer {
  return hpack([
    [':method', 'POST'],
    [':scheme', 'http'],
    [':path', path],
    [':authority', '127.0.0.1'],
    ['content-type', 'application/grpc'],
    ['te', 'trailers'],
    ...extra,
  ]);
}

interface ReceivedFrame {
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
  readonly payload: Buffer;
}

/** One TCP connection speaking raw frames; everything the server sends is parsed and kept. */
export class RawConnection {
  readonly frames: ReceivedFrame[] = [];
  private buffer = Buffer.alloc(0);
  private closedAt: number | undefined;
  private readonly closed: Promise<void>;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.take(chunk));
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.closedAt = Date.now();
        resolve();
      }),
    );
  }

  static open(port: number): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => resolve(new RawConnection(socket)));
      socket.once('error', reject);
    });
  }

  /** Writes and waits for the bytes to be handed to the kernel; false when the server already hung up. */
  send(...chunks: Uint8Array[]): Promise<boolean> {
    if (this.socket.destroyed) return Promise.resolve(false);
    return new Promise((resolve) => this.socket.write(Buffer.concat(chunks), (error) => resolve(!error)));
  }

  /** Waits `ms`, or less if the server closes the connection or `enough` says what came back will do. */
  async settle(ms: number, enough: (c: RawConnection) => boolean = () => false): Promise<void> {
    const until = Date.now() + ms;
    while (!this.isClosed && !enough(this) && Date.now() < until) {
      await Promise.race([this.closed, new Promise((resolve) => setTimeout(resolve, 10))]);
    }
  }

  get isClosed(): boolean {
    return this.closedAt !== undefined;
  }

  goaway(): string | undefined {
    const g = this.frames.find((f) => f.type === FrameType.GOAWAY);
    return g ? (ERROR_NAMES[g.payload.readUInt32BE(4)] ?? `code ${g.payload.readUInt32BE(4)}`) : undefined;
  }

  /** What came back, condensed: "SETTINGS, SETTINGS ACK, HEADERS x3, GOAWAY PROTOCOL_ERROR; closed". */
  summary(): string {
    const names: string[] = [];
    for (const f of this.frames) {
      let name = TYPE_NAMES[f.type] ?? `type ${f.type}`;
      if ((f.type === FrameType.SETTINGS || f.type === FrameType.PING) && f.flags & Flag.ACK) name += ' ACK';
      if (f.type === FrameType.GOAWAY) name += ` ${ERROR_NAMES[f.payload.readUInt32BE(4)] ?? f.payload.readUInt32BE(4)}`;
      if (f.type === FrameType.RST_STREAM) name += ` ${ERROR_NAMES[f.payload.readUInt32BE(0)] ?? f.payload.readUInt32BE(0)}`;
      if (names.at(-1)?.startsWith(name)) {
        const count = Number(/ x(\d+)$/.exec(names.at(-1)!)?.[1] ?? 1);
        names[names.length - 1] = `${name} x${count + 1}`;
      } else {
        names.push(name);
      }
    }
    return `${names.join(', ') || 'nothing'}${this.isClosed ? '; connection closed' : '; connection open'}`;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private take(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    while (this.buffer.length >= 9) {
      const length = this.buffer.readUIntBE(0, 3);
      if (this.buffer.length < 9 + length) break;
      this.frames.push({
        type: this.buffer[3]!,
        flags: this.buffer[4]!,
        streamId: this.buffer.readUInt32BE(5) & 0x7fffffff,
        payload: this.buffer.subarray(9, 9 + length),
      });
      this.buffer = this.buffer.subarray(9 + length);
    }
  }
}
