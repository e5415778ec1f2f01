/**
 * One fuzz case: a request body for one RPC and the protocol it goes out on.
 * Most bodies are generated messages (valid protobuf, any content); the rest
 * are raw bytes or garbage JSON. Every RPC also gets a fixed list of extremes
 * that run whatever the count, so even a small CI run sends them.
 */
import { create, type DescMessage, type MessageInitShape, ScalarType, toBinary } from '@bufbuild/protobuf';
import fc from 'fast-check';
import { READ_MAX_BYTES } from '../../src/server/limits.js';
import { experimentRequests } from './experiment-requests.js';
import { rawPayloads } from './raw.js';
import { garbageRecipients, MAX_RECIPIENTS } from './recipients.js';
import type { Rpc } from './rpcs.js';
import { sessionRequests } from './session-requests.js';
import { storyRequests } from './story-requests.js';
import { Known } from './values.js';

export type Protocol = 'grpc' | 'grpc-web' | 'connect' | 'connect-json';

type Body =
  | { readonly kind: 'message'; readonly draft: object; readonly note?: string }
  | { readonly kind: 'raw'; readonly note: string; readonly bytes: Uint8Array }
  | { readonly kind: 'json'; readonly note: string; readonly text: string };

export interface FuzzCase {
  readonly protocol: Protocol;
  readonly body: Body;
}

/** Where Known placeholders come from: what earlier answers returned. */
export type KnownPick = (ref: Known) => string;

const REQUESTS: Record<string, fc.Arbitrary<object>> = {
  ...prefixed('StoryService', storyRequests),
  ...prefixed('SessionService', sessionRequests),
  ...prefixed('ExperimentService', experimentRequests),
};

function prefixed(service: string, table: Record<string, fc.Arbitrary<object>>): Record<string, fc.Arbitrary<object>> {
  return Object.fromEntries(Object.entries(table).map(([method, arb]) => [`${service}/${method}`, arb]));
}

/** The generator of an RPC's request messages; an RPC without one fails here, not silently. */
function requestsOf(rpc: Rpc): fc.Arbitrary<object> {
  const arb = REQUESTS[rpc.name];
  if (!arb) throw new Error(`no request generator for ${rpc.name}: add one to test/fuzz`);
  return arb;
}

/** The draft with its placeholders filled in: a create() init. */
function resolve(value: unknown, pick: KnownPick): unknown {
  if (value instanceof Known) return pick(value);
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return value;
  if (Array.isArray(value)) return value.length > 0 && typeof value[0] === 'string' ? value : value.map((v) => resolve(v, pick));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v, pick)]));
}

export function messageOf(schema: DescMessage, draft: object, pick: KnownPick) {
  return create(schema, resolve(draft, pick) as MessageInitShape<DescMessage>);
}

const placeholder: KnownPick = (ref) => `unknown-${ref.pool}`;

const GARBAGE_JSON = [
  '',
  '{',
  'null',
  '[]',
  '"text"',
  '0',
  '{"sessionId": 5}',
  '{"session_id": ["a"]}',
  '{"unknownField": 1}',
  '{"pageSize": 1e400}',
  '{"pageSize": "12abc"}',
  '{"pageSize": 2147483648}',
  '{"afterEvent": -1}',
  '{"state": "NOPE"}',
  '{"state": 1.5}',
  '{"story": {"text": {"text": "x"}, "image": {}}}',
  '{"story": {"image": {"data": "not base64!"}}}',
  '{"sessionId": "a", "sessionId": "b"}',
  '{"sessionId": "\\ud800"}',
  '{"recipients": [null]}',
  '{"experiment": {"arms": [{"weight": -1}]}}',
  '{"experiment": {"createTime": "yesterday"}}',
  '{"updateMask": "a,,b"}',
  '{"__proto__": {"polluted": true}}',
  '\u0000',
  '\uFEFF{}',
];

function garbageJson(schema: DescMessage): fc.Arbitrary<{ note: string; text: string }> {
  const names = schema.fields.map((f) => f.jsonName);
  return fc.oneof(
    fc.constantFrom(...GARBAGE_JSON).map((text) => ({ note: 'garbage JSON', text })),
    fc.json().map((text) => ({ note: 'random JSON', text })),
    fc.string().map((text) => ({ note: 'random text as JSON', text })),
    fc.constantFrom(1_000, 100_000).map((depth) => ({ note: `${depth} nested arrays`, text: `${'['.repeat(depth)}${']'.repeat(depth)}` })),
    ...(names.length > 0
      ? [
          fc
            .tuple(fc.constantFrom(...names), fc.jsonValue())
            .map(([name, value]) => ({ note: `${name} set to any JSON value`, text: JSON.stringify({ [name]: value }) })),
        ]
      : []),
  );
}

const protocol = fc.oneof(
  { arbitrary: fc.constant<Protocol>('grpc'), weight: 60 },
  { arbitrary: fc.constant<Protocol>('grpc-web'), weight: 13 },
  { arbitrary: fc.constant<Protocol>('connect'), weight: 13 },
  { arbitrary: fc.constant<Protocol>('connect-json'), weight: 14 },
);

export function caseArbitrary(rpc: Rpc): fc.Arbitrary<FuzzCase> {
  const drafts = requestsOf(rpc);
  const encoded = drafts.map((draft) => toBinary(rpc.input, messageOf(rpc.input, draft, placeholder)));
  const raw = rawPayloads(rpc.input, encoded);
  const json = garbageJson(rpc.input);
  return protocol.chain((p) => {
    const garbage =
      p === 'connect-json'
        ? json.map(({ note, text }): Body => ({ kind: 'json', note, text }))
        : raw.map(({ note, bytes }): Body => ({ kind: 'raw', note, bytes }));
    return fc
      .oneof({ arbitrary: drafts.map((draft): Body => ({ kind: 'message', draft })), weight: 7 }, { arbitrary: garbage, weight: 3 })
      .map((body) => ({ protocol: p, body }));
  });
}

/** Every string field set to `value`, every repeated string field to [value]: how big each field may get. */
function everyString(schema: DescMessage, value: string): object {
  const init: Record<string, unknown> = {};
  for (const field of schema.fields) {
    if (field.fieldKind === 'scalar' && field.scalar === ScalarType.STRING) init[field.localName] = value;
    if (field.fieldKind === 'list' && field.listKind === 'scalar' && field.scalar === ScalarType.STRING) init[field.localName] = [value];
  }
  return init;
}

const MiB = 1024 * 1024;
const message = (draft: object, note: string): Body => ({ kind: 'message', draft, note });

/** Cases every run sends, on gRPC: the sizes and shapes the issue names. */
export function extremeCases(rpc: Rpc): FuzzCase[] {
  const bodies: Body[] = [
    message({}, 'empty message'),
    message(everyString(rpc.input, 'x'.repeat(MiB)), 'every string field 1 MiB'),
    message(everyString(rpc.input, '\ud800'.repeat(1000)), 'every string field lone surrogates'),
  ];
  const story = (content: object) => ({ sessionId: 'fuzz-a', story: { content }, recipients: ['+15550000001'] });
  if (rpc.name === 'StoryService/SendStory') {
    bodies.push(
      message({ sessionId: 'fuzz-a', story: { content: { case: undefined } }, recipients: ['+15550000001'] }, 'story with an empty oneof'),
      message(story({ case: 'image', value: { source: { case: undefined } } }), 'image with an empty source oneof'),
      message(story({ case: 'video', value: { source: { case: 'data', value: new Uint8Array(0) } } }), 'video with 0 bytes of data'),
      message(
        story({ case: 'image', value: { source: { case: 'data', value: new Uint8Array(4 * MiB).fill(7) } } }),
        'image of 4 MiB inline',
      ),
      message(story({ case: 'text', value: { text: 'x'.repeat(READ_MAX_BYTES - 64) } }), 'text that fills the 16 MiB read limit'),
      message(story({ case: 'text', value: { text: 'x'.repeat(READ_MAX_BYTES + 1) } }), 'text one byte over the 16 MiB read limit'),
      message(
        {
          sessionId: 'fuzz-b',
          story: { content: { case: 'text', value: { text: 'hi' } } },
          recipients: garbageRecipients(MAX_RECIPIENTS, 1),
        },
        '100,000 garbage recipients',
      ),
      message(
        {
          sessionId: 'fuzz-b',
          story: { content: { case: 'text', value: { text: 'hi' } } },
          recipients: garbageRecipients(MAX_RECIPIENTS, 2, 10_000),
        },
        '100,000 recipients, 10 valid',
      ),
      message(
        {
          sessionId: 'fuzz-b',
          story: { content: { case: 'text', value: { text: 'hi' } } },
          recipients: garbageRecipients(MAX_RECIPIENTS + 1, 3, 10_000),
        },
        '100,001 recipients',
      ),
      message({ ...story({ case: 'text', value: { text: 'hi' } }), sessionId: 's'.repeat(100_000) }, 'session id of 100,000 characters'),
      message({ ...story({ case: 'text', value: { text: 'hi' } }), onDisconnect: 2 ** 31 - 1 }, 'unknown on_disconnect'),
    );
  }
  if (rpc.name === 'ExperimentService/CreateExperiment') {
    bodies.push(
      message(
        {
          experiment: {
            key: 'fx-wide',
            arms: Array.from({ length: 1000 }, (_, i) => ({ name: `a${i}`, strategy: 'adaptive', weight: 2 ** 32 - 1, control: i === 0 })),
          },
        },
        '1000 arms of the largest weight',
      ),
    );
  }
  return bodies.map((body) => ({ protocol: 'grpc', body }));
}
