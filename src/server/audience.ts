/**
 * Who a SendStory request names besides its own recipients: a saved list
 * (recipient_list) and the session's contacts (all_contacts), read before
 * anything is sent, so an unknown list or unsynced contacts refuse the send.
 */
import { Code } from '@connectrpc/connect';
import type { ContactBook } from '../audiences/contacts.js';
import type { RecipientListStore } from '../audiences/lists.js';
import type { Audience } from '../engine/engine.js';
import type { SessionDirectory } from '../transport/sessions.js';
import { storeUnavailable, storycastError } from './errors.js';
import { listRecipientsOf } from './list-handlers.js';

export interface AudienceDeps {
  readonly lists: RecipientListStore;
  readonly contacts: ContactBook;
  /** Looked up first: a simulated session comes up (and syncs its address book) on first sight. */
  readonly sessions: Pick<SessionDirectory, 'get'>;
}

export async function audienceOf(
  deps: AudienceDeps,
  sessionId: string,
  request: { readonly recipientList: string; readonly allContacts: boolean },
): Promise<Audience | undefined> {
  const list = await listRecipientsOf(deps.lists, sessionId, request.recipientList);
  const contacts = request.allContacts ? await contactsOf(deps, sessionId) : undefined;
  if (!list && !contacts) return undefined;
  return { ...(list ? { list } : {}), ...(contacts ? { contacts } : {}) };
}

async function contactsOf(deps: AudienceDeps, sessionId: string): Promise<readonly string[]> {
  deps.sessions.get(sessionId);
  const jids = await deps.contacts.jids(sessionId).catch((error: unknown) => {
    throw storeUnavailable('contact store', error);
  });
  if (jids === undefined) {
    throw storycastError(
      Code.FailedPrecondition,
      'CONTACTS_NOT_SYNCED',
      `session "${sessionId}" has not synced its contacts yet: WhatsApp sends them to a newly linked device within minutes of linking; try again then, or name the recipients`,
      { field: 'all_contacts' },
    );
  }
  return jids;
}
