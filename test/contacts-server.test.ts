/**
 * Contacts through the API on the simulated network, whose sessions sync a
 * generated address book when they come up: ListContacts pages through it,
 * an all_contacts send reaches every contact once (receipts say who the status
 * went to), a logout forgets them, and the bad inputs are refused by name.
 */
import { Code, createClient, type Client } from '@connectrpc/connect';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContactBook } from '../src/audiences/contacts.js';
import { MemoryRecipientListStore } from '../src/audiences/lists.js';
import { SessionService } from '../src/gen/storycast/v1/session_service_pb.js';
import { StoryService } from '../src/gen/storycast/v1/story_service_pb.js';
import { silentLogger } from '../src/log.js';
import { createKeyv } from '../src/memory/store.js';
import { audienceOf } from '../src/server/audience.js';
import { DEFAULT_ADDRESS_BOOK } from '../src/transport/sim/profile.js';
import { simulatedContacts } from '../src/transport/sim/sessions.js';
import { numbers } from './support/scripted-transport.js';
import { createTestApp, type TestApp } from './support/storycast-server.js';
import { allOf, collectStream, failureOf } from './support/streams.js';

const story = { content: { case: 'text' as const, value: { text: 'hi' } } };

describe('contacts on the simulated network', () => {
  let t: TestApp;
  let stories: Client<typeof StoryService>;
  let sessions: Client<typeof SessionService>;

  beforeAll(async () => {
    t = await createTestApp({ STORYCAST_SIM_TIME_SCALE: '1000' });
    stories = createClient(StoryService, t.transport);
    sessions = createClient(SessionService, t.transport);
  });
  afterAll(async () => {
    await t.close();
  });

  it("pages through a session's generated address book by JID", async () => {
    await sessions.getSession({ sessionId: 'book' });
    const want = simulatedContacts(DEFAULT_ADDRESS_BOOK)
      .map((c) => c.jid)
      .sort();
    const seen: string[] = [];
    let pageToken = '';
    let pages = 0;
    do {
      const page = await sessions.listContacts({ sessionId: 'book', pageSize: 700, pageToken });
      expect(page.totalSize).toBe(DEFAULT_ADDRESS_BOOK);
      expect(page.syncTime).toBeDefined();
      seen.push(...page.contacts.map((c) => c.jid));
      pageToken = page.nextPageToken;
      pages++;
    } while (pageToken !== '');
    expect(pages).toBe(3);
    expect(seen).toEqual(want);
    const first = await sessions.listContacts({ sessionId: 'book', pageSize: 1 });
    expect(first.contacts[0]?.name).toMatch(/^Contact \d+$/);
  });

  it('sends to every contact once, with the request and a saved list in the union', async () => {
    await stories.saveRecipientList({ sessionId: 'everyone', name: 'extra', recipients: numbers(10, 5_000_000) });
    const events = await allOf(
      stories.sendStory({ sessionId: 'everyone', story, allContacts: true, recipientList: 'extra', recipients: numbers(5) }),
    );
    const planned = events[0]?.event.case === 'planned' ? events[0].event.value : undefined;
    expect(planned?.sources).toMatchObject({ request: 5, list: 10, contacts: DEFAULT_ADDRESS_BOOK });
    expect(planned?.totalRecipients).toBe(DEFAULT_ADDRESS_BOOK + 10);
    const last = events.at(-1)?.event;
    const summary = last?.case === 'summary' ? last.value : undefined;
    expect(summary?.delivered).toBe(DEFAULT_ADDRESS_BOOK + 10);

    // Who the status went to, from the receipts book: every contact, each once.
    const receipts = await stories.getStoryReceipts({ sessionId: 'everyone', messageId: summary!.messageId, pageSize: 1000 });
    const sent = [...receipts.recipients.map((r) => r.recipient)];
    let pageToken = receipts.nextPageToken;
    while (pageToken !== '') {
      const page = await stories.getStoryReceipts({ sessionId: 'everyone', messageId: summary!.messageId, pageSize: 1000, pageToken });
      sent.push(...page.recipients.map((r) => r.recipient));
      pageToken = page.nextPageToken;
    }
    expect(receipts.counts?.sent).toBe(DEFAULT_ADDRESS_BOOK + 10);
    expect(new Set(sent).size).toBe(sent.length);
    for (const c of simulatedContacts(DEFAULT_ADDRESS_BOOK)) expect(sent).toContain(c.jid);
  });

  it('a logout forgets the contacts; linking again syncs them again', async () => {
    await sessions.getSession({ sessionId: 'gone' });
    expect((await sessions.listContacts({ sessionId: 'gone' })).totalSize).toBe(DEFAULT_ADDRESS_BOOK);
    await sessions.logoutSession({ sessionId: 'gone' });
    const after = await sessions.listContacts({ sessionId: 'gone' });
    expect(after.totalSize).toBe(0);
    expect(after.syncTime).toBeUndefined();
    await collectStream(sessions.connectSession({ sessionId: 'gone' }));
    expect((await sessions.listContacts({ sessionId: 'gone' })).totalSize).toBe(DEFAULT_ADDRESS_BOOK);
  });

  it('refuses bad paging by field', async () => {
    expect(await failureOf(sessions.listContacts({ sessionId: 'book', pageSize: -1 }))).toMatchObject({
      code: Code.InvalidArgument,
      field: 'page_size',
    });
    const token = (await sessions.listContacts({ sessionId: 'book', pageSize: 1 })).nextPageToken;
    expect(await failureOf(sessions.listContacts({ sessionId: 'other', pageToken: token }))).toMatchObject({
      code: Code.InvalidArgument,
      reason: 'BAD_PAGE_TOKEN',
      field: 'page_token',
    });
    expect(await failureOf(sessions.listContacts({ sessionId: '' }))).toMatchObject({ code: Code.InvalidArgument, field: 'session_id' });
  });
});

describe('all_contacts before the contacts have synced', () => {
  it('is FAILED_PRECONDITION with CONTACTS_NOT_SYNCED, naming the field', async () => {
    const contacts = new ContactBook(createKeyv('memory://', { namespace: 'c', logger: silentLogger }));
    await contacts.update('fresh', [{ jid: '447700900001@s.whatsapp.net' }]);
    const deps = { lists: new MemoryRecipientListStore(), contacts, sessions: { get: () => undefined } };
    const refused = await failureOf(audienceOf(deps, 'fresh', { recipientList: '', allContacts: true }));
    expect(refused).toMatchObject({ code: Code.FailedPrecondition, reason: 'CONTACTS_NOT_SYNCED', field: 'all_contacts' });
    await contacts.update('fresh', [], { synced: true });
    expect(await audienceOf(deps, 'fresh', { recipientList: '', allContacts: true })).toEqual({
      contacts: ['447700900001@s.whatsapp.net'],
    });
    expect(await audienceOf(deps, 'fresh', { recipientList: '', allContacts: false })).toBeUndefined();
  });
});
