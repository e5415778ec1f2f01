/**
 * Saved recipient lists through the API: in memory over the server's own
 * handler (every rule and error), and over a real HTTP/2 server on port 0 with
 * a real SQLite file, where a list outlives a restart and a send names it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { Code, createClient, type Client } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionService } from '../src/gen/storycast/v1/session_service_pb.js';
import { StoryService, SendStoryRequestSchema, type SendStoryResponse } from '../src/gen/storycast/v1/story_service_pb.js';
import { numbers } from './support/scripted-transport.js';
import { createTestApp, startTestServer, type TestApp } from './support/storycast-server.js';
import { allOf, collectStream, failureOf } from './support/streams.js';

const story = { content: { case: 'text' as const, value: { text: 'hi' } } };
const jid = (n: string) => `${n.replace(/\D/g, '')}@s.whatsapp.net`;
const plannedOf = (events: readonly SendStoryResponse[]) => (events[0]?.event.case === 'planned' ? events[0].event.value : undefined);
const summaryOf = (events: readonly SendStoryResponse[]) => {
  const last = events.at(-1)?.event;
  return last?.case === 'summary' ? last.value : undefined;
};

describe('saved recipient lists (in memory, over the handler)', () => {
  let t: TestApp;
  let stories: Client<typeof StoryService>;
  let sessions: Client<typeof SessionService>;

  beforeAll(async () => {
    t = await createTestApp({ STORYCAST_SIM_TIME_SCALE: '1000', STORYCAST_MAX_RECIPIENTS: '1000' });
    stories = createClient(StoryService, t.transport);
    sessions = createClient(SessionService, t.transport);
  });
  afterAll(async () => {
    await t.close();
  });

  it('saves a list normalised and deduplicated, and reads it back', async () => {
    const saved = await stories.saveRecipientList({
      sessionId: 'lists-a',
      name: 'vip',
      recipients: ['+44 7700 900001', '447700900002@s.whatsapp.net', '447700900001', '0044 7700 900003'],
    });
    const want = [jid('447700900001'), jid('447700900002'), jid('447700900003')];
    expect(saved.list).toMatchObject({ sessionId: 'lists-a', name: 'vip', recipients: want, recipientCount: 3 });
    expect(saved.duplicateRecipients).toBe(1);
    const read = await stories.getRecipientList({ sessionId: 'lists-a', name: 'vip' });
    expect(read.list).toMatchObject({ recipients: want, recipientCount: 3 });
    expect(read.list?.createTime).toBeDefined();
  });

  it('refuses an invalid recipient by its index and saves nothing', async () => {
    const refused = await failureOf(
      stories.saveRecipientList({ sessionId: 'lists-a', name: 'bad', recipients: ['447700900001', 'not a number', '12'] }),
    );
    expect(refused).toMatchObject({ code: Code.InvalidArgument, reason: 'INVALID_RECIPIENT', field: 'recipients[1]' });
    expect(refused.message).toContain('and 1 more');
    expect(refused.message).not.toContain('not a number');
    expect(await failureOf(stories.getRecipientList({ sessionId: 'lists-a', name: 'bad' }))).toMatchObject({
      code: Code.NotFound,
      reason: 'RECIPIENT_LIST_NOT_FOUND',
    });
  });

  it('refuses bad names, sessions, sizes and page tokens with the field named', async () => {
    const cases = [
      [stories.saveRecipientList({ sessionId: 'lists-a', name: '', recipients: [] }), 'name', 'MISSING_LIST_NAME'],
      [stories.saveRecipientList({ sessionId: 'lists-a', name: 'a b', recipients: [] }), 'name', 'BAD_LIST_NAME'],
      [stories.saveRecipientList({ sessionId: '', name: 'x', recipients: [] }), 'session_id', 'MISSING_SESSION_ID'],
      [stories.saveRecipientList({ sessionId: 'lists-a', name: 'big', recipients: numbers(1001) }), 'recipients', 'TOO_MANY_RECIPIENTS'],
      [stories.getRecipientList({ sessionId: 'lists-a', name: 'x/y' }), 'name', 'BAD_LIST_NAME'],
      [stories.listRecipientLists({ sessionId: 'lists-a', pageSize: -1 }), 'page_size', 'BAD_PAGE_SIZE'],
      [stories.listRecipientLists({ sessionId: 'lists-a', pageToken: 'garbage' }), 'page_token', 'BAD_PAGE_TOKEN'],
      [stories.deleteRecipientList({ sessionId: 'lists-a', name: '' }), 'name', 'MISSING_LIST_NAME'],
    ] as const;
    for (const [call, field, reason] of cases) expect(await failureOf(call)).toMatchObject({ code: Code.InvalidArgument, field, reason });
  });

  it("pages a session's lists by name; a token pages no other session", async () => {
    for (const name of ['c', 'a', 'b']) await stories.saveRecipientList({ sessionId: 'lists-p', name, recipients: numbers(2) });
    const first = await stories.listRecipientLists({ sessionId: 'lists-p', pageSize: 2 });
    expect(first.lists.map((l) => [l.name, l.recipientCount, l.recipients.length])).toEqual([
      ['a', 2, 0],
      ['b', 2, 0],
    ]);
    const second = await stories.listRecipientLists({ sessionId: 'lists-p', pageSize: 2, pageToken: first.nextPageToken });
    expect(second.lists.map((l) => l.name)).toEqual(['c']);
    expect(second.nextPageToken).toBe('');
    expect(await failureOf(stories.listRecipientLists({ sessionId: 'lists-a', pageToken: first.nextPageToken }))).toMatchObject({
      field: 'page_token',
    });
  });

  it('sends to the union of recipients and a saved list, deduplicated, and says how many each named', async () => {
    const list = numbers(300);
    await stories.saveRecipientList({ sessionId: 'lists-s', name: 'daily', recipients: list });
    // 100 of the request's 150 are on the list too; one is invalid.
    const request = [...numbers(350).slice(200), 'nope'];
    const events = await allOf(stories.sendStory({ sessionId: 'lists-s', story, recipients: request, recipientList: 'daily' }));
    const planned = plannedOf(events)!;
    expect(planned.totalRecipients).toBe(350);
    expect(planned.sources).toMatchObject({ request: 150, list: 300 });
    expect(planned.invalidRecipients.map((i) => i.index)).toEqual([150]);
    const summary = summaryOf(events)!;
    expect(summary.total).toBe(350);
    expect(summary.delivered + summary.failed.length).toBe(350);
  });

  it('sends to a list alone, and without one reports every recipient as from the request', async () => {
    await stories.saveRecipientList({ sessionId: 'lists-s', name: 'only', recipients: numbers(40) });
    const alone = plannedOf(await allOf(stories.sendStory({ sessionId: 'lists-s', story, recipientList: 'only' })))!;
    expect(alone.totalRecipients).toBe(40);
    expect(alone.sources).toMatchObject({ request: 0, list: 40 });
    const plain = plannedOf(await allOf(stories.sendStory({ sessionId: 'lists-s', story, recipients: numbers(30) })))!;
    expect(plain.sources).toMatchObject({ request: 30, list: 0 });
  });

  it('refuses an unknown or badly named list before sending, and a union over the limit', async () => {
    expect(await failureOf(allOf(stories.sendStory({ sessionId: 'lists-s', story, recipientList: 'nobody' })))).toMatchObject({
      code: Code.NotFound,
      reason: 'RECIPIENT_LIST_NOT_FOUND',
      field: 'recipient_list',
    });
    expect(await failureOf(allOf(stories.sendStory({ sessionId: 'lists-s', story, recipientList: 'a:b' })))).toMatchObject({
      code: Code.InvalidArgument,
      field: 'recipient_list',
    });
    await stories.saveRecipientList({ sessionId: 'lists-s', name: 'most', recipients: numbers(900) });
    const over = await failureOf(
      allOf(
        stories.sendStory({
          sessionId: 'lists-s',
          story,
          recipients: numbers(1000).slice(800).concat(numbers(1200).slice(1000)),
          recipientList: 'most',
        }),
      ),
    );
    expect(over).toMatchObject({ code: Code.InvalidArgument, reason: 'TOO_MANY_RECIPIENTS', field: 'recipient_list' });
  });

  it('a request_id retried with another list is a different request', async () => {
    await stories.saveRecipientList({ sessionId: 'lists-r', name: 'one', recipients: numbers(20) });
    await stories.saveRecipientList({ sessionId: 'lists-r', name: 'two', recipients: numbers(20) });
    const base = { sessionId: 'lists-r', story, recipients: [], requestId: 'lists-retry-1' };
    await allOf(stories.sendStory(create(SendStoryRequestSchema, { ...base, recipientList: 'one' })));
    expect(await failureOf(allOf(stories.sendStory(create(SendStoryRequestSchema, { ...base, recipientList: 'two' }))))).toMatchObject({
      code: Code.AlreadyExists,
      reason: 'REQUEST_ID_REUSED',
    });
  });

  it('deletes a list, and a logout deletes every list of the session', async () => {
    await stories.saveRecipientList({ sessionId: 'lists-d', name: 'x', recipients: numbers(2) });
    await stories.saveRecipientList({ sessionId: 'lists-d', name: 'y', recipients: numbers(2) });
    await stories.saveRecipientList({ sessionId: 'lists-other', name: 'x', recipients: numbers(2) });
    expect((await stories.deleteRecipientList({ sessionId: 'lists-d', name: 'x' })).existed).toBe(true);
    expect((await stories.deleteRecipientList({ sessionId: 'lists-d', name: 'x' })).existed).toBe(false);
    await collectStream(sessions.connectSession({ sessionId: 'lists-d' }));
    await sessions.logoutSession({ sessionId: 'lists-d' });
    expect((await stories.listRecipientLists({ sessionId: 'lists-d' })).lists).toEqual([]);
    expect((await stories.listRecipientLists({ sessionId: 'lists-other' })).lists.map((l) => l.name)).toEqual(['x']);
  });
});

describe('saved recipient lists over a real server and SQLite file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'storycast-lists-server-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a list saved before a restart is sent to after it', async () => {
    const env = { STORYCAST_STORE: `sqlite://${join(dir, 'store.db')}`, STORYCAST_SIM_TIME_SCALE: '1000' };
    const first = await startTestServer(env);
    const before = createClient(StoryService, createGrpcTransport({ baseUrl: first.url }));
    await before.saveRecipientList({ sessionId: 'lists-db', name: 'weekly', recipients: numbers(250) });
    await first.server.close();

    const second = await startTestServer(env);
    try {
      const after = createClient(StoryService, createGrpcTransport({ baseUrl: second.url }));
      expect((await after.listRecipientLists({ sessionId: 'lists-db' })).lists.map((l) => [l.name, l.recipientCount])).toEqual([
        ['weekly', 250],
      ]);
      const events = await allOf(after.sendStory({ sessionId: 'lists-db', story, recipientList: 'weekly' }));
      expect(plannedOf(events)?.sources).toMatchObject({ request: 0, list: 250 });
      expect(summaryOf(events)?.delivered).toBe(250);
    } finally {
      await second.server.close();
    }
  });
});
