/**
 * Baileys' contacts, for the book. A linked device learns its account's
 * address book from the history sync (`messaging-history.set`) and the app
 * state sync (`contacts.upsert`), and hears of changes through
 * `contacts.update`; once either sync has delivered contacts the session
 * counts as synced. A close that deletes the credentials (the device was
 * unlinked, or the account logged out) deletes its contacts too.
 */
import type { Contact as BaileysContact } from '@whiskeysockets/baileys';
import type { Logger } from '../log.js';
import { closeInfo, reconnectDecision } from '../transport/baileys/reconnect.js';
import type { ConnectionUpdate, SocketFactory } from '../transport/baileys/session-entry.js';
import type { Contact, ContactSink } from './contacts.js';

const toContact = (c: Partial<BaileysContact>): Contact | undefined =>
  c.id ? { jid: c.id, ...(c.name ? { name: c.name } : {}), ...(c.notify ? { notify: c.notify } : {}) } : undefined;

const contactsOf = (list: readonly Partial<BaileysContact>[] | undefined): Contact[] => (list ?? []).flatMap((c) => toContact(c) ?? []);

/** A socket factory whose every socket keeps its session's contacts in the book from its first frame. */
export function withContactSync(makeSocket: SocketFactory, book: ContactSink, logger: Logger): SocketFactory {
  return (options) => {
    const socket = makeSocket(options);
    const { sessionId } = options;
    // Never a contact in the log: the session and what failed are enough to find it.
    const failed = (what: string) => (error: unknown) => logger.warn({ err: error, sessionId }, `could not store contacts (${what})`);
    const synced = (contacts: Contact[], what: string) => {
      if (contacts.length === 0) return;
      book.update(sessionId, contacts, { synced: true }).catch(failed(what));
    };
    socket.ev.on('messaging-history.set', ((set: { contacts?: BaileysContact[] }) => synced(contactsOf(set.contacts), 'history sync')) as (
      arg: never,
    ) => void);
    socket.ev.on('contacts.upsert', ((list: BaileysContact[]) => synced(contactsOf(list), 'upsert')) as (arg: never) => void);
    socket.ev.on('contacts.update', ((list: Partial<BaileysContact>[]) => {
      const contacts = contactsOf(list);
      if (contacts.length > 0) book.update(sessionId, contacts).catch(failed('update'));
    }) as (arg: never) => void);
    socket.ev.on('connection.update', ((update: ConnectionUpdate) => {
      if (update.connection !== 'close') return;
      const decision = reconnectDecision(closeInfo(update.lastDisconnect?.error), 0);
      if (decision.action === 'stop' && decision.deleteCredentials) book.forget(sessionId).catch(failed('forget'));
    }) as (arg: never) => void);
    return socket;
  };
}
