/**
 * A story as the status message Baileys relays, built once per send with
 * Baileys' own generateWAMessage: media is downloaded by storycast through the
 * guarded fetcher (never by Baileys from a URL), given its preview and
 * dimensions, encrypted and uploaded here, exactly once.
 */
import { generateWAMessage } from '@whiskeysockets/baileys';
import type { AnyMessageContent, WAMessage } from '@whiskeysockets/baileys';
import type { Logger } from '../../log.js';
import { DEFAULT_FETCH_TIMEOUT_MS } from '../../media/fetch-media.js';
import { storyMedia, type MediaOptions } from '../../media/story-media.js';
import { imageInfo } from '../../media/thumbnail.js';
import { untilAborted } from '../../util/abort.js';
import { isHexColour } from '../../util/hex-colour.js';
import type { Story } from '../port.js';
import { STATUS_JID } from './acks.js';
import type { WASocketLike } from './socket.js';

export interface StatusOptions {
  readonly logger: Logger;
  /** The media size cap, the URL fetch's time budget and address policy (src/media). */
  readonly media: MediaOptions;
}

/**
 * Not raced against the signal: the engine waits for a timed-out prepare to
 * settle before it tries again, so this must not return while an upload still
 * runs. The fetch and the upload each stop on abort instead.
 */
export async function buildStatus(
  socket: WASocketLike,
  userJid: string,
  story: Story,
  options: StatusOptions,
  signal: AbortSignal,
): Promise<WAMessage> {
  const { content, backgroundColor, font } = await contentOf(story, options, signal);
  return generateWAMessage(STATUS_JID, content, {
    userJid,
    upload: abortableUpload(socket.waUploadToServer, signal),
    // Per upload host: after an abort Baileys still tries the next host with the destroyed stream, which would wait forever.
    mediaUploadTimeoutMs: options.media.timeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS,
    logger: options.logger,
    ...(backgroundColor !== undefined ? { backgroundColor } : {}),
    ...(font !== undefined ? { font } : {}),
  });
}

async function contentOf(
  story: Story,
  { logger, media: mediaOptions }: StatusOptions,
  signal: AbortSignal,
): Promise<{ content: AnyMessageContent; backgroundColor?: string; font?: number }> {
  if (story.kind === 'text') {
    let backgroundColor = story.backgroundColor;
    // Baileys turns the colour into ARGB only from a hex string; a number is silently dropped (assertColor).
    if (backgroundColor !== undefined && !isHexColour(backgroundColor)) {
      logger.warn({ backgroundColor }, 'text status background is not a hex colour; sending without it');
      backgroundColor = undefined;
    }
    // Baileys copies font through protobuf, which keeps only ExtendedTextMessage.FontType values.
    return { content: { text: story.text }, backgroundColor, font: story.font };
  }
  // Bytes, never { url }: Baileys would fetch a URL itself, past every guard.
  const media = await storyMedia(story, mediaOptions, signal);
  const mimetype = story.mimeType ?? (media.contentType?.startsWith(`${story.kind}/`) ? media.contentType : undefined);
  const extra = {
    ...(story.caption !== undefined ? { caption: story.caption } : {}),
    ...(mimetype !== undefined ? { mimetype } : {}),
  };
  if (story.kind === 'video') return { content: { video: media.data, ...extra } };
  const info = await imageInfo(media.data);
  if (!info) logger.warn({ bytes: media.data.length }, 'image status is not an image sharp can read; sending it without a preview');
  return { content: { image: media.data, ...extra, ...info } };
}

/**
 * Baileys' upload, made to stop when the prepare is told to: it refuses once
 * aborted, and an abort mid-upload destroys the encrypted stream, which ends
 * the HTTP request sending it, and rejects at once.
 */
function abortableUpload(upload: WASocketLike['waUploadToServer'], signal: AbortSignal): WASocketLike['waUploadToServer'] {
  return (stream, opts) => {
    // destroy() without an error: nobody may be listening for 'error' yet, and an unheard one would crash the process.
    if (signal.aborted) {
      stream.destroy();
      return Promise.reject(signal.reason);
    }
    return untilAborted(upload(stream, opts), signal, () => stream.destroy());
  };
}
