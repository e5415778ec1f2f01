/**
 * `npm run pair -- --session NAME [--phone NUMBER] [--server URL]`: links a
 * WhatsApp account to a running storycast server. Draws each QR code in the
 * terminal as it rotates (or prints the pairing code when --phone is given),
 * then the session's state until it is open. Exit 0 when linked, 1 otherwise.
 */
import { runIfMain } from './run-main.js';
import { parseArgs } from 'node:util';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import QRCode from 'qrcode';
import { SessionService } from '../gen/storycast/v1/session_service_pb.js';
import { sessionStateFromProto } from '../server/session-state.js';
import type { SessionStateName } from '../transport/sessions.js';
import { apiKeyFrom, serverTransport } from './connection.js';
import { authHint } from './errors.js';
import { serverFrom } from './server-address.js';

const HELP = `Usage: npm run pair -- --session NAME [--phone NUMBER] [--server URL] [--api-key KEY]

Links a WhatsApp account to a running storycast server (STORYCAST_TRANSPORT=baileys).
Scan the QR code in WhatsApp > Settings > Linked devices > Link a device, or, with
--phone (international format), enter the pairing code WhatsApp asks for.

A server with API keys needs an admin key for the session: --api-key KEY, or better
$STORYCAST_API_KEY (other users can see a command line).
`;

const STATE_LABEL: Readonly<Record<SessionStateName, string>> = {
  connecting: 'connecting',
  pairing: 'waiting to be linked',
  open: 'open: linked and ready to send',
  closed: 'closed',
  'logged-out': 'logged out',
  replaced: 'replaced by another client',
  forbidden: 'forbidden',
  banned: 'banned',
  failed: 'stopped after an error',
  unpaired: 'not linked',
};

export interface PairIO {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly signal?: AbortSignal;
}

export async function pair(argv: string[], io: PairIO): Promise<number> {
  let values: { session?: string; phone?: string; server?: string; 'api-key'?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        session: { type: 'string' },
        phone: { type: 'string' },
        server: { type: 'string' },
        'api-key': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (error) {
    io.stderr.write(`pair: ${(error as Error).message}\n\n${HELP}`);
    return 1;
  }
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  if (!values.session) {
    io.stderr.write(`pair: --session is required\n\n${HELP}`);
    return 1;
  }
  let baseUrl: string;
  let apiKey: string | undefined;
  try {
    baseUrl = serverFrom(values.server, io.env);
    apiKey = apiKeyFrom(values['api-key'], io.env);
  } catch (error) {
    io.stderr.write(`pair: ${(error as Error).message}\n`);
    return 1;
  }
  const connection = serverTransport({ server: baseUrl, protocol: 'grpc', apiKey });
  const client = createClient(SessionService, connection.transport);
  try {
    let open = false;
    for await (const response of client.connectSession(
      { sessionId: values.session, phoneNumber: values.phone ?? '' },
      { signal: io.signal },
    )) {
      const event = response.event;
      if (event.case === 'qr') {
        io.stdout.write(
          `\nScan this in WhatsApp > Linked devices (it changes every ~20 s):\n${await QRCode.toString(event.value.code, { type: 'terminal', small: true })}\n`,
        );
      } else if (event.case === 'pairingCode') {
        io.stdout.write(`\nPairing code: ${event.value.code}\nEnter it in WhatsApp > Linked devices > Link with phone number.\n`);
      } else if (event.case === 'session') {
        const s = event.value;
        const state = sessionStateFromProto(s.state);
        open = state === 'open';
        io.stdout.write(
          `session ${s.sessionId}: ${state ? STATE_LABEL[state] : 'unknown'}${s.account ? ` (${s.account})` : ''}${s.reason ? ` — ${s.reason}` : ''}\n`,
        );
      }
    }
    return open ? 0 : 1;
  } catch (error) {
    const e = ConnectError.from(error);
    io.stderr.write(
      e.code === Code.Unavailable && /ECONNREFUSED|connect/.test(e.message)
        ? `pair: cannot reach a storycast server at ${baseUrl}. Start it with STORYCAST_TRANSPORT=baileys npm start\n`
        : `pair: ${Code[e.code]}: ${e.rawMessage}\n${authHint(e)
            .map((line) => `${line}\n`)
            .join('')}`,
    );
    return 1;
  } finally {
    connection.close();
  }
}

runIfMain(import.meta.url, 'pair', (argv) => {
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  return pair(argv, { stdout: process.stdout, stderr: process.stderr, env: process.env, signal: controller.signal });
});
