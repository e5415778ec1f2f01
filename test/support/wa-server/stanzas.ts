/**
 * What the fake server reads out of a client's `<message>` stanza, and the
 * server-to-client nodes it writes (acks, receipts, failures), in the shapes
 * Baileys 6.17 reads them (lib/Socket/messages-recv.js handleReceipt and
 * handleBadAck, lib/Socket/socket.js 'CB:failure' and 'CB:stream:error').
 */
import { B, STATUS_JID, child, children, unixSeconds, type BinaryNode } from './baileys.js';
import type { AckPlan } from './acks.js';

interface ParticipantEntry {
  /** The device JID the server is to deliver this `<enc>` to. */
  readonly jid: string;
  /** 'pkmsg' (first message, carries the session setup) or 'msg'. */
  readonly type: string;
  readonly enc: BinaryNode;
}

export interface RecordedStanza {
  /** Arrival order over the server's life, 0-based. */
  readonly index: number;
  /** Which client connection wrote it (FakeWhatsApp.connections index). */
  readonly connection: number;
  /** The JID logged in on that connection: the sender. */
  readonly sender: string;
  readonly id: string;
  readonly to: string;
  readonly type: string;
  readonly attrs: Readonly<Record<string, string>>;
  /** `<participants><to jid>` entries, in stanza order. */
  readonly participants: readonly ParticipantEntry[];
  /** The group/status payload encrypted with the sender key, if present. */
  readonly skmsg?: BinaryNode;
  /** Whether a `<device-identity>` was attached (Baileys adds it when any pkmsg is in). */
  readonly deviceIdentity: boolean;
  readonly node: BinaryNode;
  /** Date.now() at arrival. */
  readonly at: number;
  /** The ack plan it got. */
  ack?: AckPlan;
}

export function readStanza(node: BinaryNode, index: number, connection: number, sender: string): RecordedStanza {
  const participants = children(child(node, 'participants'), 'to').map((to) => {
    const enc = child(to, 'enc');
    return { jid: to.attrs.jid ?? '', type: enc?.attrs.type ?? '', enc: enc ?? { tag: 'enc', attrs: {} } };
  });
  const skmsg = children(node, 'enc').find((enc) => enc.attrs.type === 'skmsg');
  return {
    index,
    connection,
    sender,
    id: node.attrs.id ?? '',
    to: node.attrs.to ?? '',
    type: node.attrs.type ?? '',
    attrs: { ...node.attrs },
    participants,
    ...(skmsg ? { skmsg } : {}),
    deviceIdentity: child(node, 'device-identity') !== undefined,
    node,
    at: Date.now(),
  };
}

export const ackNode = (id: string, from: string, error?: string | number): BinaryNode => ({
  tag: 'ack',
  attrs: { class: 'message', id, from, t: unixSeconds(), ...(error !== undefined ? { error: String(error) } : {}) },
});

export interface ReceiptOptions {
  /** The message id. */
  id: string;
  /** Who received or read it: a user JID, or a device JID. */
  participant: string;
  /** 'read', 'played', … ; absent: a delivery receipt. */
  type?: string;
  /** The chat (default status@broadcast). */
  from?: string;
  /** Unix seconds (default now). Baileys reports it as receiptTimestamp / readTimestamp. */
  t?: number;
}

export const receiptNode = ({ id, participant, type, from = STATUS_JID, t }: ReceiptOptions): BinaryNode => ({
  tag: 'receipt',
  attrs: { from, participant, id, t: String(t ?? unixSeconds()), ...(type ? { type } : {}) },
});

export interface RetryReceiptOptions {
  id: string;
  /** The device asking; a JID without a device (the phone) makes Baileys re-send to "everyone". */
  participant: string;
  /** How many times this device asked (default 1). */
  count?: number;
  from?: string;
  /** The asking device's registration id (default: its fake device's, else 0). */
  registrationId?: number;
}

export const retryReceiptNode = (o: RetryReceiptOptions & { registrationId: number }): BinaryNode => {
  const t = unixSeconds();
  return {
    tag: 'receipt',
    attrs: { from: o.from ?? STATUS_JID, participant: o.participant, id: o.id, type: 'retry', t },
    content: [
      { tag: 'retry', attrs: { count: String(o.count ?? 1), id: o.id, t, v: '1' } },
      { tag: 'registration', attrs: {}, content: B.encodeBigEndian(o.registrationId) },
    ],
  };
};

export const failureNode = (reason: string | number, attrs: Record<string, string> = {}): BinaryNode => ({
  tag: 'failure',
  attrs: { reason: String(reason), ...attrs },
});

/** `<stream:error code=…/>`, or with a reason child such as `<conflict type="replaced"/>` (Baileys maps conflict to 440). */
export const streamErrorNode = (error: { code?: string | number; reason?: string; attrs?: Record<string, string> }): BinaryNode => ({
  tag: 'stream:error',
  attrs: error.code !== undefined ? { code: String(error.code) } : {},
  ...(error.reason ? { content: [{ tag: error.reason, attrs: error.attrs ?? {} }] } : {}),
});
