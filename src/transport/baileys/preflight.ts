/**
 * Which recipients WhatsApp can reach, asked before a send (Baileys' usync
 * "contact" query, as onWhatsApp makes it) and remembered per session for a
 * day. Numbers WhatsApp does not know have no devices: a status stanza to them
 * carries no node for them and is acked all the same, so without this check
 * they would be counted delivered.
 *
 * WhatsApp answers with its own JID for each number, which is not always the
 * one asked for (Brazil's 8-digit mobiles are answered in their 9-digit form).
 * onWhatsApp keeps only the JID and drops the number it answers, so the reply
 * cannot be matched to an unusual spelling; this asks the same query with a
 * contact protocol that keeps the echoed number, and sends to WhatsApp's JID.
 *
 * Each chunk of numbers has its own time budget: a chunk that fails or runs
 * out of time leaves its numbers unchecked (sent to as they are) rather than
 * holding up the send or failing it.
 */
import { createRequire } from 'node:module';
import type { BinaryNode } from '@whiskeysockets/baileys';
import type { USyncQueryProtocol } from '@whiskeysockets/baileys/lib/Types/USync.js';
import type { Clock } from '../../clock.js';
import type { Logger } from '../../log.js';
import { untilAborted, withinDeadline } from '../../util/abort.js';
import type { WASocketLike } from './socket.js';

const baileys = createRequire(import.meta.url)('@whiskeysockets/baileys') as typeof import('@whiskeysockets/baileys');

const REGISTRATION_TTL_MS = 24 * 60 * 60 * 1000;
const CHUNK = 500;
const CACHE_MAX = 500_000;

interface Answer {
  /** On WhatsApp. */
  readonly on: boolean;
  /** WhatsApp's JID for the number, when it differs from the one asked about. */
  readonly jid?: string;
  readonly at: number;
}

/** "15551234567:3@s.whatsapp.net" -> "15551234567". */
function userOf(jid: string): string {
  return jid.split('@')[0]!.split(':')[0]!;
}

/** The contact protocol onWhatsApp uses, but keeping the number each answer is for. */
class ContactWithNumber implements USyncQueryProtocol {
  readonly name = 'contact';
  getQueryElement(): BinaryNode {
    return { tag: 'contact', attrs: {} };
  }
  getUserElement(user: { phone?: string }): BinaryNode {
    return { tag: 'contact', attrs: {}, content: user.phone };
  }
  parser(node: BinaryNode): { in: boolean; number: string } {
    baileys.assertNodeErrorFree(node);
    const content = node.content;
    const number = typeof content === 'string' ? content : content instanceof Uint8Array ? Buffer.from(content).toString('utf8') : '';
    return { in: node.attrs.type === 'in', number: number.replace(/\D/g, '') };
  }
}

export interface PreflightOptions {
  readonly clock: Clock;
  readonly logger: Logger;
  /** Time budget of one chunk of numbers. */
  readonly chunkTimeoutMs: number;
}

export class RecipientDirectory {
  private readonly answers = new Map<string, Answer>();

  constructor(private readonly options: PreflightOptions) {}

  /** Asks about every JID not answered in the last day; returns those WhatsApp does not know. */
  async check(sessionId: string, socket: WASocketLike, jids: readonly string[], signal: AbortSignal): Promise<Set<string>> {
    const now = this.options.clock.now();
    const unknown = jids.filter((jid) => {
      const known = this.answers.get(key(sessionId, jid));
      return known === undefined || now - known.at > REGISTRATION_TTL_MS;
    });
    for (let i = 0; i < unknown.length && !signal.aborted; i += CHUNK) {
      const chunk = unknown.slice(i, i + CHUNK);
      let found: Map<string, string | undefined>;
      try {
        found = await this.withinBudget(lookUp(socket, chunk), signal);
      } catch (error) {
        if (signal.aborted) break;
        this.options.logger.warn(
          { err: error, numbers: chunk.length },
          'recipient check failed for a chunk; sending to those numbers unchecked',
        );
        continue;
      }
      if (this.answers.size > CACHE_MAX) this.answers.clear();
      for (const jid of chunk) {
        const user = userOf(jid);
        const on = found.has(user);
        const theirs = found.get(user);
        this.answers.set(key(sessionId, jid), { on, at: now, ...(theirs && userOf(theirs) !== user ? { jid: theirs } : {}) });
      }
    }
    return new Set(jids.filter((jid) => this.answers.get(key(sessionId, jid))?.on === false));
  }

  /** The JID to send to: WhatsApp's own spelling of the number when the check learned one. */
  spelling(sessionId: string, jid: string): string {
    return this.answers.get(key(sessionId, jid))?.jid ?? jid;
  }

  private withinBudget<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
    const { clock, chunkTimeoutMs } = this.options;
    return untilAborted(
      withinDeadline(clock, chunkTimeoutMs, work, () => new Error(`no answer within ${chunkTimeoutMs} ms`)),
      signal,
    );
  }
}

function key(sessionId: string, jid: string): string {
  return `${sessionId}\n${jid}`;
}

/** Asked number (digits) -> WhatsApp's JID, for the numbers that are on WhatsApp. */
async function lookUp(socket: WASocketLike, jids: readonly string[]): Promise<Map<string, string | undefined>> {
  const found = new Map<string, string | undefined>();
  if (socket.executeUSyncQuery) {
    const query = new baileys.USyncQuery();
    query.protocols.push(new ContactWithNumber());
    for (const jid of jids) query.withUser(new baileys.USyncUser().withPhone(`+${userOf(jid)}`));
    const result = await socket.executeUSyncQuery(query);
    for (const entry of result?.list ?? []) {
      const contact = entry.contact as { in: boolean; number: string } | undefined;
      if (contact?.in) found.set(contact.number || userOf(entry.id), baileys.jidNormalizedUser(entry.id));
    }
    return found;
  }
  // A socket without usync (older or fake): onWhatsApp, matched by the digits it answers with.
  for (const answer of (await socket.onWhatsApp?.(...jids)) ?? []) {
    if (answer.exists) found.set(userOf(answer.jid), undefined);
  }
  return found;
}

/**
 * Statuses reach only contacts who saved the account's number, and of those
 * only whom the status privacy setting admits (WAPrivacyValue in Baileys).
 */
const STATUS_AUDIENCE: Record<string, string> = {
  contacts: "status privacy is 'my contacts': only recipients in this account's contacts who saved its number will see it",
  contact_blacklist: "status privacy is 'my contacts except…': contacts excluded on the phone will not see it",
  none: "status privacy is 'only share with…': only the contacts chosen on the phone will see it",
};

/** The status privacy setting, in words; a failure to read it is no reason to hold up a send. */
export async function statusAudience(socket: WASocketLike, logger: Logger): Promise<string | undefined> {
  try {
    const setting = (await socket.fetchPrivacySettings?.())?.status;
    return setting ? (STATUS_AUDIENCE[setting] ?? `status privacy is "${setting}"`) : undefined;
  } catch (error) {
    logger.warn({ err: error }, 'could not read the status privacy setting');
    return undefined;
  }
}
