/**
 * Page tokens for a status's recipient list (AIP-158): opaque to callers, an
 * offset underneath. Recipients are only ever appended to a status's list, so
 * an offset stays valid while receipts keep arriving. The token is bound to
 * its status, so one status's token cannot page through another's.
 */
import { createHash } from 'node:crypto';

const PREFIX = 'r1';

export class BadPageTokenError extends Error {
  override readonly name = 'BadPageTokenError';
}

export function encodePageToken(sessionId: string, messageId: string, offset: number): string {
  return Buffer.from(`${PREFIX}:${offset}:${bindingOf(sessionId, messageId)}`).toString('base64url');
}

/** The offset a token stands for; an empty token is the first page. Throws BadPageTokenError. */
export function decodePageToken(token: string, sessionId: string, messageId: string): number {
  if (token === '') return 0;
  const [prefix, offset, binding, ...rest] = Buffer.from(token, 'base64url').toString('utf8').split(':');
  if (prefix !== PREFIX || rest.length > 0 || !offset || !/^\d{1,9}$/.test(offset)) {
    throw new BadPageTokenError('page_token is not one this server issued');
  }
  if (binding !== bindingOf(sessionId, messageId)) {
    throw new BadPageTokenError('page_token belongs to another status (a token is only valid with the request that returned it)');
  }
  return Number(offset);
}

function bindingOf(sessionId: string, messageId: string): string {
  return createHash('sha256').update(`${sessionId}/${messageId}`).digest('base64url').slice(0, 11);
}
