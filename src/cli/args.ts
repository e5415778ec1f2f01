/**
 * Options of `npm run send`: parsing and checking only, no I/O, so every
 * mistake a person can type is tested as a message that names the option.
 */
import { extname } from 'node:path';
import { parseArgs } from 'node:util';
import { HEX_COLOUR_FORMAT, isHexColour } from '../util/hex-colour.js';
import { SERVER_OPTIONS, serverTargetFrom } from './connection.js';
import { DEFAULT_SERVER } from './server-address.js';
import { UsageError } from './usage-error.js';

export { DEFAULT_SERVER, UsageError };
export const DEFAULT_TEXT = 'Hello from storycast 👋';
/** +1555 and seven digits: the demo list cannot hold more distinct numbers. */
export const MAX_DEMO_RECIPIENTS = 10_000_000;

export const HELP = `Usage: npm run send -- [options]

Send one WhatsApp status through a running storycast server and watch it go
out batch by batch.

Recipients (at least one of; the server takes the union, duplicates dropped):
  --file PATH            numbers or JIDs, one per line; blank lines and # comments
                         are ignored; "-" reads standard input
  --recipients N         add N fake, distinct demo numbers (+15550000000, ...)
  --list NAME            a list saved on the server for this session
                         (npm run storycast -- lists save NAME --file PATH)
  --all-contacts         every contact of the session's WhatsApp account
                         (npm run storycast -- contacts lists them)

Story (a text story unless a media option is given):
  --text STR             the text (default: "${DEFAULT_TEXT}")
  --background-color C   text background, ${HEX_COLOUR_FORMAT}
  --font N               WhatsApp font number, 0-9
  --image PATH           an image file (type from the extension)
  --video PATH           a video file (type from the extension)
  --image-url URL        an image the server downloads
  --video-url URL        a video the server downloads
  --url URL              media by URL, image or video told by the extension
  --caption STR          text under the image or video

Server and send:
  --server URL           storycast server (default: $STORYCAST_SERVER, else
                         ${DEFAULT_SERVER}); "host:port" means http://host:port
  --protocol P           grpc (default) or connect
  --api-key KEY          the API key, when the server needs one (default:
                         $STORYCAST_API_KEY, which is better: other users can
                         see a command line)
  --session ID           WhatsApp session to send from (default: demo)
  --strategy NAME        batch-size strategy (default: the server's)
  --experiment KEY       let this experiment pick the strategy (and count the send)
  --request-id ID        idempotency key: sending again with it attaches to that
                         send instead of starting another (1-128 printable ASCII)
  --detach               print the send id once it is planned and exit; the send
                         goes on (follow it with: npm run storycast -- watch ID)

When (default: now; the server keeps schedules across restarts):
  --at TIME              start then, e.g. 2026-12-24T09:00:00+01:00 (an ISO 8601
                         time with its offset or Z); prints the send id and exits
  --repeat CRON          one send per occurrence of a cron expression, e.g.
                         "0 9 * * 1-5" (09:00 on weekdays), until deleted with
                         npm run storycast -- schedules delete ID
  --tz ZONE              the IANA time zone --repeat is read in, e.g.
                         Europe/Lisbon (default UTC)

Output:
  --json                 one JSON object per event on stdout (proto JSON), for scripts;
                         with --detach, the planned event alone
  -h, --help             show this help

On a terminal a progress bar redraws in place; otherwise one line per event.
Ctrl-C cancels the send (the batch in flight finishes on the server).

Exit codes: 0 everyone delivered, 2 the send finished but some recipients failed,
1 the send did not run (bad option, unreadable file, server error or unreachable),
130 cancelled.

Examples:
  npm start                                    # the server, in another terminal
  npm run send -- --recipients 5000
  npm run send -- --file contacts.txt --image photo.jpg --caption "Hi!"
  npm run send -- --recipients 300 --strategy conservative --json > events.jsonl
  npm run send -- --list team --repeat "0 9 * * 1-5" --tz Europe/Lisbon`;

export type MediaSource = { readonly path: string } | { readonly url: string };

export type StorySpec =
  | { readonly kind: 'text'; readonly text: string; readonly backgroundColor: string; readonly font: number }
  | { readonly kind: 'image' | 'video'; readonly source: MediaSource; readonly caption: string; readonly mimeType: string };

export interface CliOptions {
  readonly server: string;
  readonly protocol: 'grpc' | 'connect';
  /** undefined: none sent. */
  readonly apiKey: string | undefined;
  readonly sessionId: string;
  readonly strategy: string;
  /** An experiment's key; '' for none (the server's default experiment, if any). */
  readonly experiment: string;
  readonly json: boolean;
  /** The send goes on without us: exit once it is planned. */
  readonly detach: boolean;
  /** '' for none (with --detach one is made up, so a retry of the command can attach). */
  readonly requestId: string;
  /** Path of the recipient file, "-" for stdin. */
  readonly file: string | undefined;
  readonly demoRecipients: number;
  /** A saved list's name; '' for none. */
  readonly list: string;
  readonly allContacts: boolean;
  readonly story: StorySpec;
  /** --at: when the send starts (ms since the epoch); undefined for now. */
  readonly startAt: number | undefined;
  /** --repeat: a cron expression; '' for a single send. */
  readonly repeat: string;
  /** --tz: the zone --repeat is read in; '' for UTC. */
  readonly timeZone: string;
}

const MIME_BY_EXTENSION: Readonly<Record<string, string>> = {
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
  '.mp4': 'video/mp4',
  '.m4v': 'video/mp4',
  '.mov': 'video/quicktime',
  '.3gp': 'video/3gpp',
  '.webm': 'video/webm',
};

/** "" when unknown: the server guesses from the bytes. */
export function mimeTypeFor(pathOrUrl: string): string {
  let path = pathOrUrl;
  try {
    path = new URL(pathOrUrl).pathname;
  } catch {
    // a file path, not a URL
  }
  return MIME_BY_EXTENSION[extname(path).toLowerCase()] ?? '';
}

const OPTIONS = {
  ...SERVER_OPTIONS,
  session: { type: 'string' },
  strategy: { type: 'string' },
  experiment: { type: 'string' },
  recipients: { type: 'string' },
  file: { type: 'string' },
  list: { type: 'string' },
  'all-contacts': { type: 'boolean' },
  text: { type: 'string' },
  'background-color': { type: 'string' },
  font: { type: 'string' },
  image: { type: 'string' },
  video: { type: 'string' },
  'image-url': { type: 'string' },
  'video-url': { type: 'string' },
  url: { type: 'string' },
  caption: { type: 'string' },
  json: { type: 'boolean' },
  detach: { type: 'boolean' },
  'request-id': { type: 'string' },
  at: { type: 'string' },
  repeat: { type: 'string' },
  tz: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** node:util's messages explain parser internals; people need the option and what to do. */
function rephrase(error: unknown): UsageError {
  const { code, message } = error as { code?: string; message: string };
  const option = /'([^' ]+)/.exec(message)?.[1] ?? '';
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return new UsageError(`unknown option ${option}`);
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return new UsageError(message.includes('does not take an argument') ? `${option} does not take a value` : `${option} needs a value`);
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return new UsageError(`unexpected argument "${option}"; every value follows its option, as in --text "Hi"`);
    default:
      return new UsageError(message);
  }
}

/** The server's rule for request_id, checked here so the mistake names the option. */
function requestIdFrom(value: string | undefined): string {
  if (value === undefined) return '';
  if (!/^[\x21-\x7E]{1,128}$/.test(value))
    throw new UsageError(`--request-id: "${value}" is not 1-128 printable ASCII characters without spaces`);
  return value;
}

export function integer(option: string, value: string, min: number, max: number): number {
  const n = /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${option}: "${value}" is not a whole number from ${min} to ${max.toLocaleString('en-US')}`);
  }
  return n;
}

/** 'help' when --help is given: nothing else is checked then, so help always works. */
export function parseCliArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): CliOptions | 'help' {
  let values: { [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };
  try {
    values = parseArgs({ args: [...argv], options: OPTIONS, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw rephrase(error);
  }
  if (values.help) return 'help';
  const story = parseStory(values);
  const { server, protocol, apiKey } = serverTargetFrom(values, env);
  const sessionId = values.session ?? 'demo';
  if (sessionId.trim() === '') throw new UsageError('--session must not be empty');
  const demoRecipients = values.recipients === undefined ? 0 : integer('recipients', values.recipients, 1, MAX_DEMO_RECIPIENTS);
  if (values.file === '') throw new UsageError('--file needs a path ("-" for standard input)');
  if (values.list === '') throw new UsageError('--list needs the name of a saved list');
  if (values.file === undefined && demoRecipients === 0 && values.list === undefined && !values['all-contacts']) {
    throw new UsageError(
      'no recipients: give --file PATH (your list), --list NAME (a list saved on the server), --all-contacts or --recipients N (a demo list)',
    );
  }
  return {
    server,
    protocol,
    apiKey,
    sessionId,
    strategy: values.strategy ?? '',
    experiment: values.experiment ?? '',
    json: values.json ?? false,
    detach: values.detach ?? false,
    requestId: requestIdFrom(values['request-id']),
    file: values.file,
    demoRecipients,
    list: values.list ?? '',
    allContacts: values['all-contacts'] ?? false,
    story,
    ...parseWhen(values.at, values.repeat, values.tz),
  };
}

/** An offset is required: "09:00" means a different moment on the server than on the laptop that typed it. */
const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i;

function parseWhen(at: string | undefined, repeat: string | undefined, tz: string | undefined) {
  let startAt: number | undefined;
  if (at !== undefined) {
    startAt = ISO_WITH_OFFSET.test(at.trim()) ? Date.parse(at.trim()) : Number.NaN;
    if (Number.isNaN(startAt)) {
      throw new UsageError(`--at: "${at}" is not a time with its offset, as in 2026-12-24T09:00:00+01:00 or 2026-12-24T08:00:00Z`);
    }
  }
  if (repeat !== undefined && repeat.trim() === '') throw new UsageError('--repeat needs a cron expression, as in "0 9 * * 1-5"');
  if (tz !== undefined && repeat === undefined) throw new UsageError('--tz goes with --repeat; --at carries its own offset');
  if (tz !== undefined && tz.trim() === '') throw new UsageError('--tz needs a time zone, as in Europe/Lisbon');
  return { startAt, repeat: repeat?.trim() ?? '', timeZone: tz?.trim() ?? '' };
}

function parseStory(values: Record<string, string | boolean | undefined>): StorySpec {
  const str = (name: string): string | undefined => values[name] as string | undefined;
  const media = (['image', 'video', 'image-url', 'video-url', 'url'] as const).filter((name) => str(name) !== undefined);
  if (media.length > 1) throw new UsageError(`--${media[0]} and --${media[1]} cannot be combined: a story has one image or video`);
  const [mediaOption] = media;
  if (mediaOption === undefined) {
    if (str('caption') !== undefined) throw new UsageError('--caption needs --image, --video or a media URL; a text story uses --text');
    const text = str('text') ?? DEFAULT_TEXT;
    if (text.trim() === '') throw new UsageError('--text must not be empty');
    const backgroundColor = str('background-color') ?? '';
    if (backgroundColor !== '' && !isHexColour(backgroundColor)) {
      throw new UsageError(`--background-color: "${backgroundColor}" is not ${HEX_COLOUR_FORMAT}`);
    }
    const fontValue = str('font');
    return { kind: 'text', text, backgroundColor, font: fontValue === undefined ? 0 : integer('font', fontValue, 0, 9) };
  }
  for (const textOnly of ['text', 'background-color', 'font']) {
    if (str(textOnly) !== undefined) throw new UsageError(`--${textOnly} is for text stories; with --${mediaOption} use --caption`);
  }
  const value = str(mediaOption) ?? '';
  if (value === '') throw new UsageError(`--${mediaOption} needs a value`);
  const mimeType = mimeTypeFor(value);
  const caption = str('caption') ?? '';
  if (mediaOption === 'image' || mediaOption === 'video') return { kind: mediaOption, source: { path: value }, caption, mimeType };
  if (!/^https?:\/\//i.test(value)) throw new UsageError(`--${mediaOption}: "${value}" is not an http(s) URL`);
  const kind = mediaOption === 'image-url' ? 'image' : mediaOption === 'video-url' ? 'video' : mimeType.split('/')[0];
  if (kind !== 'image' && kind !== 'video') {
    throw new UsageError(`--url: cannot tell whether "${value}" is an image or a video; use --image-url or --video-url`);
  }
  return { kind, source: { url: value }, caption, mimeType };
}

/** One recipient per line; "#" starts a comment (neither numbers nor JIDs contain one). */
export function parseRecipientFile(text: string): string[] {
  return text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .map((line) => line.replace(/#.*$/, '').trim())
    .filter((line) => line !== '');
}

export { demoNumbers as demoRecipients } from '../recipients.js';
