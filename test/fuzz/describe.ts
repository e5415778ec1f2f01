/** A request as a finding shows it: short enough to read, exact enough to replay by hand. */
import { type DescMessage, type Message, toJson } from '@bufbuild/protobuf';
import type { FuzzCase } from './cases.js';

const MAX_STRING = 80;
const MAX_ITEMS = 5;

function shorten(value: unknown): unknown {
  if (typeof value === 'bigint') return `${value}`;
  if (typeof value === 'string') return value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}…(${value.length} chars)` : value;
  if (Array.isArray(value)) {
    const head = value.slice(0, MAX_ITEMS).map(shorten);
    return value.length > MAX_ITEMS ? [...head, `…(${value.length} items)`] : head;
  }
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shorten(v)]));
  return value;
}

export function describeInput(schema: DescMessage, fuzz: FuzzCase, message: Message | undefined, bytes: Uint8Array): string {
  const { body } = fuzz;
  const where = `${fuzz.protocol}, ${bytes.length} bytes`;
  if (body.kind === 'raw')
    return `${body.note} (${where}): ${Buffer.from(bytes.subarray(0, 48)).toString('hex')}${bytes.length > 48 ? '…' : ''}`;
  if (body.kind === 'json') return `${body.note} (${where}): ${JSON.stringify(shorten(body.text))}`;
  let json: unknown = body.draft;
  try {
    if (message) json = toJson(schema, message, { enumAsInteger: true });
  } catch {
    // Not every message has a JSON form (a Timestamp past year 9999): the draft says the same.
  }
  return `${body.note ? `${body.note} ` : ''}(${where}): ${JSON.stringify(shorten(json))}`;
}
