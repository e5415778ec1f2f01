/**
 * A media story's bytes, however the request gave them: inline data (checked
 * against the size cap) or a URL downloaded through the guarded fetcher. A
 * transport hands the bytes on, never the URL, so nothing downstream (Baileys
 * would fetch a `{ url }` itself, unguarded) reaches out on the caller's say.
 */
import { TransportError, type Story } from '../transport/port.js';
import { DEFAULT_FETCH_TIMEOUT_MS, fetchMedia, type MediaFetchPolicy } from './fetch-media.js';
import { assertInlineMediaSize, DEFAULT_MAX_MEDIA_BYTES } from './limits.js';

export interface MediaOptions extends MediaFetchPolicy {
  /** STORYCAST_MAX_MEDIA_BYTES. */
  readonly maxBytes?: number;
  /** Time budget for downloading a URL (and for each upload attempt, where the transport has one). */
  readonly timeoutMs?: number;
}

export type MediaStory = Extract<Story, { kind: 'image' | 'video' }>;

export interface StoryMedia {
  readonly data: Buffer;
  /** The server's Content-Type, for media fetched from a URL. */
  readonly contentType?: string;
}

export async function storyMedia(story: MediaStory, options: MediaOptions, signal: AbortSignal): Promise<StoryMedia> {
  const { maxBytes = DEFAULT_MAX_MEDIA_BYTES, timeoutMs = DEFAULT_FETCH_TIMEOUT_MS, ...policy } = options;
  if (story.data) {
    assertInlineMediaSize(story.data, maxBytes, `story.${story.kind}.data`);
    return { data: Buffer.from(story.data.buffer, story.data.byteOffset, story.data.byteLength) };
  }
  if (story.url) {
    const fetched = await fetchMedia(story.url, { ...policy, field: `story.${story.kind}.url`, maxBytes, timeoutMs, signal });
    return { data: fetched.data, ...(fetched.contentType ? { contentType: fetched.contentType } : {}) };
  }
  throw new TransportError('SEND_FAILED', `${story.kind} story has neither data nor url`);
}
