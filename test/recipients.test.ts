import { describe, expect, it } from 'vitest';
import { normalizeRecipients, toJid } from '../src/recipients.js';

describe('toJid', () => {
  it.each([
    ['+1 555-123 4567', '15551234567@s.whatsapp.net'],
    ['15551234567', '15551234567@s.whatsapp.net'],
    ['+1 (555) 123.4567', '15551234567@s.whatsapp.net'],
    ['0044 20 7946 0958', '442079460958@s.whatsapp.net'],
    ['15551234567@s.whatsapp.net', '15551234567@s.whatsapp.net'],
    ['15551234567@S.WHATSAPP.NET', '15551234567@s.whatsapp.net'],
    ['15551234567@c.us', '15551234567@s.whatsapp.net'],
    ['  +5511987654321  ', '5511987654321@s.whatsapp.net'],
  ])('%s -> %s', (input, jid) => {
    expect(toJid(input)).toEqual({ jid });
  });

  it.each([
    ['', 'empty'],
    ['hello', 'only digits'],
    ['12345', '7 to 15'],
    ['+1234567890123456', '7 to 15'],
    ['0555123456', 'country code'],
    ['120363025246125486@g.us', 'not a user JID'],
    ['status@broadcast', 'not a user JID'],
    ['abc@s.whatsapp.net', 'JID user part'],
    ['+1 555 123 4567 ext 2', 'only digits'],
  ])('rejects %j with a reason', (input, reason) => {
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
});
