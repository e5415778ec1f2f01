/**
 * Who is on the fake WhatsApp: users, their devices and other spellings of
 * their numbers, and the replies built from that (usync device and contact
 * lookups, prekey fetches).
 *
 * Modelling choices (WhatsApp's exact behaviour is not public):
 * - device lookups go by exact JID; a user not in the directory, or asked for
 *   under an alias spelling, comes back with an empty device list;
 * - contact lookups (onWhatsApp) match the number or any alias and answer with
 *   the canonical JID, `<contact type="in">+<the number asked></contact>`; unknown numbers get type="out";
 * - a prekey fetch for a device the directory does not know gets
 *   `<error code="404" text="item-not-found"/>` in that device's entry.
 */
import { B, S_WHATSAPP_NET, child, children, deviceOf, iqResult, text, unixSeconds, userOf, type BinaryNode } from './baileys.js';
import { DeviceKeys } from './keys.js';

export interface FakeUserOptions {
  /** Device ids; 0 is the phone. Default [0]. */
  devices?: number[];
  /** Other spellings WhatsApp maps to this number in contact lookups, e.g. the 8-digit form of a Brazilian mobile. */
  aliases?: string[];
  /** Answer this user's entries in prekey fetches with `<error code text/>` instead of a bundle. */
  preKeyError?: { code: number | string; text?: string };
}

interface FakeUser {
  devices: number[];
  aliases: string[];
  preKeyError?: { code: number | string; text?: string };
}

export class Directory {
  private readonly users = new Map<string, FakeUser>();
  private readonly aliasOf = new Map<string, string>();
  /** Real Signal keys for every device that was ever asked for. */
  readonly keys = new DeviceKeys();
  /** What a number not added is: undefined (the default) means not on WhatsApp. */
  fallback: FakeUserOptions | undefined;

  /** Adds or replaces a user; a bare array is its device ids. */
  set(user: string, options: FakeUserOptions | number[] = {}): this {
    const o = Array.isArray(options) ? { devices: options } : options;
    this.delete(user);
    this.users.set(user, {
      devices: [...(o.devices ?? [0])],
      aliases: [...(o.aliases ?? [])],
      ...(o.preKeyError ? { preKeyError: o.preKeyError } : {}),
    });
    for (const alias of o.aliases ?? []) this.aliasOf.set(alias, user);
    return this;
  }

  delete(user: string): void {
    for (const alias of this.users.get(user)?.aliases ?? []) this.aliasOf.delete(alias);
    this.users.delete(user);
  }

  get(user: string): FakeUser | undefined {
    const found = this.users.get(user);
    if (found) return found;
    if (!this.fallback) return undefined;
    return {
      devices: [...(this.fallback.devices ?? [0])],
      aliases: [],
      ...(this.fallback.preKeyError ? { preKeyError: this.fallback.preKeyError } : {}),
    };
  }

  has(user: string): boolean {
    return this.users.has(user);
  }

  /** Scripts (or with undefined clears) a prekey-fetch error for a user. */
  setPreKeyError(user: string, error: { code: number | string; text?: string } | undefined): void {
    const found = this.users.get(user);
    if (!found) throw new Error(`fake WhatsApp: no user ${user}`);
    if (error) found.preKeyError = error;
    else delete found.preKeyError;
  }

  /** Answers `<iq xmlns="usync">`: devices and contact protocols; any other protocol gets an empty node. */
  usync(iq: BinaryNode): BinaryNode {
    const usync = child(iq, 'usync');
    const protocols = children(child(usync, 'query')).map((p) => p.tag);
    const list = children(child(usync, 'list'), 'user').map((user) => this.usyncUser(user, protocols));
    return iqResult(iq, [
      {
        tag: 'usync',
        attrs: {
          sid: usync?.attrs.sid ?? '',
          index: '0',
          last: 'true',
          mode: usync?.attrs.mode ?? 'query',
          context: usync?.attrs.context ?? 'interactive',
        },
        content: [{ tag: 'list', attrs: {}, content: list }],
      },
    ]);
  }

  /** Answers a prekey fetch (`<iq xmlns="encrypt" type="get"><key><user jid/>…`) with real bundles. */
  preKeys(iq: BinaryNode): BinaryNode {
    const list = children(child(iq, 'key'), 'user').map((asked): BinaryNode => {
      const jid = asked.attrs.jid ?? '';
      const user = this.get(userOf(jid));
      const error = user?.preKeyError ?? (user?.devices.includes(deviceOf(jid)) ? undefined : { code: 404, text: 'item-not-found' });
      if (error)
        return {
          tag: 'user',
          attrs: { jid },
          content: [{ tag: 'error', attrs: { code: String(error.code), text: error.text ?? 'error' } }],
        };
      return this.keys.of(userOf(jid), deviceOf(jid)).bundle(jid);
    });
    return iqResult(iq, [{ tag: 'list', attrs: {}, content: list }]);
  }

  private usyncUser(asked: BinaryNode, protocols: string[]): BinaryNode {
    const phone = text(child(asked, 'contact')).replace(/^\+/, '');
    let jid = asked.attrs.jid;
    let known: string | undefined;
    if (jid) {
      known = this.get(userOf(jid)) ? userOf(jid) : undefined;
      jid = B.jidNormalizedUser(jid);
    } else {
      known = this.users.has(phone) ? phone : (this.aliasOf.get(phone) ?? (this.get(phone) ? phone : undefined));
      jid = `${known ?? phone}@${S_WHATSAPP_NET}`;
    }
    const content = protocols.map((protocol): BinaryNode => {
      if (protocol === 'devices') return this.devicesNode(known);
      // WhatsApp echoes the number asked for (whatsmeow reads it back as the answer's Query).
      if (protocol === 'contact')
        return { tag: 'contact', attrs: { type: known ? 'in' : 'out' }, ...(phone ? { content: `+${phone}` } : {}) };
      return { tag: protocol, attrs: {} };
    });
    return { tag: 'user', attrs: { jid }, content };
  }

  private devicesNode(user: string | undefined): BinaryNode {
    const devices = user ? (this.get(user)?.devices ?? []) : [];
    return {
      tag: 'devices',
      attrs: {},
      content: [
        // Baileys drops a non-zero device without a key-index ("produces a bad req otherwise").
        {
          tag: 'device-list',
          attrs: {},
          content: devices.map(
            (id): BinaryNode => ({ tag: 'device', attrs: id ? { id: String(id), 'key-index': String(id) } : { id: '0' } }),
          ),
        },
        { tag: 'key-index-list', attrs: { ts: unixSeconds() } },
      ],
    };
  }
}
