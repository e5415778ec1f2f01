/**
 * Fake recipient devices with real Signal keys. Each device is what a phone or
 * linked device would hold: an identity key pair, a signed prekey signed by
 * that identity, a registration id (Baileys' own initAuthCreds makes exactly
 * these), and one-time prekeys, a fresh one for every bundle the server hands
 * out, kept so the device can later decrypt what was encrypted to it.
 *
 * bundle() is the device's `<user>` node in a prekey-fetch reply, in the shape
 * Baileys' parseAndInjectE2ESessions reads; decrypt() runs Baileys' own
 * receive path (decryptMessageNode with a libsignal repository over the
 * device's keys) on the stanza the server would fan out to this device.
 */
import { pino } from 'pino';
import { B, S_WHATSAPP_NET, STATUS_JID, deviceJid, type BinaryNode } from './baileys.js';
import { MemoryKeyStore } from './key-store.js';

/** A decrypted message as Baileys' proto decodes it. */
export type DecryptedMessage = NonNullable<ReturnType<typeof B.proto.WebMessageInfo.decode>['message']>;

const silent = pino({ level: 'silent' });

export class FakeDevice {
  readonly jid: string;
  readonly keys = new MemoryKeyStore();
  private readonly creds = B.initAuthCreds();
  private readonly repository = B.DEFAULT_CONNECTION_CONFIG.makeSignalRepository({ creds: this.creds, keys: this.keys });
  private nextPreKeyId = 1;
  /** Bundles handed out so far (one per prekey fetch that named this device). */
  bundles = 0;

  constructor(
    readonly user: string,
    readonly device: number,
  ) {
    this.jid = deviceJid(user, device);
  }

  get registrationId(): number {
    return this.creds.registrationId;
  }

  get identityKey(): Uint8Array {
    return this.creds.signedIdentityKey.public;
  }

  /** This device's entry in a prekey-fetch reply, with a fresh one-time prekey. */
  bundle(askedAs: string = this.jid): BinaryNode {
    const id = this.nextPreKeyId++;
    const preKey = B.Curve.generateKeyPair();
    void this.keys.set({ 'pre-key': { [String(id)]: preKey } });
    this.bundles += 1;
    return {
      tag: 'user',
      attrs: { jid: askedAs },
      content: [
        { tag: 'registration', attrs: {}, content: B.encodeBigEndian(this.creds.registrationId) },
        { tag: 'type', attrs: {}, content: B.KEY_BUNDLE_TYPE },
        { tag: 'identity', attrs: {}, content: this.creds.signedIdentityKey.public },
        B.xmppSignedPreKey(this.creds.signedPreKey),
        B.xmppPreKey(preKey, id),
      ],
    };
  }

  /**
   * Decrypts a message stanza as this device would receive it: `from` the chat
   * (status@broadcast), `participant` the sender's device JID, and this device's
   * own `<enc>` (if any) ahead of the shared skmsg. Throws when Baileys' decoder
   * reports a CIPHERTEXT stub (it could not decrypt).
   */
  async decrypt(stanza: {
    id: string;
    from?: string;
    sender: string;
    enc?: BinaryNode;
    skmsg?: BinaryNode;
    t?: string;
  }): Promise<DecryptedMessage> {
    const node: BinaryNode = {
      tag: 'message',
      attrs: { id: stanza.id, from: stanza.from ?? STATUS_JID, participant: stanza.sender, type: 'text', t: stanza.t ?? '0' },
      content: [stanza.enc, stanza.skmsg].filter((n): n is BinaryNode => n !== undefined),
    };
    const { fullMessage, decrypt } = B.decryptMessageNode(node, this.jid, '', this.repository, silent as never);
    await decrypt();
    if (fullMessage.messageStubType || !fullMessage.message) {
      throw new Error(
        `${this.jid} could not decrypt ${stanza.id}: ${(fullMessage.messageStubParameters ?? []).join(', ') || 'nothing to decrypt'}`,
      );
    }
    return fullMessage.message;
  }
}

/** The fake devices of every user, created on first use. */
export class DeviceKeys {
  private readonly devices = new Map<string, FakeDevice>();

  of(user: string, device: number): FakeDevice {
    const jid = deviceJid(user, device);
    let found = this.devices.get(jid);
    if (!found) {
      found = new FakeDevice(user, device);
      this.devices.set(jid, found);
    }
    return found;
  }

  get(jid: string): FakeDevice | undefined {
    const decoded = B.jidDecode(jid);
    if (!decoded || decoded.server !== S_WHATSAPP_NET) return undefined;
    return this.devices.get(deviceJid(decoded.user, decoded.device ?? 0));
  }
}
