/**
 * Downloads a story's media from its URL, guarded (url-guard.ts): every hop's
 * URL is checked, names are resolved and checked by our own lookup, and the
 * socket connects to the very address that was checked (no DNS rebinding).
 * Redirects are followed here, a bounded number, each one checked again. The
 * body is capped in bytes and the whole fetch in time.
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { TransportError } from '../transport/port.js';
import { MediaError } from './errors.js';
import { checkMediaUrl, isPublicAddress, resolvePermitted, type AddressPolicy, type Resolver } from './url-guard.js';

const DEFAULT_MAX_REDIRECTS = 5;
export const DEFAULT_FETCH_TIMEOUT_MS = 60_000;

/** Who may be connected to and how names resolve: production defaults; tests widen them to reach 127.0.0.1. */
export interface MediaFetchPolicy {
  readonly allowAddress?: AddressPolicy;
  readonly resolve?: Resolver;
  readonly maxRedirects?: number;
}

export interface FetchMediaOptions extends MediaFetchPolicy {
  /** The request field the URL came from, named in every error. */
  readonly field: string;
  readonly maxBytes: number;
  /** For the whole fetch, redirects included. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

export interface FetchedMedia {
  readonly data: Buffer;
  /** The response's Content-Type, without parameters; undefined when absent. */
  readonly contentType: string | undefined;
  /** Where the bytes finally came from, after redirects. */
  readonly url: string;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export async function fetchMedia(rawUrl: string, options: FetchMediaOptions): Promise<FetchedMedia> {
  const { field, maxBytes, timeoutMs } = options;
  const allowAddress = options.allowAddress ?? isPublicAddress;
  const maxRedirects = options.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
  const budget = AbortSignal.timeout(timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, budget]) : budget;
  const refuse = (problem: string) => new MediaError('BAD_MEDIA_URL', `${field} ${problem}`, field);

  let current = rawUrl;
  try {
    for (let hop = 0; ; hop++) {
      const checked = checkMediaUrl(current, allowAddress);
      if (!checked.ok) throw refuse(hop === 0 ? checked.problem : `redirects to ${current}, which ${checked.problem}`);
      const response = await get(checked.url, signal, { ...options, allowAddress }, refuse);
      const status = response.statusCode ?? 0;
      if (REDIRECTS.has(status)) {
        response.destroy();
        const location = response.headers.location;
        if (!location) throw new TransportError('SEND_FAILED', `${field}: ${status} redirect without a Location`);
        if (hop >= maxRedirects) throw refuse(`redirects more than ${maxRedirects} times`);
        current = new URL(location, checked.url).toString();
        continue;
      }
      if (status < 200 || status > 299) {
        response.destroy();
        const answered = `${field}: ${checked.url.host} answered ${status} ${response.statusMessage ?? ''}`.trimEnd();
        // A 4xx other than these says the URL itself is wrong; the rest may heal.
        if (status >= 400 && status < 500 && status !== 408 && status !== 429) throw new MediaError('BAD_MEDIA_URL', answered, field);
        throw new TransportError('SEND_FAILED', answered);
      }
      const data = await readCapped(response, maxBytes, field);
      const contentType = response.headers['content-type']?.split(';')[0]?.trim().toLowerCase() || undefined;
      return { data, contentType, url: checked.url.toString() };
    }
  } catch (error) {
    if (options.signal?.aborted) throw options.signal.reason;
    if (budget.aborted)
      throw new TransportError('TIMEOUT', `${field}: fetching the media took more than ${timeoutMs} ms`, undefined, { cause: error });
    if (error instanceof MediaError || error instanceof TransportError) throw error;
    throw new TransportError('SEND_FAILED', `${field}: could not fetch the media: ${(error as Error).message}`, undefined, {
      cause: error,
    });
  }
}

/** One GET whose connection goes only to addresses the policy allows. */
function get(
  url: URL,
  signal: AbortSignal,
  policy: MediaFetchPolicy & { allowAddress: AddressPolicy },
  refuse: (problem: string) => MediaError,
): Promise<IncomingMessage> {
  let refused: MediaError | undefined;
  // net calls this only for names: IP literals were judged by checkMediaUrl.
  const lookup: LookupFunction = (hostname, opts, callback) => {
    resolvePermitted(hostname, policy).then(
      (result) => {
        if (!result.ok) {
          refused = refuse(result.problem);
          callback(refused, '', 0);
          return;
        }
        const wanted = opts.family === 4 || opts.family === 6 ? result.addresses.filter((a) => a.family === opts.family) : result.addresses;
        if (wanted.length === 0) {
          callback(Object.assign(new Error(`${hostname} has no IPv${opts.family} address`), { code: 'ENOTFOUND' }), '', 0);
        } else if (opts.all) {
          callback(
            null,
            wanted.map((a) => ({ address: a.address, family: a.family })),
          );
        } else {
          callback(null, wanted[0]!.address, wanted[0]!.family);
        }
      },
      (error: NodeJS.ErrnoException) => callback(error, '', 0),
    );
  };
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const request = client.get(url, {
      lookup,
      signal,
      // A pooled socket could have been connected by someone else without this lookup.
      agent: false,
      headers: { 'user-agent': 'storycast', accept: '*/*' },
    });
    request.once('response', resolve);
    request.once('error', (error) => reject(refused ?? error));
  });
}

async function readCapped(response: IncomingMessage, maxBytes: number, field: string): Promise<Buffer> {
  const tooLarge = () =>
    new MediaError('MEDIA_TOO_LARGE', `${field}: the media is larger than STORYCAST_MAX_MEDIA_BYTES (${maxBytes} bytes)`, field);
  const declared = Number(response.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    response.destroy();
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) {
      // Stop reading: a server that lies about (or omits) its length costs us at most the cap.
      response.destroy();
      throw tooLarge();
    }
    chunks.push(chunk);
  }
  if (!response.complete) throw new TransportError('SEND_FAILED', `${field}: the connection closed before the whole media arrived`);
  return Buffer.concat(chunks, size);
}
