import { describe, expect, it } from 'vitest';
import { normalizeRecipients, toJid } from '../src/recipients.js';

const VALID: [string, string][] = [
  ['+1 555-123 4567', '15551234567@s.whatsapp.net'],
  ['15551234567', '15551234567@s.whatsapp.net'],
  ['+1 (555) 123.4567', '15551234567@s.whatsapp.net'],
  ['0044 20 7946 0958', '442079460958@s.whatsapp.net'],
  ['15551234567@s.whatsapp.net', '15551234567@s.whatsapp.net'],
  ['15551234567@S.WHATSAPP.NET', '15551234567@s.whatsapp.net'],
  ['15551234567@c.us', '15551234567@s.whatsapp.net'],
  ['  +5511987654321  ', '5511987654321@s.whatsapp.net'],
];
const INVALID: [string, string][] = [
  ['', 'empty'],
  ['hello', 'only digits'],
  ['12345', '7 to 15'],
  ['+1234567890123456', '7 to 15'],
  ['0555123456', 'country code'],
  ['120363025246125486@g.us', 'not a user JID'],
  ['status@broadcast', 'not a user JID'],
  ['abc@s.whatsapp.net', 'JID user part'],
  ['+1 555 123 4567 ext 2', 'only digits'],
  ['+05551234567', 'country code'],
  ['0123456789@s.whatsapp.net', 'country code'],
  ['1234567890123456@s.whatsapp.net', '7 to 15'],
  ['@s.whatsapp.net', 'JID user part'],
];

describe('toJid', () => {
  it.each(VALID)('%s -> %s', (input, jid) => {
    expect(toJid(input)).toEqual({ jid });
  });

  it.each(INVALID)('rejects %j with a reason', (input, reason) => {
    const result = toJid(input);
    expect('reason' in result && result.reason).toContain(reason);
  });
});

describe('normalizeRecipients', () => {
  it('keeps the first of duplicates, in input order, and reports the invalid ones', () => {
    const result = normalizeRecipients(['+44 7700 900123', 'x', '15551234567', '447700900123@s.whatsapp.net', '+1 555 123 4567']);
    expect(result.valid).toEqual(['447700900123@s.whatsapp.net', '15551234567@s.whatsapp.net']);
    expect(result.duplicates).toBe(2);
    expect(result.invalid).toEqual([{ index: 1, input: 'x', reason: expect.any(String) }]);
  });

  it('takes the same decision as toJid for every shape (the common ones go a faster way)', () => {
    const inputs = [
      ...VALID.map(([input]) => input),
      ...INVALID.map(([input]) => input),
      '15550000000',
      '+15550000001',
      '15550000002@s.whatsapp.net',
    ];
    const result = normalizeRecipients(inputs);
    const expected = inputs.map((input) => toJid(input));
    const jids = [...new Set(expected.flatMap((r) => ('jid' in r ? [r.jid] : [])))];
    expect(result.valid).toEqual(jids);
    expect(result.invalid.map((i) => i.reason)).toEqual(expected.flatMap((r) => ('reason' in r ? [r.reason] : [])));
    expect(result.indexes.map((i) => toJid(inputs[i]!))).toEqual(jids.map((jid) => ({ jid })));
  });
});
