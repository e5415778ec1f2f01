/**
 * What an image status carries besides its bytes: a small JPEG preview that
 * recipients see blurred while the image downloads, and the image's size,
 * which WhatsApp uses to lay the status out before it arrives. Baileys would
 * compute these itself only by writing the image to a temporary file first;
 * doing it here, from memory, with the same library (sharp), avoids that.
 */
import sharp from 'sharp';

/** Baileys' own thumbnail width; bounded in height too, so a tall image's preview stays as small. */
const THUMBNAIL_SIZE = 32;

export interface ImageInfo {
  /** Base64, as Baileys' AnyMediaMessageContent takes it. */
  readonly jpegThumbnail: string;
  readonly width: number;
  readonly height: number;
}

/** Undefined when the bytes are not an image sharp can read; the caller sends without a preview. */
export async function imageInfo(data: Uint8Array): Promise<ImageInfo | undefined> {
  try {
    const image = sharp(data);
    const meta = await image.metadata();
    // As displayed: EXIF orientation 5-8 swaps width and height.
    const { width, height } = meta.autoOrient ?? meta;
    if (!width || !height) return undefined;
    const thumbnail = await image
      .rotate()
      .resize({ width: THUMBNAIL_SIZE, height: THUMBNAIL_SIZE, fit: 'inside', withoutEnlargement: true })
      .jpeg({ quality: 50 })
      .toBuffer();
    return { jpegThumbnail: thumbnail.toString('base64'), width, height };
  } catch {
    return undefined;
  }
}
