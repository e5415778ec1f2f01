/**
 * A test double of WhatsApp's server for real Baileys sockets; see server.ts
 * for what it models and what it cannot.
 */
export { FakeWhatsApp, type FakeWhatsAppOptions } from './server.js';
export { ack, errorAck, lost, hold, duplicate } from './acks.js';
export { makeRegisteredAuth, type RegisteredAuth } from './creds.js';
export { B as baileys, STATUS_JID, type BinaryNode } from './baileys.js';
export { fillPipe } from './fill-pipe.js';
