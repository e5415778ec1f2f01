/**
 * Following a send's event stream on screen, shared by `send` (SendStory) and
 * `watch` (WatchSend): redrawn in place on a terminal, one line per event in a
 * log, JSON for scripts; Ctrl-C stops following (and, for a send started with
 * the default on_disconnect, cancels it on the server).
 */
import { toJson } from '@bufbuild/protobuf';
import { createClient, type Client } from '@connectrpc/connect';
import { SendStoryResponseSchema, StoryService, type SendStoryResponse } from '../gen/storycast/v1/story_service_pb.js';
import { serverTransport } from './connection.js';
import { describeError, errorJson } from './errors.js';
import { exitCodeFor, formatCancelled, formatEvent, formatStatus, initialState, reduce, type ViewState } from './progress.js';

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

export const write = (out: Output, lines: readonly string[]): void => {
  if (lines.length > 0) out.write(lines.map((line) => `${line}\n`).join(''));
};

/** A StoryService client on its own HTTP/2 session, closed when we are done instead of idling. */
export function storyClient(
  server: string,
  protocol: 'grpc' | 'connect',
  apiKey?: string,
): { stories: Client<typeof StoryService>; close(): void } {
  const { transport, close } = serverTransport({ server, protocol, apiKey });
  return { stories: createClient(StoryService, transport), close };
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

/**
 * Shows a stream of send events until its summary; the exit code follows the
 * summary (0 everyone delivered, 2 some failed), 1 for an error or a stream
 * without a summary, 130 when the caller stopped following.
 */
export async function follow(
  open: (signal: AbortSignal) => AsyncIterable<SendStoryResponse>,
  controller: AbortController,
  options: { readonly json: boolean; readonly server: string },
  io: CliIO,
): Promise<number> {
  const view = options.json ? jsonView(io.stdout) : io.stdout.isTTY ? ttyView(io.stdout, io.env) : plainView(io.stdout);
  const cancel = (): void => controller.abort();
  if (io.signal?.aborted) cancel();
  io.signal?.addEventListener('abort', cancel, { once: true });
  let state = initialState;
  try {
    for await (const response of open(controller.signal)) {
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
  }
  if (!state.summary) {
    write(io.stderr, ['error: the server ended the stream without a summary; the outcome of the send is unknown.']);
    return 1;
  }
  return exitCodeFor(state.summary);
}
