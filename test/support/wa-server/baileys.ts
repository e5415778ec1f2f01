/**
 * Baileys, loaded the way src/transport/baileys/socket-factory.ts loads it: its CommonJS
 * entry re-exports through __exportStar, which Node's ESM named-export
 * detection cannot see. Plus the few binary-node helpers the double needs.
 */
import { createRequire } from 'node:module';
import type { BinaryNode } from '@whiskeysockets/baileys';

export type { BinaryNode };
export type Baileys = typeof import('@whiskeysockets/baileys');

export const B = createRequire(import.meta.url)('@whiskeysockets/baileys') as Baileys;

export const S_WHATSAPP_NET = 's.whatsapp.net';
export const STATUS_JID = 'status@broadcast';

export const children = (node: BinaryNode | undefined, tag?: string): BinaryNode[] =>
  Array.isArray(node?.content) ? node.content.filter((c) => tag === undefined || c.tag === tag) : [];

export const child = (node: BinaryNode | undefined, tag: string): BinaryNode | undefined => children(node, tag)[0];

/** A node's content as text (the decoder gives packed strings as string, raw bytes as a Buffer). */
export const text = (node: BinaryNode | undefined): string => {
  const c = node?.content;
  if (typeof c === 'string') return c;
  if (c instanceof Uint8Array) return Buffer.from(c).toString('utf8');
  return '';
};

export const unixSeconds = (): string => String(Math.floor(Date.now() / 1000));

/** `<iq type="result">` for a client query, with optional children. */
export const iqResult = (query: BinaryNode, content?: BinaryNode[]): BinaryNode => ({
  tag: 'iq',
  attrs: { id: query.attrs.id ?? '', type: 'result', from: S_WHATSAPP_NET },
  ...(content ? { content } : {}),
});

/** The user part of a JID: 5511987654321 of 5511987654321:3@s.whatsapp.net. */
export const userOf = (jid: string): string => B.jidDecode(jid)?.user ?? jid.split('@')[0]!.split(':')[0]!;

/** The device part of a JID, 0 when absent. */
export const deviceOf = (jid: string): number => B.jidDecode(jid)?.device ?? 0;

export const deviceJid = (user: string, device: number): string => B.jidEncode(user, S_WHATSAPP_NET, device || undefined);
