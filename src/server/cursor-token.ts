/**
 * Page tokens that carry the last key of the page before (a list's name, a
 * contact's JID), for listings ordered by a key (AIP-158): a page stays right
 * however many entries were added or removed before it. Opaque to callers, and
 * bound to what they list (a session's lists, its contacts), so one listing's
 * token pages no other.
 */
import { createHash } from 'node:crypto';
import { invalidField } from './errors.js';

const VERSION = 'c1';

/** The token for the page after `after`, for the listing named by `scope`. */
export function encodeCursor(scope: string, after: string): string {
  return Buffer.from(JSON.stringify([VERSION, after, bindingOf(scope)])).toString('base64url');
}

/** The key a token resumes after; undefined for the first page. INVALID_ARGUMENT on page_token for any other token. */
export function decodeCursor(token: string, scope: string): string | undefined {
  if (token === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 3 ||
    parsed[0] !== VERSION ||
    typeof parsed[1] !== 'string' ||
    parsed[2] !== bindingOf(scope)
  ) {
    throw invalidField('page_token', 'BAD_PAGE_TOKEN', 'page_token is not one this server returned for this listing');
  }
  return parsed[1];
}

const bindingOf = (scope: string) => createHash('sha256').update(scope).digest('base64url').slice(0, 11);
