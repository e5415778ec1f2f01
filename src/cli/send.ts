/**
 * `npm run send -- [options]`: one SendStory call against a running server,
 * with live progress. The I/O lives here and stays thin; what is shown comes
 * from the pure functions in progress.ts and errors.ts. See args.ts for the
 * options and exit codes (or run with --help).
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { create, toJson, type MessageInitShape } from '@bufbuild/protobuf';
import { createClient } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport, Http2SessionManager } from '@connectrpc/connect-node';
import {
  SendStoryRequestSchema,
  SendStoryResponseSchema,
  StoryService,
  type SendStoryRequest,
  type SendStoryResponse,
  type StorySchema,
} from '../gen/storycast/v1/story_service_pb.js';
import { demoRecipients, HELP, parseCliArgs, parseRecipientFile, UsageError, type CliOptions } from './args.js';
import { exitOnStartupError } from '../util/startup-error.js';
import { describeError, errorJson } from './errors.js';
import { exitCodeFor, formatCancelled, formatEvent, formatStatus, initialState, num, reduce, type ViewState } from './progress.js';

export interface Output {
  write(chunk: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

export interface CliIO {
  readonly stdout: Output;
  readonly stderr: Output;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Aborting it cancels the call, as Ctrl-C does. */
  readonly signal?: AbortSignal;
  /** Read for `--file -`. */
  readonly stdin?: AsyncIterable<string | Uint8Array>;
}

const write = (out: Output, lines: readonly string[]): void => {
  if (lines.length > 0) out.write(lines.map((line) => `${line}\n`).join(''));
};

async function readText(path: string, stdin: CliIO['stdin']): Promise<string> {
  if (path !== '-') return readFile(path, 'utf8');
  if (!stdin) throw new Error('no standard input to read');
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}

/** File problems are reported like option problems: they name the option. */
async function attempt<T>(option: string, what: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw new UsageError(`${option}: cannot read ${what}: ${(error as Error).message}`);
  }
}

export async function buildRequest(options: CliOptions, io: Pick<CliIO, 'stdin'>): Promise<SendStoryRequest> {
  const recipients: string[] = [];
  if (options.file !== undefined) {
    const path = options.file;
    const listed = parseRecipientFile(
      await attempt('--file', path === '-' ? 'standard input' : `"${path}"`, () => readText(path, io.stdin)),
    );
    if (listed.length === 0 && options.demoRecipients === 0) {
      throw new UsageError(`--file: "${path}" lists no recipients (blank lines and # comments are ignored)`);
    }
    recipients.push(...listed);
  }
  recipients.push(...demoRecipients(options.demoRecipients));

  const spec = options.story;
  let content: MessageInitShape<typeof StorySchema>['content'];
  if (spec.kind === 'text') {
    content = { case: 'text', value: { text: spec.text, backgroundColor: spec.backgroundColor, font: spec.font } };
  } else {
    const source = spec.source;
    const media =
      'path' in source
        ? { case: 'data' as const, value: await attempt(`--${spec.kind}`, `"${source.path}"`, () => readFile(source.path)) }
        : { case: 'url' as const, value: source.url };
    content = { case: spec.kind, value: { source: media, caption: spec.caption, mimeType: spec.mimeType } };
  }
  return create(SendStoryRequestSchema, { sessionId: options.sessionId, strategy: options.strategy, recipients, story: { content } });
}

/** How events reach the screen: redrawn on a terminal, line by line in a log, JSON for scripts. */
interface View {
  event(state: ViewState, response: SendStoryResponse): void;
  /** Removes anything drawn in place, so what follows starts on a clean line. */
  close(state: ViewState): void;
}

function jsonView(out: Output): View {
  return {
    event: (_state, response) => out.write(`${JSON.stringify(toJson(SendStoryResponseSchema, response, { alwaysEmitImplicit: true }))}\n`),
    close: () => undefined,
  };
}

function plainView(out: Output): View {
  return { event: (state, response) => write(out, formatEvent(state, response)), close: () => undefined };
}

function ttyView(out: Output, env: CliIO['env']): View {
  const style = { color: env.NO_COLOR === undefined || env.NO_COLOR === '' };
  const started = Date.now();
  let drawn = 0;
  let current: ViewState = initialState;
  const draw = (lines: readonly string[], withStatus: boolean): void => {
    // Back up over the old status block and clear it, print the new lines, then the block again.
    let text = drawn > 0 ? `\x1b[${drawn}F\x1b[J` : '';
    const status = withStatus ? formatStatus(current, { width: out.columns || 80, elapsedMs: Date.now() - started }, style) : [];
    for (const line of [...lines, ...status]) text += `${line}\n`;
    drawn = status.length;
    out.write(text);
  };
  // A slow batch can take many seconds; a ticking clock shows the send is alive.
  const timer = setInterval(() => draw([], true), 1000);
  timer.unref();
  draw([], true);
  return {
    event: (state, response) => {
      current = state;
      draw(formatEvent(state, response, style), response.event.case !== 'summary');
    },
    close: (state) => {
      clearInterval(timer);
      current = state;
      if (drawn > 0) draw([], false);
    },
  };
}

export async function run(argv: readonly string[], io: CliIO): Promise<number> {
  let options: CliOptions;
  let request: SendStoryRequest;
  try {
    const parsed = parseCliArgs(argv, io.env);
    if (parsed === 'help') {
      io.stdout.write(`${HELP}\n`);
      return 0;
    }
    options = parsed;
    request = await buildRequest(options, io);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    write(io.stderr, [`storycast send: ${error.message}`, 'Run with --help for usage.']);
    return 1;
  }

  const kind = request.story?.content.case ?? 'text';
  if (!options.json) {
    write(io.stdout, [
      `storycast: sending a${kind === 'image' ? 'n' : ''} ${kind} story to ${num(request.recipients.length)} recipients as session "${options.sessionId}" via ${options.server} (${options.protocol})`,
    ]);
  }
  const view = options.json ? jsonView(io.stdout) : io.stdout.isTTY ? ttyView(io.stdout, io.env) : plainView(io.stdout);

  const controller = new AbortController();
  const cancel = (): void => controller.abort();
  if (io.signal?.aborted) cancel();
  io.signal?.addEventListener('abort', cancel, { once: true });
  // Our own session manager, so the connection is closed when we are done instead of idling.
  const sessionManager = new Http2SessionManager(options.server);
  const transportOptions = { baseUrl: options.server, httpVersion: '2' as const, sessionManager };
  const transport = options.protocol === 'grpc' ? createGrpcTransport(transportOptions) : createConnectTransport(transportOptions);
  const client = createClient(StoryService, transport);

  let state = initialState;
  try {
    for await (const response of client.sendStory(request, { signal: controller.signal })) {
      state = reduce(state, response);
      view.event(state, response);
    }
  } catch (error) {
    view.close(state);
    // A cancel that lands after the summary changes nothing: the send is complete.
    if (controller.signal.aborted && !state.summary) {
      write(io.stderr, formatCancelled(state));
      return 130;
    }
    if (!state.summary) {
      write(io.stderr, describeError(error, options.server));
      if (options.json) io.stdout.write(`${JSON.stringify(errorJson(error))}\n`);
      return 1;
    }
  } finally {
    view.close(state);
    io.signal?.removeEventListener('abort', cancel);
    sessionManager.abort();
  }
  if (!state.summary) {
    write(io.stderr, ['error: the server ended the stream without a summary; the outcome of the send is unknown.']);
    return 1;
  }
  return exitCodeFor(state.summary);
}

const invokedDirectly = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  const controller = new AbortController();
  // `once`: a second Ctrl-C falls through to Node's default and quits at once.
  process.once('SIGINT', () => {
    process.stderr.write('\ncancelling… (Ctrl-C again to quit now)\n');
    controller.abort();
  });
  // Like SIGPIPE for other tools: when the reader of our output goes away (`| head`), stop the send.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    controller.abort();
  });
  const io: CliIO = {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    signal: controller.signal,
    // Lazy: touching process.stdin sets it up, which a send without `--file -` has no use for.
    get stdin() {
      return process.stdin;
    },
  };
  run(process.argv.slice(2), io).then((code) => {
    process.exitCode = code;
  }, exitOnStartupError('storycast send'));
}
