/**
 * The field values every request generator draws from: strings that break
 * parsers, validators and log lines; numbers at every edge of their type;
 * identifiers from small pools so that some requests find what others
 * created. Huge values are rare (weights) but always reachable.
 */
import fc from 'fast-check';
import { builtinStrategies } from '../../strategies/index.js';

/** Sessions the fuzzer keeps coming back to, so sends, history and logouts pile up on a few. */
const SESSION_POOL = ['fuzz-a', 'fuzz-b', 'fuzz-c', 'fuzz.d', 'fuzz_e'] as const;
/** Experiment keys the fuzzer creates, updates, stops and sends with. */
export const EXPERIMENT_POOL = ['fx-0', 'fx-1', 'fx-2', 'fx-3', 'fx-4', 'fx-5'] as const;
export const ARM_NAMES = ['control', 'treatment', 'b', 'c'] as const;
export const STRATEGY_NAMES = builtinStrategies.map((s) => s.name);

/**
 * A value the runner fills in from what earlier answers returned (a send id
 * a SendStory planned, a status it posted): generated as a pool and an
 * index, resolved when the request is built.
 */
export class Known {
  constructor(
    readonly pool: 'sendId' | 'scheduleId' | 'postedSession' | 'postedMessage',
    readonly index: number,
  ) {}
}

export const known = (pool: Known['pool']) => fc.nat().map((i) => new Known(pool, i));

/** Lengths around the limits the server knows of (64 for ids, 128 for request and message ids) and far past them. */
const LONG_LENGTHS = [63, 64, 65, 127, 128, 129, 1_000, 65_536, 100_000, 1_000_000] as const;

export const longString = fc
  .tuple(fc.constantFrom(...LONG_LENGTHS), fc.constantFrom('a', '7', 'é', '😀', ' ', '\0', '%', '"', '\n'))
  .map(([n, c]) => c.repeat(Math.ceil(n / c.length)));

/** Inputs that have broken someone's parser, query or log before. */
const NOTORIOUS = [
  '',
  ' ',
  '\t\r\n',
  '\0',
  '\u0000abc',
  '\uFEFF',
  '\u202Etxt.exe',
  '\u200B',
  'ǅ',
  'İ',
  'ß',
  '../../../../etc/passwd',
  "'; DROP TABLE storycast_sends;--",
  '%s%s%s%n',
  '%00',
  '%ZZ',
  // A template-injection probe: this is the literal text, not a placeholder.
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the literal is the point
  '${process.exit(1)}',
  '{{7*7}}',
  '<script>alert(1)</script>',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'null',
  'undefined',
  'NaN',
  '-0',
  '1e309',
  '[]',
  '{}',
  '{"a":',
  '\\',
  '\\u0000',
  'a:b:c',
  'r1:0:x',
  '\ud800',
  '\udfff',
  '\ud83d',
] as const;

export const nastyString: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.string(), weight: 6 },
  { arbitrary: fc.string({ unit: 'grapheme' }), weight: 3 },
  // Code points, lone surrogates included: they reach the wire as U+FFFD.
  { arbitrary: fc.string({ unit: 'binary', maxLength: 64 }), weight: 3 },
  { arbitrary: fc.constantFrom(...NOTORIOUS), weight: 6 },
  { arbitrary: longString, weight: 1 },
);

/** Letters, digits, dot, dash and underscore: what ids may be; 1 to 70 of them, so some are too long. */
export const idShaped = fc.stringMatching(/^[A-Za-z0-9._-]{1,70}$/);

export const sessionId: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constantFrom(...SESSION_POOL), weight: 8 },
  { arbitrary: idShaped, weight: 3 },
  { arbitrary: nastyString, weight: 3 },
);

export const experimentKey: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constantFrom(...EXPERIMENT_POOL), weight: 8 },
  { arbitrary: idShaped, weight: 2 },
  { arbitrary: nastyString, weight: 3 },
);

export const strategyName: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constant(''), weight: 4 },
  { arbitrary: fc.constantFrom(...STRATEGY_NAMES), weight: 4 },
  { arbitrary: nastyString, weight: 2 },
);

export const int32 = fc.oneof(
  fc.constantFrom(0, 1, -1, 49, 50, 51, 100, 499, 500, 501, 999, 1000, 1001, 2 ** 31 - 1, -(2 ** 31)),
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
);

export const uint32 = fc.oneof(fc.constantFrom(0, 1, 2, 9, 10, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1), fc.nat({ max: 2 ** 32 - 1 }));

export const double = fc.oneof(
  fc.constantFrom(
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    -0,
    0,
    0.5,
    1,
    1 + Number.EPSILON,
    -1,
    Number.MIN_VALUE,
    Number.MAX_VALUE,
  ),
  fc.double(),
  fc.double({ min: 0, max: 1, noNaN: true }),
);

/** An enum field: every declared number, and numbers no declaration has (proto3 enums are open). */
export const enumValue = (declared: readonly number[]) =>
  fc.oneof(
    { arbitrary: fc.constantFrom(...declared), weight: 4 },
    { arbitrary: fc.constantFrom(-1, 3, 99, 2 ** 31 - 1, -(2 ** 31)), weight: 1 },
    { arbitrary: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), weight: 1 },
  );

export const timestamp = fc.record({
  seconds: fc.oneof(
    fc.constantFrom(0n, -1n, 253402300799n, 253402300800n, -62135596800n, -62135596801n, 2n ** 63n - 1n, -(2n ** 63n)),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  ),
  nanos: int32,
});

/** Mostly absent: an optional message field. */
export const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined, freq: 3 });

/** A page token: empty, garbage, or base64url of something that looks like what the server issues. */
export const garbageToken: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constant(''), weight: 6 },
  { arbitrary: nastyString, weight: 3 },
  { arbitrary: fc.string().map((s) => Buffer.from(s).toString('base64url')), weight: 2 },
  { arbitrary: fc.json().map((s) => Buffer.from(s).toString('base64url')), weight: 2 },
);
