/**
 * `npm run storycast -- schedules [delete ID]`: the sends a server will start
 * later (`send --at`, `send --repeat`), and ending one.
 */
import { runIfMain } from './run-main.js';
import { parseArgs } from 'node:util';
import { SERVER_OPTIONS, serverTargetFrom } from './connection.js';
import { describeError } from './errors.js';
import { storyClient, write, type CliIO } from './follow.js';
import { formatScheduled } from './progress.js';
import { parsedOrUsage, UsageError } from './usage-error.js';

export const SCHEDULES_HELP = `Usage: npm run storycast -- schedules [delete ID] [options]

The sends a server will start later: npm run send -- --at TIME, or --repeat CRON.

  (no command)    the schedules waiting, oldest first
  delete ID       delete a schedule: nothing more starts from it (for a single
                  scheduled send, the same as cancelling it)

  --session ID    only this session's schedules (default: every session's)
  --server URL    storycast server (default: $STORYCAST_SERVER, else http://127.0.0.1:50051)
  --protocol P    grpc (default) or connect
  --api-key KEY   the API key, when the server needs one (default: $STORYCAST_API_KEY)
  -h, --help      show this help`;

export interface SchedulesOptions {
  readonly command: 'list' | 'delete';
  readonly scheduleId: string;
  readonly sessionId: string;
  readonly server: string;
  readonly protocol: 'grpc' | 'connect';
  readonly apiKey: string | undefined;
}

export function parseSchedulesArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): SchedulesOptions | 'help' {
  const { values, positionals } = parsedOrUsage(() =>
    parseArgs({
      args: [...argv],
      options: {
        session: { type: 'string' },
        ...SERVER_OPTIONS,
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
      strict: true,
    }),
  );
  if (values.help) return 'help';
  const [word = 'list', scheduleId = '', ...extra] = positionals;
  if (word !== 'list' && word !== 'delete') throw new UsageError(`unknown command "${word}": expected delete`);
  if (word === 'delete' && scheduleId === '') throw new UsageError("delete needs the schedule's ID (the list shows them)");
  if (extra.length > 0 || (word === 'list' && scheduleId !== '')) throw new UsageError(`unexpected argument "${extra[0] ?? scheduleId}"`);
  return {
    command: word,
    scheduleId,
    sessionId: values.session ?? '',
    ...serverTargetFrom(values, env),
  };
}

export async function schedules(argv: readonly string[], io: CliIO): Promise<number> {
  let options: SchedulesOptions;
  try {
    const parsed = parseSchedulesArgs(argv, io.env);
    if (parsed === 'help') {
      io.stdout.write(`${SCHEDULES_HELP}\n`);
      return 0;
    }
    options = parsed;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    write(io.stderr, [`storycast schedules: ${error.message}`, 'Run with --help for usage.']);
    return 1;
  }
  const { stories, close } = storyClient(options.server, options.protocol, options.apiKey);
  try {
    if (options.command === 'delete') {
      const { schedule } = await stories.deleteSchedule({ scheduleId: options.scheduleId });
      write(io.stdout, [`deleted schedule ${options.scheduleId}${schedule?.sendId ? `: send ${schedule.sendId} is cancelled` : ''}`]);
      return 0;
    }
    let pageToken = '';
    let shown = 0;
    do {
      const page = await stories.listSchedules({ sessionId: options.sessionId, pageSize: 1000, pageToken });
      write(
        io.stdout,
        page.schedules.map((s) => `${s.sessionId}  ${formatScheduled(s)}`),
      );
      shown += page.schedules.length;
      pageToken = page.nextPageToken;
    } while (pageToken !== '');
    if (shown === 0) write(io.stdout, [options.sessionId ? `session "${options.sessionId}" has no schedules` : 'no schedules']);
    return 0;
  } catch (error) {
    write(io.stderr, describeError(error, options.server));
    return 1;
  } finally {
    close();
  }
}

runIfMain(import.meta.url, 'storycast schedules', (argv) =>
  schedules(argv, { stdout: process.stdout, stderr: process.stderr, env: process.env }),
);
