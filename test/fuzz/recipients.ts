/**
 * Recipient lists: a few inputs of every shape people type (and do not), and
 * the 100,000-entry lists of garbage a careless or hostile caller sends. The
 * big lists come from a seeded LCG, not from fast-check element by element:
 * 100,000 draws each would cost seconds per list.
 */
import fc from 'fast-check';

/** The server's default maximum (STORYCAST_MAX_RECIPIENTS). */
export const MAX_RECIPIENTS = 100_000;

const validNumber = fc.integer({ min: 0, max: 9_999_999 }).map((n) => `+1555${String(n).padStart(7, '0')}`);

const recipientInput: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: validNumber, weight: 6 },
  { arbitrary: validNumber.map((n) => `${n.slice(1)}@s.whatsapp.net`), weight: 2 },
  { arbitrary: validNumber.map((n) => `${n.slice(1)}@c.us`), weight: 1 },
  { arbitrary: validNumber.map((n) => `00${n.slice(1)}`), weight: 1 },
  { arbitrary: validNumber.map((n) => `+1 (555) ${n.slice(5, 8)}-${n.slice(8)}`), weight: 1 },
  {
    arbitrary: fc.constantFrom(
      '123456789012345@g.us',
      '15551234567@broadcast',
      'status@broadcast',
      '@s.whatsapp.net',
      '0123456789',
      '+1234',
      '+1234567890123456',
      '١٢٣٤٥٦٧٨٩٠',
      '+1\u00a0555\u00a01234567',
      '+',
      '@',
      '@@',
      '15551234567@S.WHATSAPP.NET',
      '15551234567@s.whatsapp.net ',
    ),
    weight: 2,
  },
  { arbitrary: fc.string(), weight: 2 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 40 }), weight: 1 },
);

/** Deterministic garbage: short strings of digits, punctuation and letters, rarely a valid number. */
export function garbageRecipients(count: number, seed: number, validEvery = 0): string[] {
  const alphabet = '0123456789+-() .@abcxyzé\u0000';
  let state = seed >>> 0 || 1;
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state;
  };
  const out = new Array<string>(count);
  for (let i = 0; i < count; i++) {
    if (validEvery > 0 && i % validEvery === 0) {
      out[i] = `+1555${String(i % 10_000_000).padStart(7, '0')}`;
      continue;
    }
    const length = next() % 24;
    let s = '';
    for (let j = 0; j < length; j++) s += alphabet[next() % alphabet.length];
    out[i] = s;
  }
  return out;
}

export const recipients: fc.Arbitrary<string[]> = fc.oneof(
  { arbitrary: fc.array(recipientInput, { maxLength: 30 }), weight: 600 },
  { arbitrary: fc.constant<string[]>([]), weight: 80 },
  { arbitrary: fc.array(validNumber, { minLength: 1, maxLength: 300 }), weight: 120 },
  // The duplicates case: one number many times.
  { arbitrary: fc.tuple(validNumber, fc.integer({ min: 2, max: 5000 })).map(([n, k]) => Array<string>(k).fill(n)), weight: 20 },
  // 100,000 garbage recipients: all invalid, or with a valid one in every 20,000 so the send runs and plans them all.
  { arbitrary: fc.integer().map((seed) => garbageRecipients(MAX_RECIPIENTS, seed)), weight: 2 },
  { arbitrary: fc.integer().map((seed) => garbageRecipients(MAX_RECIPIENTS, seed, 20_000)), weight: 1 },
  // One over the maximum.
  { arbitrary: fc.integer().map((seed) => garbageRecipients(MAX_RECIPIENTS + 1, seed, 50_000)), weight: 1 },
);
