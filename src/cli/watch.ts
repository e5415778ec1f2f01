/**
 * `npm run storycast -- watch SEND_ID [options]`: follows a send that is
 * already running (or replays one that finished) through WatchSend, with the
 * same display as `send`. Leaving never cancels the send.
 */
import { runIfMain } from './run-main.js';
import { parseArgs } from 'node:util';
import { integer } from './args.js';
import { SERVER_OPTIONS, serverTargetFrom } from './connection.js';
import { follow, storyClient, write, type CliIO } from './follow.js';
import { parsedOrUsage, UsageError } from './usage-error.js';

export const WATCH_HELP = `Usage: npm run storycast -- watch SEND_ID [options]

Follow a send by its id (from "send --detach", "sends", or a SendStory planned
event): the events it has had are shown first, then live ones until its summary.
Ctrl-C stops watching; the send goes on.

  --after N       skip the first N events (default 0: from the start)
  --server URL    storycast server (default: $STORYCAST_SERVER, else http://127.0.0.1:50051)
  --protocol P    grpc (default) or connect
  --api-key KEY   the API key, when the server needs one (default: $STORYCAST_API_KEY,
                  which is better: other users can see a command line)
  --json          one JSON object per event on stdout (proto JSON)
  -h, --help      show this help

Exit codes: as "send": 0 everyone delivered, 2 some failed, 1 no such send or
the server failed, 130 stopped watching.`;

export interface WatchOptions {
  readonly sendId: string;
  readonly afterEvent: number;
  readonly server: string;
  readonly protocol: 'grpc' | 'connect';
  readonly apiKey: string | undefined;
  readonly json: boolean;
}

export function parseWatchArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): WatchOptions | 'help' {
  const { values, positionals } = parsedOrUsage(() =>
    parseArgs({
      args: [...argv],
      options: {
        after: { type: 'string' },
        ...SERVER_OPTIONS,
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
      strict: true,
    }),
  );
  if (values.help) return 'help';
  if (positionals.length !== 1 || positionals[0]!.trim() === '') throw new UsageError('give exactly one SEND_ID');
  return {
    sendId: positionals[0]!,
    afterEvent: values.after === undefined ? 0 : integer('after', values.after, 0, 2 ** 31 - 1),
    ...serverTargetFrom(values, env),
    json: values.json ?? false,
  };
}

export async function watch(argv: readonly string[], io: CliIO): Promise<number> {
  let options: WatchOptions;
  try {
    const parsed = parseWatchArgs(argv, io.env);
    if (parsed === 'help') {
      io.stdout.write(`${WATCH_HELP}\n`);
      return 0;
    }
    options = parsed;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    write(io.stderr, [`storycast watch: ${error.message}`, 'Run with --help for usage.']);
    return 1;
  }
  const client = storyClient(options.server, options.protocol, options.apiKey);
  try {
    const request = { sendId: options.sendId, afterEvent: options.afterEvent };
    return await follow((signal) => client.stories.watchSend(request, { signal }), new AbortController(), options, io);
  } finally {
    client.close();
  }
}

runIfMain(import.meta.url, 'storycast watch', (argv) => {
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  return watch(argv, { stdout: process.stdout, stderr: process.stderr, env: process.env, signal: controller.signal });
});
