/**
 * `npm run send -- [options]`: one SendStory call against a running server,
 * with live progress. The I/O lives here and stays thin; what is shown comes
 * from the pure functions in progress.ts and errors.ts. See args.ts for the
 * options and exit codes (or run with --help).
 */
import { runIfMain } from './run-main.js';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { create, toJson, type MessageInitShape } from '@bufbuild/protobuf';
import {
  OnDisconnect,
  SendStoryRequestSchema,
  SendStoryResponseSchema,
  type SendStoryRequest,
  type StorySchema,
} from '../gen/storycast/v1/story_service_pb.js';
import { follow, storyClient, write, type CliIO } from './follow.js';
import { demoRecipients, HELP, parseCliArgs, parseRecipientFile, UsageError, type CliOptions } from './args.js';
import { describeError } from './errors.js';
import { formatScheduled, num } from './progress.js';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';

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
    if (listed.length === 0 && options.demoRecipients === 0 && options.list === '' && !options.allContacts) {
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
  return create(SendStoryRequestSchema, {
    sessionId: options.sessionId,
    strategy: options.strategy,
    experiment: options.experiment,
    recipients,
    recipientList: options.list,
    allContacts: options.allContacts,
    story: { content },
    ...(options.startAt === undefined ? {} : { startTime: timestampFromMs(options.startAt) }),
    repeat: options.repeat,
    timeZone: options.timeZone,
  });
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
  if (options.requestId) request.requestId = options.requestId;
  if (!options.json && !options.detach) {
    write(io.stdout, [
      `storycast: sending a${kind === 'image' ? 'n' : ''} ${kind} story to ${num(request.recipients.length)} recipients${request.recipientList ? ` and saved list "${request.recipientList}"` : ''}${request.allContacts ? ' and all contacts' : ''} as session "${options.sessionId}" via ${options.server} (${options.protocol})`,
    ]);
  }
  if (options.startAt !== undefined || options.repeat !== '') return schedule(request, options, io);
  if (options.detach) return detach(request, options, io);
  const client = storyClient(options.server, options.protocol, options.apiKey);
  const controller = new AbortController();
  try {
    return await follow(
      (signal) => client.stories.sendStory(request, { signal }),
      controller,
      { json: options.json, server: options.server },
      io,
    );
  } finally {
    client.close();
  }
}

/** --at and --repeat: the server answers with what it scheduled, and we leave (the send is the server's now). */
async function schedule(request: SendStoryRequest, options: CliOptions, io: CliIO): Promise<number> {
  const client = storyClient(options.server, options.protocol, options.apiKey);
  try {
    for await (const response of client.stories.sendStory(request)) {
      if (response.event.case !== 'scheduled' || !response.event.value.schedule) continue;
      const scheduled = response.event.value.schedule;
      if (options.json) io.stdout.write(`${JSON.stringify(toJson(SendStoryResponseSchema, response, { alwaysEmitImplicit: true }))}\n`);
      else {
        write(io.stdout, [
          formatScheduled(scheduled),
          scheduled.repeat === ''
            ? `follow it with: npm run storycast -- watch ${scheduled.sendId} --server ${options.server}; cancel it with: npm run storycast -- schedules delete ${scheduled.scheduleId}`
            : `each occurrence is a send of its own (npm run storycast -- sends); stop it with: npm run storycast -- schedules delete ${scheduled.scheduleId}`,
        ]);
      }
      return 0;
    }
    write(io.stderr, ['error: the server did not schedule the send (is it older than this command?).']);
    return 1;
  } catch (error) {
    write(io.stderr, describeError(error, options.server));
    return 1;
  } finally {
    client.close();
  }
}

/**
 * --detach: the send is started with ON_DISCONNECT_CONTINUE and a request id
 * (made up when none was given, and printed, so running the command again
 * attaches rather than sends twice); once the server has planned it, its id
 * is printed and we leave.
 */
async function detach(request: SendStoryRequest, options: CliOptions, io: CliIO): Promise<number> {
  request.onDisconnect = OnDisconnect.CONTINUE;
  request.requestId = options.requestId || randomUUID();
  const client = storyClient(options.server, options.protocol, options.apiKey);
  const controller = new AbortController();
  try {
    for await (const response of client.stories.sendStory(request, { signal: controller.signal })) {
      if (response.event.case !== 'planned') continue;
      const planned = response.event.value;
      if (options.json) io.stdout.write(`${JSON.stringify(toJson(SendStoryResponseSchema, response, { alwaysEmitImplicit: true }))}\n`);
      else {
        write(io.stdout, [
          `send ${planned.sendId} planned: ${num(planned.totalRecipients)} recipients, strategy ${planned.strategy} (request id ${request.requestId})`,
          `follow it with: npm run storycast -- watch ${planned.sendId} --server ${options.server}`,
        ]);
      }
      return 0;
    }
    write(io.stderr, ['error: the server ended the stream before planning the send.']);
    return 1;
  } catch (error) {
    write(io.stderr, describeError(error, options.server));
    return 1;
  } finally {
    // Leaving is the point: the send goes on without us.
    controller.abort();
    client.close();
  }
}

runIfMain(import.meta.url, 'storycast send', (argv) => {
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
  return run(argv, io);
});
