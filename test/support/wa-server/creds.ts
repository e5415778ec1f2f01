/**
 * Credentials of an already linked companion device, as Baileys holds them
 * after pairing (configureSuccessfulPairing in lib/Utils/validate-connection.js)
 * and the first app-state sync: `me`, a signed ADV device identity, the signal
 * identity of the account, `registered`, and an app-state key id.
 *
 * The app-state key id matters: without it Baileys 6.17 starts buffering its
 * events again as soon as the offline notifications are in (chats.js, "we keep
 * buffering events until we finally have the key"), so message-receipt.update
 * and messages.update would never reach a listener.
 */
import { randomBytes } from 'node:crypto';
import type { AuthenticationState } from '@whiskeysockets/baileys';
import { pino } from 'pino';
import { B } from './baileys.js';
import { MemoryKeyStore } from './key-store.js';

export interface RegisteredAuthOptions {
  /** The companion's own JID (default 15559990000:7@s.whatsapp.net). */
  me?: string;
  /** Push name; Baileys only sends presence when it has one (default 'storycast test'). */
  name?: string;
}

export interface RegisteredAuth {
  /** Pass as `auth` to makeWASocket (keys behind Baileys' cacheable store). */
  readonly state: AuthenticationState;
  /** The store under the cache: every write Baileys commits lands here. */
  readonly store: MemoryKeyStore;
  readonly me: string;
}

export function makeRegisteredAuth(options: RegisteredAuthOptions = {}): RegisteredAuth {
  const me = options.me ?? '15559990000:7@s.whatsapp.net';
  const decoded = B.jidDecode(me);
  if (!decoded?.user) throw new Error(`not a JID: ${me}`);
  const creds = B.initAuthCreds();

  const accountKey = B.Curve.generateKeyPair();
  const details = B.proto.ADVDeviceIdentity.encode({
    rawId: 1,
    timestamp: Math.floor(Date.now() / 1000),
    keyIndex: decoded.device ?? 0,
  }).finish();
  const accountSignature = B.Curve.sign(accountKey.private, Buffer.concat([Buffer.from([6, 0]), details, creds.signedIdentityKey.public]));
  const deviceSignature = B.Curve.sign(
    creds.signedIdentityKey.private,
    Buffer.concat([Buffer.from([6, 1]), details, creds.signedIdentityKey.public, accountKey.public]),
  );

  Object.assign(creds, {
    me: { id: me, name: options.name ?? 'storycast test' },
    account: { details, accountSignatureKey: accountKey.public, accountSignature, deviceSignature },
    signalIdentities: [B.createSignalIdentity(me, accountKey.public)],
    platform: 'android',
    registered: true,
    myAppStateKeyId: randomBytes(6).toString('base64'),
    accountSyncCounter: 1,
  });

  const store = new MemoryKeyStore();
  const state: AuthenticationState = {
    creds,
    keys: B.makeCacheableSignalKeyStore(store, pino({ level: 'silent' }) as never),
  };
  return { state, store, me };
}
