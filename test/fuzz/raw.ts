/**
 * Request bodies no protobuf library would write, for any request message:
 * random bytes, valid encodings cut short, fields with the wrong wire type,
 * invalid UTF-8 in a string field at any depth, unknown fields nested deep,
 * varints that never end, lengths past the end.
 */
import { type DescField, type DescMessage, ScalarType } from '@bufbuild/protobuf';
import fc from 'fast-check';
import {
  concat,
  endlessVarint,
  INVALID_UTF8,
  key,
  lengthDelimited,
  nestedGroups,
  nestedLengthDelimited,
  valueOfWireType,
  varint,
  WireType,
} from './wire.js';

export interface RawPayload {
  /** What was done to the bytes, for the report. */
  readonly note: string;
  readonly bytes: Uint8Array;
}

const WIRE_TYPES = [WireType.Varint, WireType.Bit64, WireType.LengthDelimited, WireType.StartGroup, WireType.Bit32] as const;

function wireTypeOf(field: DescField): WireType {
  if (field.fieldKind === 'message' || field.fieldKind === 'list' || field.fieldKind === 'map') return WireType.LengthDelimited;
  if (field.fieldKind === 'enum') return WireType.Varint;
  switch (field.scalar) {
    case ScalarType.STRING:
    case ScalarType.BYTES:
      return WireType.LengthDelimited;
    case ScalarType.DOUBLE:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return WireType.Bit64;
    case ScalarType.FLOAT:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      return WireType.Bit32;
    default:
      return WireType.Varint;
  }
}

function isString(field: DescField): boolean {
  return (
    (field.fieldKind === 'scalar' || (field.fieldKind === 'list' && field.listKind === 'scalar')) && field.scalar === ScalarType.STRING
  );
}

function messageOf(field: DescField): DescMessage | undefined {
  if (field.fieldKind === 'message') return field.message;
  if (field.fieldKind === 'list' && field.listKind === 'message') return field.message;
  return undefined;
}

/** Every path of field numbers from `schema` down to a string field, a few levels deep. */
function stringPaths(schema: DescMessage, depth = 4): number[][] {
  const paths: number[][] = [];
  for (const field of schema.fields) {
    if (isString(field)) paths.push([field.number]);
    const inner = messageOf(field);
    if (inner && depth > 1) for (const rest of stringPaths(inner, depth - 1)) paths.push([field.number, ...rest]);
  }
  return paths;
}

/** `leaf` as the value of the last field of `path`, each outer field wrapping the one inside it. */
function atPath(path: readonly number[], leaf: Uint8Array): Uint8Array {
  let bytes = lengthDelimited(path.at(-1)!, leaf);
  for (let i = path.length - 2; i >= 0; i--) bytes = lengthDelimited(path[i]!, bytes);
  return bytes;
}

const UNKNOWN_FIELD = 9_999;

export function rawPayloads(schema: DescMessage, encoded: fc.Arbitrary<Uint8Array>): fc.Arbitrary<RawPayload> {
  const fields = schema.fields;
  const strings = stringPaths(schema);
  const choices: fc.Arbitrary<RawPayload>[] = [
    fc.uint8Array({ maxLength: 4096 }).map((bytes) => ({ note: 'random bytes', bytes })),
    // No filter: a request type whose every encoding is empty (ListStrategies) would make fast-check search forever.
    fc.tuple(encoded, fc.nat()).map(([bytes, at]) => ({
      note: `valid encoding cut at ${at % (bytes.length || 1)} of ${bytes.length}`,
      bytes: bytes.subarray(0, at % (bytes.length || 1)),
    })),
    fc
      .tuple(encoded, fc.uint8Array({ minLength: 1, maxLength: 16 }))
      .map(([bytes, tail]) => ({ note: 'valid encoding with trailing garbage', bytes: concat([bytes, tail]) })),
    fc.tuple(encoded, encoded).map(([a, b]) => ({ note: 'two valid encodings back to back (merged)', bytes: concat([a, b]) })),
    fc
      .tuple(
        encoded,
        fc.array(
          fc.tuple(
            fc.oneof(fc.integer({ min: 1, max: 2 ** 29 - 1 }), fc.constantFrom(19_000, 536_870_911)),
            fc.constantFrom(0, 1, 2, 5),
            fc.nat(),
          ),
          { minLength: 1, maxLength: 20 },
        ),
      )
      .map(([bytes, extra]) => ({
        note: `valid encoding with ${extra.length} unknown fields`,
        bytes: concat([bytes, ...extra.map(([no, wt, seed]) => concat([key(no, wt), valueOfWireType(wt, seed)]))]),
      })),
    fc.tuple(fc.constantFrom(10, 99, 100, 101, 1000, 100_000), fc.boolean()).map(([depth, closed]) => ({
      note: `${depth} nested unknown groups${closed ? '' : ', never closed'}`,
      bytes: nestedGroups(UNKNOWN_FIELD, depth, closed),
    })),
    fc
      .constantFrom(100, 1000, 10_000)
      .map((depth) => ({ note: `${depth} nested length-delimited unknown fields`, bytes: nestedLengthDelimited(UNKNOWN_FIELD, depth) })),
    fc
      .constantFrom(0, 2 ** 29, 2 ** 32)
      .map((no) => ({ note: `field number ${no}`, bytes: concat([key(no, WireType.Varint), varint(1n)]) })),
    fc.constantFrom(6, 7).map((wt) => ({ note: `wire type ${wt}`, bytes: concat([key(1, wt), varint(1n)]) })),
    fc
      .constantFrom(11, 100)
      .map((n) => ({ note: `varint of ${n} bytes that never ends`, bytes: concat([key(1, WireType.Varint), endlessVarint(n)]) })),
    fc.constantFrom(1n, 1000n, 2n ** 31n, 2n ** 64n - 1n).map((length) => ({
      note: `length ${length} past the end`,
      bytes: concat([key(1, WireType.LengthDelimited), varint(length), Uint8Array.of(1, 2)]),
    })),
  ];
  if (fields.length > 0) {
    choices.push(
      fc
        .tuple(fc.constantFrom(...fields), fc.constantFrom(...WIRE_TYPES), fc.nat())
        .filter(([field, wt]) => wt !== wireTypeOf(field))
        .map(([field, wt, seed]) => ({
          note: `${field.name} with wire type ${wt}`,
          bytes: concat([
            key(field.number, wt),
            valueOfWireType(wt, seed),
            wt === WireType.StartGroup ? key(field.number, WireType.EndGroup) : new Uint8Array(0),
          ]),
        })),
      fc
        .tuple(
          fc.constantFrom(...fields.filter((f) => wireTypeOf(f) === WireType.Varint).concat(fields[0]!)),
          fc.constantFrom(2n ** 32n, 2n ** 63n, 2n ** 64n - 1n),
        )
        .map(([field, value]) => ({
          note: `${field.name} = ${value} as a varint`,
          bytes: concat([key(field.number, WireType.Varint), varint(value)]),
        })),
    );
  }
  if (strings.length > 0) {
    choices.push(
      fc.tuple(fc.constantFrom(...strings), fc.constantFrom(...INVALID_UTF8)).map(([path, bad]) => ({
        note: `invalid UTF-8 [${bad.map((b) => b.toString(16)).join(' ')}] at field path ${path.join('.')}`,
        bytes: atPath(path, Uint8Array.from(bad)),
      })),
    );
  }
  return fc.oneof(...choices);
}
