/**
 * `npm run storycast -- sends [options]`: the sends a server runs or ran
 * (ListSends, page by page), one line each, newest first.
 */
import { runIfMain } from './run-main.js';
import { parseArgs } from 'node:util';
import { toJson } from '@bufbuild/protobuf';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { SendSchema, SendState, type Send } from '../gen/storycast/v1/story_service_pb.js';
import { integer } from './args.js';
import { describeError } from './errors.js';
import { SERVER_OPTIONS, serverTargetFrom } from './connection.js';
import { storyClient, write, type CliIO } from './follow.js';
import { num, percent } from './progress.js';
import { parsedOrUsage, UsageError } from './usage-error.js';

export const SENDS_HELP = `Usage: npm run storycast -- sends [options]

List the sends a server runs or ran (kept a retention after they end), newest first.

  --session ID    only this session's
  --state S       only running, succeeded, cancelled or failed ones
  --limit N       at most N (default 50)
  --server URL    storycast server (default: $STORYCAST_SERVER, else http://127.0.0.1:50051)
  --protocol P    grpc (default) or connect
  --api-key KEY   the API key, when the server needs one (default: $STORYCAST_API_KEY,
                  which is better: other users can see a command line); a key for some
                  sessions lists only their sends
  --json          one JSON object per send (proto JSON)
  -h, --help      show this help`;

const STATES: Readonly<Record<string, SendState>> = {
  running: SendState.RUNNING,
  succeeded: SendState.SUCCEEDED,
  cancelled: SendState.CANCELLED,
  failed: SendState.FAILED,
};

export interface SendsOptions {
  readonly sessionId: string;
  readonly state: SendState;
  readonly limit: number;
  readonly server: string;
  readonly protocol: 'grpc' | 'connect';
  readonly apiKey: string | undefined;
  readonly json: boolean;
}

export function parseSendsArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): SendsOptions | 'help' {
  const values = parsedOrUsage(
    () =>
      parseArgs({
        args: [...argv],
        options: {
          session: { type: 'string' },
          state: { type: 'string' },
          limit: { type: 'string' },
          ...SERVER_OPTIONS,
          json: { type: 'boolean' },
          help: { type: 'boolean', short: 'h' },
        },
        strict: true,
      }).values,
  );
  if (values.help) return 'help';
  const state = values.state === undefined ? SendState.UNSPECIFIED : STATES[values.state.toLowerCase()];
  if (state === undefined) throw new UsageError(`--state: "${values.state}" is not one of ${Object.keys(STATES).join(', ')}`);
  return {
    sessionId: values.session ?? '',
    state,
    limit: values.limit === undefined ? 50 : integer('limit', values.limit, 1, 100_000),
    ...serverTargetFrom(values, env),
    json: values.json ?? false,
  };
}

/** "3f2c… RUNNING   demo  adaptive  1,200/5,000 (24%)  failed 0  since 12:03:04" */
export function formatSend(send: Send): string {
  const state = (SendState[send.state] ?? 'UNKNOWN').padEnd(9);
  const done = `${num(send.delivered)}/${num(send.total)} (${percent(send.delivered, send.total)})`;
  const created = send.createTime ? timestampDate(send.createTime).toISOString() : '-';
  return `${send.sendId}  ${state}  ${send.sessionId}  ${send.strategy}  ${done}  failed ${num(send.failed)}  created ${created}`;
}

export async function sends(argv: readonly string[], io: CliIO): Promise<number> {
  let options: SendsOptions;
  try {
    const parsed = parseSendsArgs(argv, io.env);
    if (parsed === 'help') {
      io.stdout.write(`${SENDS_HELP}\n`);
      return 0;
    }
    options = parsed;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    write(io.stderr, [`storycast sends: ${error.message}`, 'Run with --help for usage.']);
    return 1;
  }
  const client = storyClient(options.server, options.protocol, options.apiKey);
  try {
    let pageToken = '';
    let shown = 0;
    do {
      const page = await client.stories.listSends({
        sessionId: options.sessionId,
        state: options.state,
        pageSize: Math.min(1000, options.limit - shown),
        pageToken,
      });
      for (const send of page.sends) {
        write(io.stdout, [options.json ? JSON.stringify(toJson(SendSchema, send, { alwaysEmitImplicit: true })) : formatSend(send)]);
        shown++;
      }
      pageToken = page.nextPageToken;
    } while (pageToken !== '' && shown < options.limit);
    if (shown === 0 && !options.json) write(io.stdout, ['no sends']);
    return 0;
  } catch (error) {
    write(io.stderr, describeError(error, options.server));
    return 1;
  } finally {
    client.close();
  }
}

runIfMain(import.meta.url, 'storycast sends', (argv) => sends(argv, { stdout: process.stdout, stderr: process.stderr, env: process.env }));
