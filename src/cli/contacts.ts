/**
 * `npm run storycast -- contacts [options]`: a session's WhatsApp contacts as
 * its device synced them (ListContacts, page by page), what `send
 * --all-contacts` sends to.
 */
import { runIfMain } from './run-main.js';
import { parseArgs } from 'node:util';
import { createClient } from '@connectrpc/connect';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { SessionService } from '../gen/storycast/v1/session_service_pb.js';
import { integer } from './args.js';
import { serverTransport, SERVER_OPTIONS, serverTargetFrom } from './connection.js';
import { describeError } from './errors.js';
import { write, type CliIO } from './follow.js';
import { num } from './progress.js';
import { parsedOrUsage, UsageError } from './usage-error.js';

export const CONTACTS_HELP = `Usage: npm run storycast -- contacts [options]

A session's WhatsApp contacts, by JID, as its linked device synced them: who
npm run send -- --all-contacts sends to.

  --session ID    the session (default: demo)
  --limit N       at most N (default: all)
  --server URL    storycast server (default: $STORYCAST_SERVER, else http://127.0.0.1:50051)
  --protocol P    grpc (default) or connect
  --api-key KEY   the API key, when the server needs one (default: $STORYCAST_API_KEY)
  -h, --help      show this help`;

export async function contacts(argv: readonly string[], io: CliIO): Promise<number> {
  let options: { sessionId: string; limit: number; server: string; protocol: 'grpc' | 'connect'; apiKey: string | undefined };
  try {
    const values = parsedOrUsage(
      () =>
        parseArgs({
          args: [...argv],
          options: {
            session: { type: 'string' },
            limit: { type: 'string' },
            ...SERVER_OPTIONS,
            help: { type: 'boolean', short: 'h' },
          },
          strict: true,
        }).values,
    );
    if (values.help) {
      io.stdout.write(`${CONTACTS_HELP}\n`);
      return 0;
    }
    options = {
      sessionId: values.session ?? 'demo',
      limit: values.limit === undefined ? Number.POSITIVE_INFINITY : integer('limit', values.limit, 1, 1_000_000),
      ...serverTargetFrom(values, io.env),
    };
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    write(io.stderr, [`storycast contacts: ${error.message}`, 'Run with --help for usage.']);
    return 1;
  }
  const { transport, close } = serverTransport(options);
  const client = createClient(SessionService, transport);
  try {
    let pageToken = '';
    let shown = 0;
    let total = 0;
    let synced: Date | undefined;
    do {
      const page = await client.listContacts({ sessionId: options.sessionId, pageSize: Math.min(1000, options.limit - shown), pageToken });
      write(
        io.stdout,
        page.contacts.map((c) => [c.jid, c.name, c.notify ? `~${c.notify}` : ''].filter(Boolean).join('  ')),
      );
      shown += page.contacts.length;
      total = page.totalSize;
      synced = page.syncTime ? timestampDate(page.syncTime) : undefined;
      pageToken = page.nextPageToken;
    } while (pageToken !== '' && shown < options.limit);
    write(io.stderr, [
      synced ? `${num(total)} contacts, synced ${synced.toISOString()}` : `session "${options.sessionId}" has not synced its contacts yet`,
    ]);
    return 0;
  } catch (error) {
    write(io.stderr, describeError(error, options.server));
    return 1;
  } finally {
    close();
  }
}

runIfMain(import.meta.url, 'storycast contacts', (argv) =>
  contacts(argv, { stdout: process.stdout, stderr: process.stderr, env: process.env }),
);
