/**
 * A test double of WhatsApp's server for real Baileys sockets; see server.ts
 * for what it models and what it cannot.
 */
export { FakeWhatsApp, type FakeWhatsAppOptions, type HeldAck } from './server.js';
export { AckScript, ack, errorAck, lost, hold, duplicate, type AckPlan } from './acks.js';
export { makeRegisteredAuth, type RegisteredAuth, type RegisteredAuthOptions } from './creds.js';
export { MemoryKeyStore, type KeyWrite, type KeyType } from './key-store.js';
export { Directory, type FakeUserOptions } from './directory.js';
export { FakeDevice, DeviceKeys, type DecryptedMessage } from './keys.js';
export type { RecordedStanza, ParticipantEntry, ReceiptOptions, RetryReceiptOptions } from './stanzas.js';
export { B as baileys, STATUS_JID, type BinaryNode } from './baileys.js';
export { fillPipe } from './fill-pipe.js';
