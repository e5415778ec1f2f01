/**
 * Protobuf at the wire level, by hand: what protobuf-es refuses to write
 * (invalid UTF-8 in a string field, a field with the wrong wire type, varints
 * that never end, lengths past the end, groups nested past any recursion
 * limit) so that such bytes reach the server at all.
 */
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';

export { WireType };

/** Byte sequences no UTF-8 decoder may accept: each breaks a different rule. */
export const INVALID_UTF8: readonly (readonly number[])[] = [
  [0xff], // never valid
  [0xc0, 0x80], // overlong NUL
  [0xe0, 0x80, 0x80], // overlong
  [0xed, 0xa0, 0x80], // a UTF-16 surrogate (U+D800)
  [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
  [0xe2, 0x82], // truncated three-byte sequence
  [0x80], // lone continuation byte
  [0x61, 0x62, 0xfe, 0x63], // valid text with one bad byte inside
];

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A field key: (number << 3) | wire type, as a varint; numbers above 2^29-1 or 0 are invalid on purpose when asked for. */
export function key(fieldNo: number, wireType: number): Uint8Array {
  return varint(BigInt(fieldNo) * 8n + BigInt(wireType));
}

export function varint(value: bigint): Uint8Array {
  const out: number[] = [];
  let v = BigInt.asUintN(64, value);
  do {
    const low = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v > 0n ? low | 0x80 : low);
  } while (v > 0n);
  return Uint8Array.from(out);
}

/** A length-delimited field holding `bytes` whatever they are. */
export function lengthDelimited(fieldNo: number, bytes: Uint8Array): Uint8Array {
  return new BinaryWriter().tag(fieldNo, WireType.LengthDelimited).bytes(bytes).finish();
}

/** A varint that sets the continuation bit on every one of `n` bytes: it never ends. */
export function endlessVarint(n: number): Uint8Array {
  return new Uint8Array(n).fill(0xff);
}

/** `depth` start-group keys on an unknown field, closed in order (or not at all): what a recursion limit is for. */
export function nestedGroups(fieldNo: number, depth: number, closed: boolean): Uint8Array {
  const open = key(fieldNo, WireType.StartGroup);
  const close = key(fieldNo, WireType.EndGroup);
  const parts: Uint8Array[] = [];
  for (let i = 0; i < depth; i++) parts.push(open);
  if (closed) for (let i = 0; i < depth; i++) parts.push(close);
  return concat(parts);
}

/** `depth` length-delimited unknown fields, each inside the last: skipped as opaque bytes, never recursed into. */
export function nestedLengthDelimited(fieldNo: number, depth: number): Uint8Array {
  let inner: Uint8Array = new Uint8Array(0);
  for (let i = 0; i < depth; i++) inner = lengthDelimited(fieldNo, inner);
  return inner;
}

/** A value of the given wire type, well formed, for a field that expects another. */
export function valueOfWireType(wireType: WireType, seed: number): Uint8Array {
  switch (wireType) {
    case WireType.Varint:
      return varint(BigInt(seed));
    case WireType.Bit64:
      return new Uint8Array(8).fill(seed & 0xff);
    case WireType.LengthDelimited:
      return concat([varint(3n), Uint8Array.of(1, 2, 3)]);
    case WireType.StartGroup:
      return new Uint8Array(0);
    case WireType.EndGroup:
      return new Uint8Array(0);
    case WireType.Bit32:
      return new Uint8Array(4).fill(seed & 0xff);
  }
}
