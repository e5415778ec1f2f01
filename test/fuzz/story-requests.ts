/** StoryService requests, as create() inits (with Known placeholders the runner resolves). */
import fc from 'fast-check';
import { encodePageToken } from '../../src/receipts/page-token.js';
import { READ_MAX_BYTES } from '../../src/server/limits.js';
import { OnDisconnect, SendState } from '../../src/gen/storycast/v1/story_service_pb.js';
import { recipients } from './recipients.js';
import {
  enumValue,
  experimentKey,
  garbageToken,
  int32,
  Known,
  known,
  longString,
  nastyString,
  sessionId,
  strategyName,
  uint32,
} from './values.js';

const MiB = 1024 * 1024;

/** Text up to the read limit: one that fits in a 16 MiB message with its envelope of fields, one a byte over. */
const hugeText = fc.constantFrom(MiB, 8 * MiB, READ_MAX_BYTES - 64, READ_MAX_BYTES + 1).map((n) => 'x'.repeat(n));

const text = fc.oneof(
  { arbitrary: fc.constantFrom('hello', 'Hi 👋', ' ', ''), weight: 60 },
  { arbitrary: nastyString, weight: 60 },
  { arbitrary: longString, weight: 10 },
  // Rare: each is megabytes through both ends of the connection (the extremes send them every run anyway).
  { arbitrary: hugeText, weight: 1 },
);

const colour = fc.oneof(
  fc.constantFrom('', '#000000', '#FF00FF80', '#fff', 'red', '#GGGGGG', '#1234567', '#123456789', 'rgb(0,0,0)'),
  nastyString,
);

/** Inline media: nothing, a few bytes of anything, real-looking headers, or a few MB. */
const mediaData = fc.oneof(
  { arbitrary: fc.constant(new Uint8Array(0)), weight: 12 },
  { arbitrary: fc.uint8Array({ maxLength: 2048 }), weight: 32 },
  {
    arbitrary: fc.constantFrom(Uint8Array.of(0xff, 0xd8, 0xff, 0xe0), Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)),
    weight: 8,
  },
  { arbitrary: fc.constantFrom(MiB, 2 * MiB, 4 * MiB).map((n) => new Uint8Array(n).fill(0xab)), weight: 1 },
);

/**
 * URLs the guard refuses (loopback, metadata, private, other schemes) and
 * some it lets through, on hosts that cannot resolve (.invalid, RFC 2606): the
 * simulated transport never fetches, and nothing here should ever leave the machine.
 */
const mediaUrl = fc.oneof(
  fc.constantFrom(
    'http://127.0.0.1/a.jpg',
    'http://localhost/a.jpg',
    'http://a.localhost./x',
    'http://169.254.169.254/latest/meta-data/',
    'http://[::1]/a.jpg',
    'http://[::ffff:127.0.0.1]/',
    'http://0x7f.1/',
    'http://2130706433/',
    'http://10.0.0.1/',
    'file:///etc/passwd',
    'ftp://example.invalid/a.jpg',
    'javascript:alert(1)',
    'data:image/png;base64,AAAA',
    'https://example.invalid/a.jpg',
    'https://media.example.invalid:99999/a.jpg',
    'http://',
    '://',
  ),
  fc.webPath().map((p) => `https://cdn.example.invalid${p}`),
  longString.map((s) => `http://${s}.localhost/`),
  nastyString,
);

const media = fc.record({
  source: fc.oneof(
    fc.constant({ case: undefined }),
    mediaData.map((value) => ({ case: 'data' as const, value })),
    mediaUrl.map((value) => ({ case: 'url' as const, value })),
  ),
  caption: fc.oneof(fc.constant(''), nastyString),
  mimeType: fc.oneof(fc.constantFrom('', 'image/jpeg', 'video/mp4', 'text/html', 'image/svg+xml'), nastyString),
});

const story = fc.oneof(
  { arbitrary: fc.constant(undefined), weight: 1 },
  // The oneof set to nothing: a Story message on the wire with no content.
  { arbitrary: fc.constant({ content: { case: undefined } }), weight: 1 },
  {
    arbitrary: fc.record({ text, backgroundColor: colour, font: uint32 }).map((value) => ({ content: { case: 'text' as const, value } })),
    weight: 6,
  },
  { arbitrary: media.map((value) => ({ content: { case: 'image' as const, value } })), weight: 2 },
  { arbitrary: media.map((value) => ({ content: { case: 'video' as const, value } })), weight: 1 },
);

const requestId = fc.oneof(
  { arbitrary: fc.constant(''), weight: 4 },
  { arbitrary: fc.stringMatching(/^[\x21-\x7e]{1,129}$/), weight: 2 },
  { arbitrary: nastyString, weight: 2 },
);

const sendId = fc.oneof({ arbitrary: known('sendId'), weight: 3 }, { arbitrary: nastyString, weight: 2 });

/** A few names the fuzzer's saves reuse (so sends and reads find a list), and anything else. */
const listName = fc.oneof(
  { arbitrary: fc.constantFrom('daily', 'vip', 'a.b-c_d'), weight: 6 },
  { arbitrary: nastyString, weight: 3 },
  { arbitrary: longString, weight: 1 },
);
/** Mostly none; else a time in the past (refused), a day to a month ahead (accepted), or far outside any calendar. */
const startTime = fc.oneof(
  { arbitrary: fc.constant(undefined), weight: 8 },
  {
    arbitrary: fc
      .integer({ min: 86_400, max: 30 * 86_400 })
      .map((ahead) => ({ seconds: BigInt(Math.floor(Date.now() / 1000) + ahead), nanos: 0 })),
    weight: 2,
  },
  {
    arbitrary: fc.record({ seconds: fc.bigInt({ min: -(2n ** 62n), max: 2n ** 62n }), nanos: fc.integer({ min: -1, max: 1_000_000_000 }) }),
    weight: 1,
  },
);

/** Cron expressions that parse (none due within days of a fuzz run), that do not, and garbage. */
const repeat = fc.oneof(
  { arbitrary: fc.constant(''), weight: 8 },
  { arbitrary: fc.constantFrom('0 0 29 2 *', '0 9 1 6 *', '@yearly', '* * * * * *', '0 0 30 2 *', '61 * * * *', 'L W # ?'), weight: 2 },
  { arbitrary: nastyString, weight: 1 },
);

const timeZone = fc.oneof(
  { arbitrary: fc.constant(''), weight: 8 },
  { arbitrary: fc.constantFrom('Europe/Lisbon', 'UTC', 'America/St_Johns', 'Mars/Olympus'), weight: 2 },
  { arbitrary: nastyString, weight: 1 },
);

const sendStory = fc.record({
  sessionId,
  story,
  recipients,
  strategy: strategyName,
  requestId,
  onDisconnect: enumValue([OnDisconnect.UNSPECIFIED, OnDisconnect.CANCEL, OnDisconnect.CONTINUE]),
  experiment: fc.oneof({ arbitrary: fc.constant(''), weight: 6 }, { arbitrary: experimentKey, weight: 2 }),
  recipientList: fc.oneof({ arbitrary: fc.constant(''), weight: 6 }, { arbitrary: listName, weight: 2 }),
  allContacts: fc.boolean(),
  startTime,
  repeat,
  timeZone,
});

const sessionOnly = fc.record({ sessionId });

const listToken = fc.oneof(
  { arbitrary: garbageToken, weight: 3 },
  // Shaped like the server's, with a name and a binding of anything.
  {
    arbitrary: fc.tuple(nastyString, nastyString).map(([after, b]) => Buffer.from(JSON.stringify(['c1', after, b])).toString('base64url')),
    weight: 1,
  },
);

const receiptsToken = fc.oneof(
  { arbitrary: garbageToken, weight: 4 },
  {
    arbitrary: fc
      .tuple(sessionId, nastyString, fc.oneof(fc.constantFrom(0, 1, 999_999_999), fc.nat()))
      .map(([s, m, offset]) => encodePageToken(s, m, offset)),
    weight: 1,
  },
);

export const storyRequests = {
  SendStory: sendStory,
  GetSessionLearning: sessionOnly,
  ResetSessionLearning: sessionOnly,
  ListStrategies: fc.constant({}),
  GetStoryReceipts: fc.oneof(
    fc.record({ sessionId, messageId: nastyString, pageSize: int32, pageToken: receiptsToken }),
    // A status the fuzzer posted, so the paging itself is reached.
    fc.tuple(fc.nat(), int32, receiptsToken).map(([i, pageSize, pageToken]) => ({
      sessionId: new Known('postedSession', i),
      messageId: new Known('postedMessage', i),
      pageSize,
      pageToken,
    })),
  ),
  WatchSend: fc.record({ sendId, afterEvent: uint32 }),
  GetSend: fc.record({ sendId }),
  ListSends: fc
    .record({
      sessionId: fc.oneof(fc.constant(''), sessionId),
      state: enumValue([SendState.UNSPECIFIED, SendState.RUNNING, SendState.SUCCEEDED, SendState.CANCELLED, SendState.FAILED]),
      pageSize: int32,
      forge: fc.option(fc.record({ c: fc.oneof(fc.double(), fc.integer(), fc.string()), i: fc.oneof(fc.string(), fc.integer()) })),
      pageToken: garbageToken,
    })
    // A token shaped like the server's, bound to this very request's filters, so decoding gets past the binding check.
    .map(({ forge, ...req }) =>
      forge
        ? { ...req, pageToken: Buffer.from(JSON.stringify({ ...forge, b: `${req.sessionId}/${req.state}` })).toString('base64url') }
        : req,
    ),
  CancelSend: fc.record({ sendId }),
  SaveRecipientList: fc.record({ sessionId, name: listName, recipients }),
  GetRecipientList: fc.record({ sessionId, name: listName }),
  ListRecipientLists: fc.record({ sessionId, pageSize: int32, pageToken: listToken }),
  DeleteRecipientList: fc.record({ sessionId, name: listName }),
  ListSchedules: fc.record({ sessionId: fc.oneof(fc.constant(''), sessionId), pageSize: int32, pageToken: listToken }),
  DeleteSchedule: fc.record({ scheduleId: fc.oneof({ arbitrary: known('scheduleId'), weight: 3 }, { arbitrary: nastyString, weight: 2 }) }),
} as const;
