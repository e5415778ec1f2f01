import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { Code, ConnectError, type ServiceImpl } from '@connectrpc/connect';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SERVER, DEFAULT_TEXT, demoRecipients, parseCliArgs, parseRecipientFile, type CliOptions } from '../src/cli/args.js';
import { describeError } from '../src/cli/errors.js';
import {
  batchSequence,
  formatCancelled,
  formatEvent,
  formatStatus,
  initialState,
  percent,
  reduce,
  type ViewState,
} from '../src/cli/progress.js';
import type { CliIO } from '../src/cli/follow.js';
import { buildRequest, run } from '../src/cli/send.js';
import { ErrorInfoSchema } from '../src/gen/google/rpc/error_details_pb.js';
import {
  SendMode,
  SendStoryResponseSchema,
  Speed,
  StoryService,
  type SendStoryRequest,
  type SendStoryResponse,
} from '../src/gen/storycast/v1/story_service_pb.js';
import { startH2Server, type H2TestServer } from './support/h2-server.js';

type Init = MessageInitShape<typeof SendStoryResponseSchema>['event'];
const ev = (event: Init): SendStoryResponse => create(SendStoryResponseSchema, { event });
const planned = (more: object = {}): SendStoryResponse =>
  ev({
    case: 'planned',
    value: {
      sendId: 'send-1',
      sessionId: 'demo',
      strategy: 'adaptive',
      mode: SendMode.SMART,
      totalRecipients: 250,
      firstBatchSize: 10,
      reason: 'no history: start small',
      ...more,
    },
  });
const anchor = ev({ case: 'anchor', value: { messageId: 'MSG1', recipients: 1, durationMs: 420, attempts: 1 } });
const okBatch = ev({
  case: 'batch',
  value: {
    index: 0,
    size: 10,
    durationMs: 800,
    ok: true,
    speed: Speed.FAST,
    delivered: 11,
    remaining: 239,
    nextBatchSize: 20,
    reason: 'fast: doubling',
  },
});
const failedBatch = ev({
  case: 'batch',
  value: {
    index: 1,
    size: 20,
    durationMs: 15_000,
    ok: false,
    error: { code: 'TIMEOUT', message: 'no answer in 15000 ms', retryable: true },
    speed: Speed.SLOW,
    delivered: 11,
    remaining: 239,
    nextBatchSize: 10,
    reason: 'timed out: halving',
  },
});
const lastBatch = ev({
  case: 'batch',
  value: {
    index: 2,
    size: 239,
    durationMs: 3000,
    ok: true,
    speed: Speed.NORMAL,
    delivered: 250,
    remaining: 0,
    nextBatchSize: 0,
    reason: '',
  },
});
const summary = (more: object = {}): SendStoryResponse =>
  ev({
    case: 'summary',
    value: {
      sendId: 'send-1',
      messageId: 'MSG1',
      total: 250,
      delivered: 250,
      batches: 3,
      batchSequence: [10, 20, 239],
      totalDurationMs: 19_500n,
      sessionLearning: { maxProvenBatchSize: 239, usedHistoricalData: false, willSkipRampingNextTime: true },
      ...more,
    },
  });
const failures = Array.from({ length: 7 }, (_, i) => ({
  recipient: `1555000000${i}@s.whatsapp.net`,
  code: i < 5 ? 'TIMEOUT' : 'RATE_LIMITED',
  reason: `gave up after 3 attempts (${i})`,
}));
const happy = [planned(), anchor, okBatch, failedBatch, lastBatch, summary()];

const fold = (events: SendStoryResponse[]): ViewState => events.reduce(reduce, initialState);
const linesOf = (events: SendStoryResponse[]): string[] => {
  let state = initialState;
  return events.flatMap((e) => {
    state = reduce(state, e);
    return formatEvent(state, e);
  });
};
const options = (argv: string[], env = {}): CliOptions => {
  const parsed = parseCliArgs(argv, env);
  if (parsed === 'help') throw new Error('unexpected help');
  return parsed;
};

describe('parseCliArgs', () => {
  it('fills in defaults for a demo send', () => {
    expect(options(['--recipients', '3'])).toEqual({
      server: DEFAULT_SERVER,
      protocol: 'grpc',
      sessionId: 'demo',
      strategy: '',
      experiment: '',
      json: false,
      detach: false,
      requestId: '',
      file: undefined,
      demoRecipients: 3,
      list: '',
      allContacts: false,
      story: { kind: 'text', text: DEFAULT_TEXT, backgroundColor: '', font: 0 },
      startAt: undefined,
      repeat: '',
      timeZone: '',
    });
  });

  it('takes a saved list as the only recipients, and refuses an empty name', () => {
    expect(options(['--list', 'vip'])).toMatchObject({ list: 'vip', demoRecipients: 0, file: undefined });
    expect(() => options(['--list', ''])).toThrow('--list needs the name of a saved list');
    expect(() => options([])).toThrow('--all-contacts');
    expect(options(['--all-contacts'])).toMatchObject({ allContacts: true, list: '' });
  });

  it('takes the server from --server, then STORYCAST_SERVER, and accepts host:port', () => {
    expect(options(['--recipients', '1'], { STORYCAST_SERVER: 'localhost:9000' }).server).toBe('http://localhost:9000');
    expect(options(['--recipients', '1', '--server', 'https://sc.example/'], { STORYCAST_SERVER: 'x:1' }).server).toBe(
      'https://sc.example',
    );
  });

  it('reads media options, guessing the type from the extension', () => {
    expect(options(['--file', 'l.txt', '--image', 'p.JPG', '--caption', 'hi']).story).toEqual({
      kind: 'image',
      source: { path: 'p.JPG' },
      caption: 'hi',
      mimeType: 'image/jpeg',
    });
    expect(options(['--file', 'l.txt', '--url', 'https://cdn.example/v.mp4?sig=1']).story).toMatchObject({
      kind: 'video',
      source: { url: 'https://cdn.example/v.mp4?sig=1' },
      mimeType: 'video/mp4',
    });
    expect(options(['--file', 'l.txt', '--image-url', 'https://cdn.example/raw']).story).toMatchObject({ kind: 'image', mimeType: '' });
  });

  it('returns help without checking anything else', () => {
    expect(parseCliArgs(['--font', '99', '-h'], {})).toBe('help');
  });

  it.each([
    [['--nope'], /unknown option --nope/],
    [['--recipients', '5', '--server'], /--server needs a value/],
    [['--recipients', '--json'], /--recipients needs a value/],
    [['--json=yes', '--recipients', '1'], /--json does not take a value/],
    [['hello'], /unexpected argument "hello"/],
    [['--recipients', 'ten'], /--recipients: "ten" is not a whole number/],
    [['--recipients', '0'], /--recipients: "0"/],
    [[], /no recipients: give --file PATH .* or --recipients N/],
    [['--recipients', '1', '--font', '12'], /--font: "12" is not a whole number from 0 to 9/],
    [['--recipients', '1', '--background-color', 'red'], /--background-color: "red"/],
    [['--recipients', '1', '--protocol', 'http'], /--protocol: "http" is not grpc or connect/],
    [['--recipients', '1', '--server', 'ftp://x'], /--server: "ftp:\/\/x" must be an http/],
    [['--recipients', '1', '--image', 'a.jpg', '--video', 'b.mp4'], /--image and --video cannot be combined/],
    [['--recipients', '1', '--caption', 'hi'], /--caption needs --image/],
    [['--recipients', '1', '--image', 'a.jpg', '--text', 'hi'], /--text is for text stories; with --image use --caption/],
    [['--recipients', '1', '--url', 'https://x.example/file'], /--url: cannot tell .* use --image-url or --video-url/],
    [['--recipients', '1', '--session', ' '], /--session must not be empty/],
  ])('rejects %j', (argv, message) => {
    expect(() => parseCliArgs(argv, {})).toThrow(message);
  });

  it('names the variable when STORYCAST_SERVER is bad', () => {
    expect(() => parseCliArgs(['--recipients', '1'], { STORYCAST_SERVER: 'ht tp://' })).toThrow(/STORYCAST_SERVER/);
  });
});

describe('recipients', () => {
  it('parses a file: one per line, comments and blanks ignored', () => {
    expect(parseRecipientFile('\uFEFF# team\r\n+1 555-000 0001\r\n\n  15550000002@s.whatsapp.net  # lead\n#+15550000003\n')).toEqual([
      '+1 555-000 0001',
      '15550000002@s.whatsapp.net',
    ]);
  });

  it('makes distinct demo numbers', () => {
    const list = demoRecipients(1000);
    expect(list[0]).toBe('+15550000000');
    expect(new Set(list).size).toBe(1000);
  });

  it('puts the file first, then the demo numbers, and reads media bytes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'storycast-cli-'));
    await writeFile(join(dir, 'list.txt'), '+447700900123\n');
    await writeFile(join(dir, 'pic.png'), Buffer.from([1, 2, 3]));
    const request = await buildRequest(
      options(['--file', join(dir, 'list.txt'), '--recipients', '2', '--image', join(dir, 'pic.png')]),
      {},
    );
    expect(request.recipients).toEqual(['+447700900123', '+15550000000', '+15550000001']);
    expect((await buildRequest(options(['--recipients', '1', '--experiment', 'ab-1']), {})).experiment).toBe('ab-1');
    const content = request.story?.content;
    const media = content?.case === 'image' ? content.value : undefined;
    expect(media?.mimeType).toBe('image/png');
    expect(media?.source.case === 'data' && [...media.source.value]).toEqual([1, 2, 3]);
  });
});

describe('rendering (plain)', () => {
  it('names the experiment and arm that chose the strategy', () => {
    expect(linesOf([planned({ experiment: 'ab-1', arm: 'bracket', strategy: 'bracket' })])[0]).toContain(
      'strategy bracket (experiment ab-1, arm bracket)',
    );
  });

  it('describes the plan, listing the first invalid inputs', () => {
    const invalid = Array.from({ length: 7 }, (_, i) => ({ input: `bad${i}`, reason: 'not a number' }));
    const lines = linesOf([planned({ invalidRecipients: invalid, duplicateRecipients: 2, usedHistory: true, provenBatchSize: 80 })]);
    expect(lines[0]).toBe(
      'planned  250 recipients (7 invalid inputs, 2 duplicates dropped), smart send, strategy adaptive, history: proven size 80; first batch 10: no history: start small',
    );
    expect(lines.slice(1, 3)).toEqual(['  invalid "bad0": not a number', '  invalid "bad1": not a number']);
    expect(lines.at(-1)).toBe('  … and 2 more invalid');
    expect(lines).toHaveLength(7);
  });

  it('prints one line for the anchor and for each batch', () => {
    expect(linesOf([planned(), anchor, okBatch, failedBatch]).slice(1)).toEqual([
      'anchor   message MSG1 to 1 recipient in 420 ms',
      'batch 1  size 10  ok  800 ms FAST  delivered 11/250 (4.4%), failed 0, remaining 239; next 20: fast: doubling',
      'batch 2  size 20  FAILED TIMEOUT (will retry): no answer in 15000 ms  15.0 s SLOW  delivered 11/250 (4.4%), failed 0, remaining 239; next 10: timed out: halving',
    ]);
  });

  it("prints a late ack as news of its batch, WhatsApp's code and refused recipients, and counts no extra batch", () => {
    const late = ev({
      case: 'batch',
      value: {
        index: 1,
        late: true,
        size: 20,
        durationMs: 21_000,
        ok: true,
        speed: Speed.SLOW,
        delivered: 31,
        remaining: 219,
        nextBatchSize: 10,
        reason: 'late',
      },
    });
    const rejected = ev({
      case: 'batch',
      value: {
        index: 2,
        size: 10,
        durationMs: 900,
        ok: false,
        error: { code: 'SEND_FAILED', message: 'rejected', retryable: true, whatsappCode: 479 },
        speed: Speed.FAST,
        delivered: 31,
        remaining: 219,
        nextBatchSize: 10,
        reason: 'r',
      },
    });
    const partial = ev({
      case: 'batch',
      value: {
        index: 3,
        size: 10,
        refused: 2,
        durationMs: 900,
        ok: true,
        speed: Speed.FAST,
        delivered: 39,
        remaining: 211,
        nextBatchSize: 10,
        reason: 'r',
      },
    });
    expect(linesOf([planned(), anchor, okBatch, failedBatch, late, rejected, partial]).slice(-3)).toEqual([
      'batch 2  acknowledged late: 20 delivered after all (21.0 s after it started)  delivered 31/250 (12.4%), remaining 219',
      'batch 3  size 10  FAILED SEND_FAILED 479 (will retry): rejected  900 ms FAST  delivered 31/250 (12.4%), failed 0, remaining 219; next 10: r',
      'batch 4  size 10  ok (2 refused, will retry)  900 ms FAST  delivered 39/250 (15.6%), failed 0, remaining 211; next 10: r',
    ]);
    const state = fold([planned(), anchor, okBatch, failedBatch, late]);
    expect(state.batches).toBe(2);
    expect(state.last).toMatchObject({ index: 1, delivered: 31, ok: false });
  });

  it('summarises a complete send', () => {
    expect(linesOf([summary()])).toEqual([
      'summary  delivered 250/250 (100.0%), failed 0',
      '  3 batches after the anchor: 10, 20, 239',
      '  took 19.5 s; message MSG1, send send-1',
      '  session learning: proven batch size 239; started from history: no; next send skips the ramp: yes',
    ]);
  });

  it('summarises failures: counts by code, the first few, and why it stopped', () => {
    const lines = linesOf([
      summary({ delivered: 243, failed: failures, stoppedBy: 'LOGGED_OUT', batches: 5, batchSequence: [10, 20, 40, 40, 40], invalid: 1 }),
    ]);
    expect(lines[0]).toBe('summary  delivered 243/250 (97.2%), failed 7; 1 invalid input not sent');
    expect(lines).toContain('  stopped early: LOGGED_OUT');
    expect(lines).toContain('  failed by code: TIMEOUT 5, RATE_LIMITED 2');
    expect(lines).toContain('  failed 15550000000@s.whatsapp.net TIMEOUT: gave up after 3 attempts (0)');
    expect(lines).toContain('  … and 2 more failed');
    expect(lines).toContain('  5 batches after the anchor: 10, 20, 40 ×3');
  });

  it('draws the status block from the state, without colour in plain style', () => {
    const [bar, detail] = formatStatus(fold([planned(), anchor, okBatch]), { width: 80 });
    expect(bar).toBe(`[█${'░'.repeat(29)}]   4.4%  11/250 delivered  failed 0`);
    expect(detail).toBe('last: 10 in 800 ms FAST; batch 2 of 20 in flight: fast: doubling');
    expect(formatStatus(fold([planned()]), { width: 80 })[1]).toBe('sending the anchor…');
    expect(formatStatus(fold(happy.slice(0, 5)), { width: 40 })[0]).toMatch(/^\[█{10}\] 100\.0%/);
  });

  it('keeps small details honest', () => {
    expect(percent(999, 1000)).toBe('99.9%');
    expect(batchSequence([1, 2, 2, 3, 4], 2)).toBe('1, 2 ×2, … (2 more sizes)');
    expect(formatCancelled(fold([planned(), anchor, okBatch]))[0]).toBe('cancelled: delivered 11/250 so far after 1 batch.');
  });

  it('describes an RPC error with its ErrorInfo reason', () => {
    const error = new ConnectError('too many recipients', Code.InvalidArgument, undefined, [
      { desc: ErrorInfoSchema, value: { reason: 'TOO_MANY_RECIPIENTS', domain: 'storycast', metadata: { max: '100000' } } },
    ]);
    expect(describeError(error, DEFAULT_SERVER)).toEqual([
      'error: INVALID_ARGUMENT: too many recipients',
      'reason: TOO_MANY_RECIPIENTS',
      '  max: 100000',
    ]);
  });
});

// A stand-in for the real server: it replays whatever the test scripts.
let script: (request: SendStoryRequest, signal: AbortSignal) => AsyncIterable<SendStoryResponse>;
let lastRequest: SendStoryRequest | undefined;
const impl: Partial<ServiceImpl<typeof StoryService>> = {
  async *sendStory(request, context) {
    lastRequest = request;
    yield* script(request, context.signal);
  },
};
let server: H2TestServer;
let url = '';
beforeAll(async () => {
  server = await startH2Server((router) => router.service(StoryService, impl), ['grpc', 'connect']);
  url = server.url;
});
afterAll(() => server.close());

function io(extra: Partial<CliIO> & { onOut?: (text: string) => void } = {}): CliIO & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    stdout: {
      write: (s: string) => {
        out += s;
        extra.onOut?.(out);
        return true;
      },
      isTTY: false,
    },
    stderr: {
      write: (s: string) => {
        err += s;
        return true;
      },
    },
    env: {},
    ...extra,
    out: () => out,
    err: () => err,
  };
}
const replay = (events: SendStoryResponse[]) =>
  async function* () {
    yield* events;
  };

describe('run against an in-process server', () => {
  it('sends, prints one plain line per event and the summary, exit 0', async () => {
    script = replay(happy);
    const cli = io();
    expect(await run(['--server', url, '--recipients', '250', '--session', 'alice', '--strategy', 'adaptive'], cli)).toBe(0);
    expect(lastRequest).toMatchObject({
      sessionId: 'alice',
      strategy: 'adaptive',
      story: { content: { case: 'text', value: { text: DEFAULT_TEXT } } },
    });
    expect(lastRequest?.recipients).toHaveLength(250);
    const out = cli.out().trimEnd().split('\n');
    expect(out[0]).toBe(`storycast: sending a text story to 250 recipients as session "alice" via ${url} (grpc)`);
    expect(out.slice(1)).toEqual(linesOf(happy));
    expect(cli.out()).not.toContain('\x1b[');
    expect(cli.err()).toBe('');
  });

  it('exits 2 when some recipients failed (connect protocol)', async () => {
    script = replay([planned(), anchor, summary({ delivered: 243, failed: failures })]);
    const cli = io();
    expect(await run(['--server', url, '--protocol', 'connect', '--recipients', '250'], cli)).toBe(2);
    expect(cli.out()).toContain('failed by code: TIMEOUT 5, RATE_LIMITED 2');
  });

  it('prints JSON lines with --json', async () => {
    script = replay(happy);
    const cli = io();
    expect(await run(['--server', url, '--recipients', '250', '--json'], cli)).toBe(0);
    const events = cli
      .out()
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, { ok?: boolean }>);
    expect(events.map((e) => Object.keys(e)[0])).toEqual(['planned', 'anchor', 'batch', 'batch', 'batch', 'summary']);
    expect(events[3]?.batch?.ok).toBe(false);
  });

  it('redraws a bar on a terminal and ends with the summary', async () => {
    script = replay(happy);
    let screen = '';
    const tty = io({
      stdout: {
        write: (s: string) => {
          screen += s;
          return true;
        },
        isTTY: true,
        columns: 100,
      },
    });
    expect(await run(['--server', url, '--recipients', '250'], tty)).toBe(0);
    expect(screen).toContain('\x1b[2F\x1b[J');
    expect(screen).toContain('█');
    expect(screen).toContain('next send skips the ramp');
  });

  it('prints the code and ErrorInfo reason of a server error, exit 1', async () => {
    // A stream that fails before its first message, as the server's does on a bad request.
    script = () => ({
      [Symbol.asyncIterator]: () => ({
        next: () =>
          Promise.reject(
            new ConnectError('no valid recipient among 1 input', Code.InvalidArgument, undefined, [
              { desc: ErrorInfoSchema, value: { reason: 'NO_VALID_RECIPIENTS', domain: 'storycast', metadata: {} } },
            ]),
          ),
      }),
    });
    const cli = io();
    expect(await run(['--server', url, '--recipients', '1'], cli)).toBe(1);
    expect(cli.err()).toBe('error: INVALID_ARGUMENT: no valid recipient among 1 input\nreason: NO_VALID_RECIPIENTS\n');
  });

  it('exits 1 when the stream ends without a summary', async () => {
    script = replay([planned(), anchor]);
    const cli = io();
    expect(await run(['--server', url, '--recipients', '250'], cli)).toBe(1);
    expect(cli.err()).toContain('ended the stream without a summary');
  });

  it('cancels on the signal and exits 130', async () => {
    script = async function* (_request, signal) {
      yield* [planned(), anchor, okBatch];
      await new Promise((resolve) => signal.addEventListener('abort', resolve));
    };
    const controller = new AbortController();
    const cli = io({ signal: controller.signal, onOut: (out) => out.includes('remaining 239') && controller.abort() });
    expect(await run(['--server', url, '--recipients', '250'], cli)).toBe(130);
    expect(cli.err()).toContain('cancelled: delivered 11/250 so far after 1 batch.');
  });

  it('says the server is not running when the connection is refused', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const cli = io();
    expect(await run(['--server', `127.0.0.1:${port}`, '--recipients', '1'], cli)).toBe(1);
    expect(cli.err()).toMatch(/cannot reach a storycast server at http:\/\/127\.0\.0\.1:\d+ \(connection refused\)/);
    expect(cli.err()).toContain('npm start');
  });

  it('reports an unreadable file by its option, exit 1', async () => {
    const cli = io();
    expect(await run(['--file', '/nonexistent/list.txt'], cli)).toBe(1);
    expect(cli.err()).toMatch(/^storycast send: --file: cannot read "\/nonexistent\/list.txt": ENOENT/);
  });
});
