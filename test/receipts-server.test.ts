/**
 * GetStoryReceipts from the server's handler (in memory through
 * createRouterTransport; the simulated network at 10,000x, SQLite in a temp
 * dir) after a real send: the receipts the simulated phones send back, page by
 * page, the errors, a restart; and the same handler on a real port for grpc-js.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { create } from '@bufbuild/protobuf';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, createClient, createRouterTransport, type Client } from '@connectrpc/connect';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ErrorInfoSchema } from '../src/gen/google/rpc/error_details_pb.js';
import { GetStoryReceiptsRequestSchema, StoryService, type GetStoryReceiptsResponse } from '../src/gen/storycast/v1/story_service_pb.js';
import { listen } from '../src/server/listen.js';
import { storyServiceRoutes, type StoryServiceDeps } from '../src/server/story-service.js';
import { ReceiptStoreError } from '../src/receipts/types.js';
import { createTestApp, type TestApp } from './support/storycast-server.js';
import { numbers } from './support/scripted-transport.js';

const protoDir = fileURLToPath(new URL('../proto', import.meta.url));
const TOTAL = 1200;

let dir: string;
let env: Record<string, string>;
let t: TestApp;
let client: Client<typeof StoryService>;
let messageId: string;

async function errorOf(call: Promise<unknown>): Promise<{ code: Code; reason?: string; field?: string }> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
  if (!error) throw new Error('the call succeeded');
  const [info] = error.findDetails(ErrorInfoSchema);
  return { code: error.code, ...(info ? { reason: info.reason, field: info.metadata.field } : {}) };
}

async function allPages(sessionId: string, id: string, pageSize: number): Promise<GetStoryReceiptsResponse[]> {
  const pages: GetStoryReceiptsResponse[] = [];
  let pageToken = '';
  do {
    const page = await client.getStoryReceipts({ sessionId, messageId: id, pageSize, pageToken });
    pages.push(page);
    pageToken = page.nextPageToken;
  } while (pageToken !== '');
  return pages;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'storycast-receipts-server-'));
  const profile = join(dir, 'everyone-reads.json');
  // Everyone's phone answers and everyone views it: the end state is known exactly.
  await writeFile(profile, JSON.stringify({ name: 'everyone-reads', baseMs: 700, perRecipientMs: 0.7, deliveryShare: 1, readShare: 1 }));
  env = { STORYCAST_STORE: `sqlite://${join(dir, 'store.sqlite')}`, STORYCAST_SIM_PROFILE: profile, STORYCAST_SIM_TIME_SCALE: '10000' };
  t = await createTestApp(env);
  client = createClient(StoryService, t.transport);
  let summary: { messageId: string; delivered: number } | undefined;
  for await (const e of client.sendStory({
    sessionId: 'rc',
    story: { content: { case: 'text', value: { text: 'seen?' } } },
    recipients: numbers(TOTAL),
  })) {
    if (e.event.case === 'summary') summary = e.event.value;
  }
  expect(summary?.delivered).toBe(TOTAL);
  messageId = summary!.messageId;
});

afterAll(async () => {
  await t?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('GetStoryReceipts after a real send', () => {
  it('counts what the simulated phones answered, once they have', async () => {
    await vi.waitFor(
      async () =>
        expect((await client.getStoryReceipts({ sessionId: 'rc', messageId })).counts).toMatchObject({
          sent: TOTAL,
          delivered: TOTAL,
          read: TOTAL,
        }),
      { timeout: 10_000, interval: 20 },
    );
  });

  it('lists every recipient once over the pages, each read after delivery, the status 24 hours to live', async () => {
    const pages = await allPages('rc', messageId, 500);
    expect(pages.map((p) => p.recipients.length)).toEqual([500, 500, 200]);
    const recipients = pages.flatMap((p) => p.recipients);
    expect(new Set(recipients.map((r) => r.recipient))).toEqual(new Set(numbers(TOTAL).map((n) => `${n.slice(1)}@s.whatsapp.net`)));
    const first = pages[0]!;
    const ms = (ts: Parameters<typeof timestampDate>[0] | undefined) => timestampDate(ts!).getTime();
    for (const r of recipients) {
      expect(r.sent).toBe(true);
      // On the server's real-time line whatever the simulation's speed: created, then delivered, then read.
      expect(ms(r.deliverTime)).toBeGreaterThanOrEqual(ms(first.createTime));
      expect(ms(r.readTime)).toBeGreaterThanOrEqual(ms(r.deliverTime));
    }
    expect(first).toMatchObject({ sessionId: 'rc', messageId, totalSize: TOTAL });
    expect(ms(first.expireTime) - ms(first.createTime)).toBe(24 * 3_600_000);
    // page_size 0 is the default of 100; above 1000 is read as 1000.
    expect((await client.getStoryReceipts({ sessionId: 'rc', messageId })).recipients).toHaveLength(100);
    expect((await client.getStoryReceipts({ sessionId: 'rc', messageId, pageSize: 5000 })).recipients).toHaveLength(1000);
  });

  it('shows a receipt from someone the server did not see sent, with no read time until they read', async () => {
    t.runtime.receipts.receipt('rc', messageId, '200000000000009@lid', { deliveredAt: Date.now() });
    const pages = await allPages('rc', messageId, 1000);
    const stranger = pages.flatMap((p) => p.recipients).find((r) => r.recipient === '200000000000009@lid');
    expect(stranger).toMatchObject({ sent: false });
    expect(stranger!.deliverTime).toBeDefined();
    expect(stranger!.readTime).toBeUndefined();
    expect(pages[0]!.counts).toMatchObject({ sent: TOTAL, delivered: TOTAL + 1, read: TOTAL });
  });

  it('refuses what is not a status of this session, and bad requests, naming the field', async () => {
    const token = (await client.getStoryReceipts({ sessionId: 'rc', messageId, pageSize: 10 })).nextPageToken;
    expect(await errorOf(client.getStoryReceipts({ sessionId: 'rc', messageId: '3EB0000000000000DEAD' }))).toEqual({
      code: Code.NotFound,
      reason: 'STORY_NOT_FOUND',
      field: 'message_id',
    });
    expect(await errorOf(client.getStoryReceipts({ sessionId: 'someone-else', messageId }))).toMatchObject({
      code: Code.NotFound,
      reason: 'STORY_NOT_FOUND',
    });
    expect(await errorOf(client.getStoryReceipts({ sessionId: 'rc', messageId: ' ' }))).toMatchObject({
      code: Code.InvalidArgument,
      field: 'message_id',
    });
    expect(await errorOf(client.getStoryReceipts({ sessionId: '', messageId }))).toMatchObject({
      code: Code.InvalidArgument,
      field: 'session_id',
    });
    expect(await errorOf(client.getStoryReceipts({ sessionId: 'rc', messageId, pageToken: 'not-a-token' }))).toMatchObject({
      code: Code.InvalidArgument,
      reason: 'BAD_PAGE_TOKEN',
      field: 'page_token',
    });
    // A token is bound to the status it was issued for.
    expect(await errorOf(client.getStoryReceipts({ sessionId: 'other', messageId, pageToken: token }))).toMatchObject({
      code: Code.InvalidArgument,
      field: 'page_token',
    });
    expect(await errorOf(client.getStoryReceipts({ sessionId: 'rc', messageId, pageSize: -1 }))).toMatchObject({
      code: Code.InvalidArgument,
      field: 'page_size',
    });
  });

  it('is served to the canonical gRPC stack (@grpc/grpc-js with the .proto files) when the same handler listens', async () => {
    const listener = await listen(t.app.handler, { host: '127.0.0.1', port: 0 });
    const definition = protoLoader.loadSync('storycast/v1/story_service.proto', { includeDirs: [protoDir], longs: String, defaults: true });
    const pkg = grpc.loadPackageDefinition(definition) as unknown as { storycast: { v1: { StoryService: grpc.ServiceClientConstructor } } };
    const raw = new pkg.storycast.v1.StoryService(listener.address, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
      getStoryReceipts(request: object, callback: (err: Error | null, res: never) => void): void;
    };
    try {
      const reply = await new Promise<{ counts: { sent: number }; recipients: unknown[]; nextPageToken: string }>((resolve, reject) =>
        raw.getStoryReceipts({ sessionId: 'rc', messageId, pageSize: 2 }, (err: Error | null, res: never) =>
          err ? reject(err) : resolve(res),
        ),
      );
      expect(reply.counts.sent).toBe(TOTAL);
      expect(reply.recipients).toHaveLength(2);
      expect(reply.nextPageToken).not.toBe('');
    } finally {
      raw.close();
      await listener.close();
    }
  });

  it('still answers after a restart on the same store', async () => {
    const before = await client.getStoryReceipts({ sessionId: 'rc', messageId, pageSize: 1000 });
    await t.close();
    t = await createTestApp(env);
    client = createClient(StoryService, t.transport);
    expect(await client.getStoryReceipts({ sessionId: 'rc', messageId, pageSize: 1000 })).toEqual(before);
  });
});

describe('GetStoryReceipts when the store is down', () => {
  it('is UNAVAILABLE with reason STORE_UNAVAILABLE', async () => {
    const deps = {
      receipts: { page: async () => Promise.reject(new ReceiptStoreError('receipts store unavailable: down')) },
    } as unknown as StoryServiceDeps;
    const inProcess = createClient(StoryService, createRouterTransport(storyServiceRoutes(deps)));
    const request = create(GetStoryReceiptsRequestSchema, { sessionId: 'rc', messageId: 'M1' });
    expect(await errorOf(inProcess.getStoryReceipts(request))).toMatchObject({ code: Code.Unavailable, reason: 'STORE_UNAVAILABLE' });
  });
});
