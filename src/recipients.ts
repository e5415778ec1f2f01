/**
 * Recipient normalisation: what callers send (JIDs, phone numbers in the
 * formats people type) becomes WhatsApp user JIDs, in input order, first
 * occurrence kept. Anything unusable is reported back with a reason.
 *
 * Hand-written rather than libphonenumber-js: WhatsApp addresses by E.164
 * digits alone, and the library costs ~40 µs a number (4 s for a 100k list),
 * while the only check the send needs is "a plausible international number".
 */

const USER_JID_SUFFIX = '@s.whatsapp.net';

export interface InvalidRecipient {
  /** Position in the request's list, so callers can find it without us echoing numbers into logs. */
  readonly index: number;
  readonly input: string;
  readonly reason: string;
}

export interface NormalizedRecipients {
  /** Unique JIDs in first-seen order. */
  readonly valid: string[];
  /** Where each valid JID came from: its position in the input, in the same order. */
  readonly indexes: number[];
  readonly invalid: InvalidRecipient[];
  /** Inputs dropped because they named a recipient already in `valid`. */
  readonly duplicates: number;
}

const PHONE_PUNCTUATION = /[\s().\-\u00a0]/g;
const DIGITS = /^\d+$/;

/** E.164 allows at most 15 digits; the shortest numbers in use have 7. */
function checkDigits(digits: string): string | undefined {
  if (!DIGITS.test(digits)) return 'phone number may contain only digits, spaces, dashes, dots, parentheses and a leading +';
  if (digits.length < 7) return `phone number has ${digits.length} digits; an international number has 7 to 15`;
  if (digits.length > 15) return `phone number has ${digits.length} digits; an international number has 7 to 15`;
  if (digits.startsWith('0')) return 'phone number must start with its country code (no leading 0)';
  return undefined;
}

/** True when text[from, to) is 7 to 15 digits, the first not 0: what checkDigits accepts. */
function isPlainNumber(text: string, from: number, to: number): boolean {
  if (to - from < 7 || to - from > 15 || text.charCodeAt(from) === 48) return false;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/**
 * The common shapes (a user JID already, or digits with an optional +) without
 * regexes or copies: a 100k list is normalised on the event loop in one go.
 * Undefined for anything else, which toJid handles in full.
 */
function quickJid(input: string): string | undefined {
  if (input.endsWith(USER_JID_SUFFIX)) return isPlainNumber(input, 0, input.length - USER_JID_SUFFIX.length) ? input : undefined;
  const plus = input.charCodeAt(0) === 43 ? 1 : 0; // '+'
  return isPlainNumber(input, plus, input.length) ? `${plus ? input.slice(1) : input}${USER_JID_SUFFIX}` : undefined;
}

/** One input to a JID, or the reason it cannot be one. */
export function toJid(input: string): { jid: string } | { reason: string } {
  const text = input.trim();
  if (text === '') return { reason: 'empty recipient' };
  const at = text.indexOf('@');
  if (at !== -1) {
    const user = text.slice(0, at);
    const domain = text.slice(at + 1).toLowerCase();
    // whatsapp-web.js and older Baileys spell user JIDs "@c.us".
    if (domain !== 's.whatsapp.net' && domain !== 'c.us') {
      return { reason: `"@${domain}" is not a user JID; a status goes to <digits>@s.whatsapp.net` };
    }
    const problem = checkDigits(user);
    return problem ? { reason: `JID user part: ${problem}` } : { jid: `${user}${USER_JID_SUFFIX}` };
  }
  let digits = text.replace(PHONE_PUNCTUATION, '');
  if (digits.startsWith('+')) digits = digits.slice(1);
  else if (digits.startsWith('00')) digits = digits.slice(2); // international call prefix
  const problem = checkDigits(digits);
  return problem ? { reason: problem } : { jid: `${digits}${USER_JID_SUFFIX}` };
}

export function normalizeRecipients(inputs: readonly string[]): NormalizedRecipients {
  const seen = new Set<string>();
  const valid: string[] = [];
  const indexes: number[] = [];
  const invalid: InvalidRecipient[] = [];
  let duplicates = 0;
  for (let index = 0; index < inputs.length; index++) {
    const input = inputs[index]!;
    let jid = quickJid(input);
    if (jid === undefined) {
      const result = toJid(input);
      if ('reason' in result) {
        invalid.push({ index, input, reason: result.reason });
        continue;
      }
      jid = result.jid;
    }
    if (seen.has(jid)) {
      duplicates++;
    } else {
      seen.add(jid);
      valid.push(jid);
      indexes.push(index);
    }
  }
  return { valid, indexes, invalid, duplicates };
}

/**
 * `count` distinct, valid-looking numbers in the +1 555 range (reserved for
 * fiction), for demos, tests and benchmarks: +15550000000, +15550000001, ...
 */
export function demoNumbers(count: number, start = 0): string[] {
  return Array.from({ length: count }, (_, i) => `+1555${String(start + i).padStart(7, '0')}`);
}

/**
 * How many valid recipients each source named, for inputs normalised as
 * `[...request, ...list, ...contacts]` with these lengths. The request's are
 * counted unique; the list and the contacts are unique already, and a recipient
 * they share with an earlier source counts for each.
 */
export function sourcesOf(
  normalized: NormalizedRecipients,
  [requestLength, listLength, contactsLength]: readonly [number, number, number],
): { request: number; list: number; contacts: number } {
  let request = 0;
  for (const index of normalized.indexes) if (index < requestLength) request++;
  const listEnd = requestLength + listLength;
  let invalidListed = 0;
  let invalidContacts = 0;
  for (const { index } of normalized.invalid) {
    if (index >= listEnd) invalidContacts++;
    else if (index >= requestLength) invalidListed++;
  }
  return { request, list: listLength - invalidListed, contacts: contactsLength - invalidContacts };
}
