/**
 * A Story as bytes and back (JSON, media inline as base64), for journals that
 * keep a send's story until it is prepared, and for transports whose prepared
 * story is the story itself.
 */
import type { Story } from './port.js';

interface StoryJson {
  readonly kind: Story['kind'];
  readonly [field: string]: unknown;
}

export function encodeStory(story: Story): Uint8Array {
  const json: StoryJson = story.kind !== 'text' && story.data ? { ...story, data: Buffer.from(story.data).toString('base64') } : story;
  return Buffer.from(JSON.stringify(json));
}

/** Throws when the bytes are not an encoded story. */
export function decodeStory(bytes: Uint8Array): Story {
  const json: unknown = JSON.parse(Buffer.from(bytes).toString('utf8'));
  if (typeof json !== 'object' || json === null || !['text', 'image', 'video'].includes((json as StoryJson).kind)) {
    throw new Error('not an encoded story');
  }
  const { data, ...rest } = json as StoryJson;
  return (typeof data === 'string' ? { ...rest, data: new Uint8Array(Buffer.from(data, 'base64')) } : rest) as Story;
}
