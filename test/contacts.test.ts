/**
 * Each session's contacts: the book on every store it runs on (memory, a real
 * SQLite file, a real redis-server), and filled from the Baileys events a
 * linked device receives (history sync, contacts.upsert and .update) through
 * the session manager and fake sockets; a close that unlinks the device
 * forgets them.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { DisconnectReason } from '@whiskeysockets/baileys';
import type { Keyv } from 'keyv';
import { describe, expect, it } from 'vitest';
import { withContactSync } from '../src/audiences/baileys.js';
import { ContactBook } from '../src/audiences/contacts.js';
import { silentLogger } from '../src/log.js';
import { createKeyv } from '../src/memory/store.js';
import { BaileysSessions, type ManagedSocket, type SocketFactory } from '../src/transport/baileys/sessions.js';
import { FakeManagedSocket } from './support/fake-managed-socket.js';
import { storeFixtures } from './support/store-fixtures.js';

const jid = (n: number) => `${447700900000 + n}@s.whatsapp.net`;

const fx = storeFixtures('contacts');
const keyvAt = (url: string) =>
  fx.keep(createKeyv(url, { namespace: `test-contacts-${randomUUID()}`, logger: silentLogger }), (k) => k.disconnect());

const stores: ReadonlyArray<[string, () => Keyv]> = [
  ['memory', () => keyvAt('memory://')],
  ['SQLite file', () => keyvAt(`sqlite://${join(fx.dir, `${randomUUID()}.db`)}`)],
  ['redis-server', () => keyvAt(fx.redisUrl())],
];

describe.each(stores)('%s: the contact book', (_name, make) => {
  it('is unsynced until the transport says so, then lists every contact by JID', async () => {
    const book = new ContactBook(make(), () => 1_700_000_000_000);
    await book.update('s1', [{ jid: jid(2), name: 'Bea' }]);
    expect(await book.jids('s1')).toBeUndefined();
    await book.update('s1', [{ jid: jid(1), notify: 'Al' }], { synced: true });
    expect((await book.jids('s1'))?.sort()).toEqual([jid(1), jid(2)]);
    expect(await book.page('s1', { limit: 10 })).toEqual({
      contacts: [
        { jid: jid(1), notify: 'Al' },
        { jid: jid(2), name: 'Bea' },
      ],
      total: 2,
      syncedAt: 1_700_000_000_000,
    });
  });

  it('merges updates (a name given replaces, one absent is kept) and drops what cannot see a status', async () => {
    const book = new ContactBook(make());
    await book.update('s1', [{ jid: jid(1), name: 'Al', notify: 'al' }]);
    await book.update('s1', [
      { jid: jid(1), notify: 'Alan' },
      { jid: '120363040000000000@g.us', name: 'a group' },
      { jid: 'status@broadcast' },
    ]);
    expect((await book.page('s1', { limit: 10 })).contacts).toEqual([{ jid: jid(1), name: 'Al', notify: 'Alan' }]);
  });

  it('pages after a JID, keeps sessions apart, and forgets a session whole', async () => {
    const book = new ContactBook(make());
    // Connected first: node-redis refuses commands while it connects (disableOfflineQueue), as the server's stores want.
    await book.page('s0', { limit: 1 });
    // All at once: a burst of events, each a read-modify-write, must lose none.
    const writes = Array.from({ length: 25 }, (_, i) => book.update('s1', [{ jid: jid(i) }]));
    await Promise.all([...writes, book.update('s2', [{ jid: jid(99) }])]);
    await book.update('s1', [], { synced: true });
    const first = await book.page('s1', { limit: 10 });
    expect(first.total).toBe(25);
    const second = await book.page('s1', { after: first.contacts.at(-1)!.jid, limit: 100 });
    expect([...first.contacts, ...second.contacts].map((c) => c.jid)).toEqual(Array.from({ length: 25 }, (_, i) => jid(i)));
    await book.forget('s1');
    expect(await book.jids('s1')).toBeUndefined();
    expect((await book.page('s1', { limit: 10 })).total).toBe(0);
    expect((await book.page('s2', { limit: 10 })).total).toBe(1);
  });
});

describe('contacts from Baileys events', () => {
  function rig() {
    const book = new ContactBook(createKeyv('memory://', { namespace: 'contacts', logger: silentLogger }));
    const sockets: FakeManagedSocket[] = [];
    const fake: SocketFactory = () => {
      const socket = new FakeManagedSocket();
      sockets.push(socket);
      return socket as unknown as ManagedSocket;
    };
    const sessions = new BaileysSessions({
      keyv: createKeyv('memory://', { namespace: 'auth', logger: silentLogger }),
      makeSocket: withContactSync(fake, book, silentLogger),
      logger: silentLogger,
      rng: () => 0,
    });
    return { book, sessions, sockets };
  }

  async function linked(r: ReturnType<typeof rig>, id: string): Promise<FakeManagedSocket> {
    const linking = (async () => {
      for await (const _ of r.sessions.connect(id, { signal: new AbortController().signal }));
    })();
    await expect.poll(() => r.sockets.length).toBeGreaterThan(0);
    const socket = r.sockets.at(-1)!;
    socket.update({ connection: 'open' });
    await linking;
    return socket;
  }

  it('keeps the history sync, the app state sync and later updates, and forgets them when the device is unlinked', async () => {
    const r = rig();
    const socket = await linked(r, 'kim');
    socket.events.emit('messaging-history.set', {
      chats: [],
      messages: [],
      contacts: [{ id: jid(1), notify: 'Al' }, { id: '120363040000000000@g.us' }],
      isLatest: true,
    });
    await expect.poll(() => r.book.jids('kim')).toEqual([jid(1)]);
    socket.events.emit('contacts.upsert', [{ id: jid(2), name: 'Bea' }]);
    socket.events.emit('contacts.update', [{ id: jid(1), name: 'Alan' }]);
    await expect
      .poll(async () => (await r.book.page('kim', { limit: 10 })).contacts)
      .toEqual([
        { jid: jid(1), name: 'Alan', notify: 'Al' },
        { jid: jid(2), name: 'Bea' },
      ]);

    socket.close(DisconnectReason.loggedOut);
    await expect.poll(() => r.book.page('kim', { limit: 10 })).toEqual({ contacts: [], total: 0 });
    await r.sessions.close();
  });

  it('an update before any sync does not make the contacts count as synced', async () => {
    const r = rig();
    const socket = await linked(r, 'lee');
    socket.events.emit('contacts.update', [{ id: jid(1), name: 'Al' }]);
    await expect.poll(async () => (await r.book.page('lee', { limit: 10 })).total).toBe(1);
    expect(await r.book.jids('lee')).toBeUndefined();
    // A close that reconnects keeps them.
    socket.close(DisconnectReason.restartRequired);
    await expect.poll(() => r.sockets.length).toBe(2);
    expect((await r.book.page('lee', { limit: 10 })).total).toBe(1);
    await r.sessions.close();
  });
});
