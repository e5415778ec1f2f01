/**
 * `npm run storycast -- lists [save|show|delete] ...`: a session's saved
 * recipient lists (SaveRecipientList and friends), for `send --list NAME`.
 */
import { runIfMain } from './run-main.js';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import type { RecipientList } from '../gen/storycast/v1/recipient_list_pb.js';
import { demoRecipients, parseRecipientFile } from './args.js';
import { integer } from './args.js';
import { SERVER_OPTIONS, serverTargetFrom } from './connection.js';
import { describeError } from './errors.js';
import { storyClient, write, type CliIO } from './follow.js';
import { num } from './progress.js';
import { parsedOrUsage, UsageError } from './usage-error.js';

export const LISTS_HELP = `Usage: npm run storycast -- lists [command] [NAME] [options]

A session's saved recipient lists: send to one with npm run send -- --list NAME.

  (no command)    the session's lists, by name, with their sizes
  save NAME       save (or replace) a list from --file and/or --recipients
  show NAME       print a list's recipients, one per line
  delete NAME     delete a list

  --session ID    the session (default: demo)
  --file PATH     save: numbers or JIDs, one per line ("-" reads standard input)
  --recipients N  save: add N fake, distinct demo numbers
  --server URL    storycast server (default: $STORYCAST_SERVER, else http://127.0.0.1:50051)
  --protocol P    grpc (default) or connect
  --api-key KEY   the API key, when the server needs one (default: $STORYCAST_API_KEY)
  -h, --help      show this help`;

type Command = 'list' | 'save' | 'show' | 'delete';

export interface ListsOptions {
  readonly command: Command;
  readonly name: string;
  readonly sessionId: string;
  readonly file: string | undefined;
  readonly demoRecipients: number;
  readonly server: string;
  readonly protocol: 'grpc' | 'connect';
  readonly apiKey: string | undefined;
}

export function parseListsArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ListsOptions | 'help' {
  const { values, positionals } = parsedOrUsage(() =>
    parseArgs({
      args: [...argv],
      options: {
        session: { type: 'string' },
        file: { type: 'string' },
        recipients: { type: 'string' },
        ...SERVER_OPTIONS,
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
      strict: true,
    }),
  );
  if (values.help) return 'help';
  const [word = 'list', name = '', ...extra] = positionals;
  if (!['list', 'save', 'show', 'delete'].includes(word)) throw new UsageError(`unknown command "${word}": expected save, show or delete`);
  const command = word as Command;
  if (command !== 'list' && name === '') throw new UsageError(`${command} needs the list's NAME`);
  if (extra.length > 0 || (command === 'list' && name !== '')) throw new UsageError(`unexpected argument "${extra[0] ?? name}"`);
  const demo = values.recipients === undefined ? 0 : integer('recipients', values.recipients, 1, 100_000);
  if (command === 'save' && values.file === undefined && demo === 0) {
    throw new UsageError('save needs recipients: --file PATH and/or --recipients N');
  }
  if (command !== 'save' && (values.file !== undefined || demo > 0)) throw new UsageError('--file and --recipients go with save');
  return {
    command,
    name,
    sessionId: values.session ?? 'demo',
    file: values.file,
    demoRecipients: demo,
    ...serverTargetFrom(values, env),
  };
}

/** "vip  1,204 recipients  updated 2026-12-01T09:00:00.000Z" */
export function formatList(list: RecipientList): string {
  const updated = list.updateTime ? timestampDate(list.updateTime).toISOString() : '-';
  return `${list.name}  ${num(list.recipientCount)} recipient${list.recipientCount === 1 ? '' : 's'}  updated ${updated}`;
}

async function recipientsOf(options: ListsOptions, io: CliIO): Promise<string[]> {
  const out: string[] = [];
  if (options.file !== undefined) {
    const path = options.file;
    const text = await (path === '-' ? readStdin(io) : readFile(path, 'utf8')).catch((error: Error) => {
      throw new UsageError(`--file: cannot read "${path}": ${error.message}`);
    });
    out.push(...parseRecipientFile(text));
  }
  out.push(...demoRecipients(options.demoRecipients));
  return out;
}

async function readStdin(io: CliIO): Promise<string> {
  if (!io.stdin) throw new Error('no standard input to read');
  const chunks: Buffer[] = [];
  for await (const chunk of io.stdin) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}

export async function lists(argv: readonly string[], io: CliIO): Promise<number> {
  let options: ListsOptions;
  let recipients: string[] = [];
  try {
    const parsed = parseListsArgs(argv, io.env);
    if (parsed === 'help') {
      io.stdout.write(`${LISTS_HELP}\n`);
      return 0;
    }
    options = parsed;
    if (options.command === 'save') recipients = await recipientsOf(options, io);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    write(io.stderr, [`storycast lists: ${error.message}`, 'Run with --help for usage.']);
    return 1;
  }
  const { stories, close } = storyClient(options.server, options.protocol, options.apiKey);
  const { sessionId, name } = options;
  try {
    if (options.command === 'save') {
      const saved = await stories.saveRecipientList({ sessionId, name, recipients });
      const dropped = saved.duplicateRecipients > 0 ? ` (${num(saved.duplicateRecipients)} duplicates dropped)` : '';
      write(io.stdout, [`saved ${formatList(saved.list!)}${dropped}`]);
    } else if (options.command === 'show') {
      const { list } = await stories.getRecipientList({ sessionId, name });
      write(io.stdout, list!.recipients);
    } else if (options.command === 'delete') {
      const { existed } = await stories.deleteRecipientList({ sessionId, name });
      write(io.stdout, [existed ? `deleted "${name}"` : `session "${sessionId}" had no list "${name}"`]);
    } else {
      let pageToken = '';
      let shown = 0;
      do {
        const page = await stories.listRecipientLists({ sessionId, pageSize: 1000, pageToken });
        write(io.stdout, page.lists.map(formatList));
        shown += page.lists.length;
        pageToken = page.nextPageToken;
      } while (pageToken !== '');
      if (shown === 0) write(io.stdout, [`session "${sessionId}" has no saved lists`]);
    }
    return 0;
  } catch (error) {
    write(io.stderr, describeError(error, options.server));
    return 1;
  } finally {
    close();
  }
}

runIfMain(import.meta.url, 'storycast lists', (argv) =>
  lists(argv, { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env }),
);
