/**
 * ListSends without a session filter, for a key limited to some sessions:
 * the store pages over every tenant's sends, so the pages are read here and
 * narrowed to the key's sessions. A page can then hold fewer sends than
 * page_size, even none with a next_page_token (AIP-158 allows both), but
 * never one of another tenant's.
 *
 * The server's page token names the last send it read, which may be another
 * tenant's: handed out as it is, it would tell one tenant another's send id
 * and when it started. So the token is sealed (AES-256-GCM under a key
 * derived from the keys file, which every replica shares and no caller
 * sees) before it leaves, and opened when it comes back.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import type { UnaryRequest, UnaryResponse } from '@connectrpc/connect';
import {
  type ListSendsRequest,
  ListSendsRequestSchema,
  type ListSendsResponse,
  ListSendsResponseSchema,
} from '../gen/storycast/v1/story_service_pb.js';
import { invalidField } from '../server/errors.js';
import type { Principal } from './keys.js';

/** The server's own page sizes (send-handlers.ts): 0 means 50, above 1000 is read as 1000. */
const PAGE = { default: 50, max: 1000 } as const;
/** Server pages read per call at most: a tenant with few sends among many others' gets short pages, not a slow call. */
export const MAX_READS = 10;

type Next = (req: UnaryRequest) => Promise<UnaryResponse>;

export async function narrowedListSends(req: UnaryRequest, next: Next, principal: Principal, secret: Buffer): Promise<UnaryResponse> {
  const asked = req.message as ListSendsRequest;
  // The server refuses it with its own words.
  if (asked.pageSize < 0) return next(req);
  const want = asked.pageSize === 0 ? PAGE.default : Math.min(asked.pageSize, PAGE.max);
  let token = asked.pageToken === '' ? '' : openToken(asked.pageToken, secret, principal.tenant);
  const sends: ListSendsResponse['sends'] = [];
  let last: UnaryResponse | undefined;
  for (let reads = 0; reads < MAX_READS; reads++) {
    const message = create(ListSendsRequestSchema, { sessionId: '', state: asked.state, pageSize: want - sends.length, pageToken: token });
    last = await next({ ...req, message });
    const page = last.message as ListSendsResponse;
    sends.push(...page.sends.filter((send) => principal.allowsSession(send.sessionId)));
    token = page.nextPageToken;
    if (token === '' || sends.length >= want) break;
  }
  const nextPageToken = token === '' ? '' : sealToken(token, secret, principal.tenant);
  return { ...(last as UnaryResponse), message: create(ListSendsResponseSchema, { sends, nextPageToken }) };
}

export function sealToken(token: string, secret: Buffer, tenant: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', secret, iv);
  cipher.setAAD(Buffer.from(tenant, 'utf8'));
  const body = Buffer.concat([cipher.update(token, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
}

/** The server's token inside; INVALID_ARGUMENT as the server words it when the token is not one sealed for this tenant. */
export function openToken(sealed: string, secret: Buffer, tenant: string): string {
  const bytes = Buffer.from(sealed, 'base64url');
  try {
    if (bytes.length < 29) throw new Error('too short');
    const decipher = createDecipheriv('aes-256-gcm', secret, bytes.subarray(0, 12));
    decipher.setAAD(Buffer.from(tenant, 'utf8'));
    decipher.setAuthTag(bytes.subarray(12, 28));
    return Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]).toString('utf8');
  } catch {
    throw invalidField('page_token', 'BAD_PAGE_TOKEN', 'page_token is not one this server issued');
  }
}
