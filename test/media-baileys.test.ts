/**
 * Media through BaileysTransport.prepare with Baileys' real message builder:
 * storycast downloads URLs itself (guarded) and hands Baileys bytes, image
 * statuses carry a JPEG preview and their dimensions, the size cap holds for
 * inline and fetched media, and an abort stops the upload.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { BaileysTransport, type BaileysPayload } from '../src/transport/baileys/transport.js';
import { SystemClock } from '../src/clock.js';
import { MediaError } from '../src/media/errors.js';
import { imageInfo } from '../src/media/thumbnail.js';
import { isPublicAddress, type Resolver } from '../src/media/url-guard.js';
import type { PreparedStory, Story } from '../src/transport/port.js';
import { FakeSessions, FakeSocket } from './support/fake-socket.js';

const S = 'session-1';
const clock = new SystemClock();
const never = () => new AbortController().signal;

/** A real image, made here: `format` at width x height, optionally with an EXIF orientation. */
async function picture(format: 'png' | 'jpeg', width: number, height: number, orientation?: number): Promise<Buffer> {
  let image = sharp({ create: { width, height, channels: 3, background: { r: 40, g: 120, b: 200 } } })[format]();
  if (orientation) image = image.withMetadata({ orientation });
  return image.toBuffer();
}

function isJpeg(bytes: Uint8Array | null | undefined): boolean {
  return !!bytes && bytes.length > 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
}

function imageMessage(prepared: PreparedStory) {
  return (prepared.payload as BaileysPayload).message.message?.imageMessage;
}

// The media server's address is loopback, which production refuses: allow exactly it, judge the rest as production does.
const allowTestServer = (address: string) => address === '127.0.0.1' || isPublicAddress(address);
const dns: Resolver = async (host) => (host === 'intranet.example' ? [{ address: '10.1.2.3', family: 4 }] : []);

let server: http.Server;
let base: string;
const served: { path: string; userAgent: string | undefined }[] = [];
let photo: Buffer;

beforeAll(async () => {
  photo = await picture('jpeg', 120, 90);
  server = http.createServer((req, res) => {
    served.push({ path: req.url ?? '', userAgent: req.headers['user-agent'] });
    if (req.url === '/photo.jpg') res.writeHead(200, { 'content-type': 'image/jpeg' }).end(photo);
    else if (req.url === '/clip.mp4') res.writeHead(200, { 'content-type': 'video/mp4' }).end(Buffer.alloc(5000, 9));
    else if (req.url === '/to-intranet') res.writeHead(302, { location: 'http://intranet.example/secret' }).end();
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function setup(media: ConstructorParameters<typeof BaileysTransport>[0]['media'] = {}, socket = new FakeSocket(clock)) {
  const transport = new BaileysTransport({
    sockets: new FakeSessions().set(S, 'open', socket),
    clock,
    media: { allowAddress: allowTestServer, resolve: dns, ...media },
  });
  return { socket, transport };
}

describe('imageInfo', () => {
  it('gives a PNG a small JPEG preview and its dimensions', async () => {
    const info = await imageInfo(await picture('png', 64, 48));
    expect(info).toMatchObject({ width: 64, height: 48 });
    const thumb = Buffer.from(info!.jpegThumbnail, 'base64');
    expect(isJpeg(thumb)).toBe(true);
    expect(await sharp(thumb).metadata()).toMatchObject({ format: 'jpeg', width: 32, height: 24 });
  });

  it('reports the size as displayed when EXIF rotates the image', async () => {
    expect(await imageInfo(await picture('jpeg', 40, 30, 6))).toMatchObject({ width: 30, height: 40 });
  });

  it('is undefined for bytes that are not an image', async () => {
    expect(await imageInfo(new Uint8Array(512).fill(7))).toBeUndefined();
  });
});

describe('BaileysTransport.saveStory / restoreStory (a resumed send)', () => {
  it("keeps the built message in WhatsApp's protobuf: a new process relays the same upload without uploading again", async () => {
    const { socket, transport } = setup();
    const prepared = await transport.prepare(S, { kind: 'image', data: await picture('png', 50, 20), caption: 'again' }, never());
    const saved = transport.saveStory(prepared);
    // The media bytes stay out of the journal: they are uploaded already.
    expect(saved.length).toBeLessThan(imageMessage(prepared)!.jpegThumbnail!.length * 2 + 1000);

    const later = setup();
    const restored = later.transport.restoreStory(S, saved, 'RESUMED-ID');
    const img = imageMessage(restored)!;
    const original = imageMessage(prepared)!;
    for (const field of ['mediaKey', 'fileSha256', 'fileEncSha256', 'jpegThumbnail'] as const) {
      expect(Buffer.from(img[field]!)).toEqual(Buffer.from(original[field]!));
    }
    expect(img).toMatchObject({ url: original.url, directPath: original.directPath, caption: 'again', width: 50, height: 20 });
    expect(restored.story).toEqual({ kind: 'image', caption: 'again' });
    await later.transport.send(
      { sessionId: S, story: restored, recipients: ['15550000001@s.whatsapp.net'], messageId: 'RESUMED-ID' },
      never(),
    );
    expect(later.socket.uploads).toBe(0);
    expect(later.socket.calls[0]!.message).toMatchObject({ imageMessage: { caption: 'again', directPath: original.directPath } });
    // Retry requests for the status are answered after the restart, from the restored message.
    expect(await later.transport.getMessage({ id: 'RESUMED-ID' })).toMatchObject({ imageMessage: { caption: 'again' } });
    expect(socket.uploads).toBe(1);
  });

  it('refuses bytes it did not save', () => {
    const { transport } = setup();
    expect(() => transport.restoreStory(S, new TextEncoder().encode('{"story":1}'))).toThrow(/not a story this transport saved/);
  });
});

describe('BaileysTransport.prepare with media', () => {
  it('an image status carries a JPEG thumbnail and the width and height of a PNG', async () => {
    const { transport } = setup();
    const prepared = await transport.prepare(S, { kind: 'image', data: await picture('png', 50, 20), mimeType: 'image/png' }, never());
    const img = imageMessage(prepared);
    expect(img).toMatchObject({ width: 50, height: 20, mimetype: 'image/png' });
    expect(isJpeg(img?.jpegThumbnail)).toBe(true);
  });

  it('gives the size as displayed for a JPEG that EXIF rotates', async () => {
    const { transport } = setup();
    const prepared = await transport.prepare(S, { kind: 'image', data: await picture('jpeg', 40, 30, 6) }, never());
    expect(imageMessage(prepared)).toMatchObject({ width: 30, height: 40 });
  });

  it('downloads a URL itself and hands Baileys the bytes: one request, from storycast, not from Baileys', async () => {
    const { socket, transport } = setup();
    const before = served.length;
    const prepared = await transport.prepare(S, { kind: 'image', url: `${base}/photo.jpg`, caption: 'from a URL' }, never());
    expect(served.slice(before)).toEqual([{ path: '/photo.jpg', userAgent: 'storycast' }]);
    const img = imageMessage(prepared);
    expect(img).toMatchObject({ caption: 'from a URL', mimetype: 'image/jpeg', width: 120, height: 90, fileLength: expect.anything() });
    expect(Number(img?.fileLength)).toBe(photo.length);
    expect(isJpeg(img?.jpegThumbnail)).toBe(true);
    expect(socket.uploads).toBe(1);
    expect(socket.uploadedBytes).toBeGreaterThanOrEqual(photo.length);
  });

  it("takes a video's mimetype from the server when the request gave none", async () => {
    const { transport } = setup();
    const prepared = await transport.prepare(S, { kind: 'video', url: `${base}/clip.mp4` }, never());
    expect((prepared.payload as BaileysPayload).message.message?.videoMessage).toMatchObject({ mimetype: 'video/mp4' });
  });

  it('refuses, without uploading, a URL whose name resolves to a private address at send time', async () => {
    const { socket, transport } = setup();
    const error = await transport.prepare(S, { kind: 'image', url: 'http://intranet.example/a.jpg' }, never()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MediaError);
    expect(error).toMatchObject({
      reason: 'BAD_MEDIA_URL',
      field: 'story.image.url',
      message: 'story.image.url host intranet.example resolves to 10.1.2.3, which is not a public address',
    });
    expect(socket.uploads).toBe(0);
  });

  it('refuses a redirect to a private address', async () => {
    const { socket, transport } = setup();
    await expect(transport.prepare(S, { kind: 'video', url: `${base}/to-intranet` }, never())).rejects.toMatchObject({
      reason: 'BAD_MEDIA_URL',
      field: 'story.video.url',
    });
    expect(socket.uploads).toBe(0);
  });

  it('refuses the test server under the production policy', async () => {
    const socket = new FakeSocket(clock);
    const transport = new BaileysTransport({ sockets: new FakeSessions().set(S, 'open', socket), clock });
    await expect(transport.prepare(S, { kind: 'image', url: `${base}/photo.jpg` }, never())).rejects.toMatchObject({
      reason: 'BAD_MEDIA_URL',
    });
  });

  it.each([
    [
      'inline data',
      { kind: 'image', data: new Uint8Array(2049) } as Story,
      'story.image.data has 2049 bytes, more than STORYCAST_MAX_MEDIA_BYTES (2048 bytes)',
    ],
    [
      'a fetched body',
      { kind: 'video', url: '/clip.mp4' } as Story,
      'story.video.url: the media is larger than STORYCAST_MAX_MEDIA_BYTES (2048 bytes)',
    ],
  ])('refuses %s over the size cap, naming the limit, before uploading', async (_name, story, message) => {
    const { socket, transport } = setup({ maxBytes: 2048 });
    const withUrl = story.kind !== 'text' && story.url ? { ...story, url: `${base}${story.url}` } : story;
    await expect(transport.prepare(S, withUrl, never())).rejects.toMatchObject({ reason: 'MEDIA_TOO_LARGE', message });
    expect(socket.uploads).toBe(0);
  });

  it('an abort mid-upload destroys the upload stream and rejects with the reason', async () => {
    /** An upload that takes the first bytes, then waits on the network until its stream is torn down. */
    class SlowUploadSocket extends FakeSocket {
      started!: () => void;
      readonly uploading = new Promise<void>((resolve) => (this.started = resolve));
      streamDestroyed = false;
      override readonly waUploadToServer = async (stream: Readable): Promise<{ mediaUrl: string; directPath: string }> => {
        this.uploads++;
        this.started();
        await new Promise((resolve) => stream.once('close', resolve));
        this.streamDestroyed = stream.destroyed && !stream.readableEnded;
        throw new Error('upload connection closed');
      };
    }
    const socket = new SlowUploadSocket(clock);
    const { transport } = setup({}, socket);
    const controller = new AbortController();
    const reason = new Error('prepare timed out');
    const preparing = transport
      .prepare(S, { kind: 'image', data: await picture('png', 20, 20) }, controller.signal)
      .catch((e: unknown) => e);
    await socket.uploading;
    controller.abort(reason);
    expect(await preparing).toBe(reason);
    await until(() => socket.streamDestroyed);
  });

  it('does not start an upload once aborted', async () => {
    const { socket, transport } = setup();
    const controller = new AbortController();
    const reason = new Error('gone');
    controller.abort(reason);
    expect(
      await transport.prepare(S, { kind: 'image', data: await picture('png', 8, 8) }, controller.signal).catch((e: unknown) => e),
    ).toBe(reason);
    expect(socket.uploadedBytes).toBe(0);
  });
});

async function until(condition: () => boolean): Promise<void> {
  await vi.waitFor(() => expect(condition()).toBe(true), { timeout: 5_000, interval: 10 });
}
