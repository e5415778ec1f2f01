/**
 * Signal sessions for a batch's devices, fetched before the relay so that one
 * recipient's trouble fails that recipient, not the batch. Baileys' own
 * assertSessions (inside relayMessage) fetches every missing session in one
 * query and throws on the first `<error>` in any user's node, so a single
 * recipient whose keys WhatsApp will not hand out (a 406 for a banned or
 * deleted account, say) fails a call of thousands, again and again. This
 * makes the same query, injects the good users' sessions with Baileys' own
 * parseAndInjectE2ESessions, and names the users it could not get keys for;
 * relayMessage then finds every session present and fetches nothing.
 *
 * It also warms the device list and the sessions of a big batch before the
 * stanza is built, as relayMessage would: nothing is fetched twice.
 */
import { createRequire } from 'node:module';
import type { BinaryNode } from '@whiskeysockets/baileys';
import { TransportError } from '../port.js';
import type { WASocketLike } from './socket.js';

const baileys = createRequire(import.meta.url)('@whiskeysockets/baileys') as typeof import('@whiskeysockets/baileys');

/** What this needs of a socket; a socket without it (a fake) is relayed as it is. */
type KeyFetcher = Required<Pick<WASocketLike, 'getUSyncDevices' | 'query' | 'authState' | 'signalRepository'>>;

function canFetch(socket: WASocketLike): socket is WASocketLike & KeyFetcher {
  return !!(socket.getUSyncDevices && socket.query && socket.authState && socket.signalRepository);
}

/**
 * Makes sure every device of `jids` has a Signal session. Resolves with the
 * users (as given in `jids`) WhatsApp refused keys for, each with its error.
 * Anything else that goes wrong (the query itself failing) throws, as
 * relayMessage would have.
 */
export async function assertSessionsPerUser(socket: WASocketLike, jids: readonly string[]): Promise<Map<string, TransportError>> {
  const refused = new Map<string, TransportError>();
  if (!canFetch(socket) || jids.length === 0) return refused;
  // The same arguments relayMessage passes for a status, so the device cache serves both.
  const devices = await socket.getUSyncDevices([...jids], true, false);
  const deviceJids = devices.map((d) => baileys.jidEncode(d.user, 's.whatsapp.net', d.device));
  const addresses = deviceJids.map((jid) => socket.signalRepository.jidToSignalProtocolAddress(jid));
  const sessions = await socket.authState.keys.get('session', addresses);
  const missing = deviceJids.filter((_, i) => !sessions[addresses[i]!]);
  if (missing.length === 0) return refused;

  const result = await socket.query({
    tag: 'iq',
    attrs: { xmlns: 'encrypt', type: 'get', to: baileys.S_WHATSAPP_NET },
    content: [{ tag: 'key', attrs: {}, content: missing.map((jid) => ({ tag: 'user', attrs: { jid } })) }],
  });
  const list = baileys.getBinaryNodeChild(result, 'list');
  const good: BinaryNode[] = [];
  const byUser = new Map(jids.map((jid) => [userOf(jid), jid]));
  for (const node of baileys.getBinaryNodeChildren(list, 'user')) {
    const error = baileys.getBinaryNodeChild(node, 'error');
    if (!error) {
      good.push(node);
      continue;
    }
    const asked = byUser.get(userOf(node.attrs.jid ?? ''));
    if (!asked) continue;
    const code = Number(error.attrs.code);
    refused.set(
      asked,
      new TransportError(
        'SEND_FAILED',
        `WhatsApp gave no encryption keys for this recipient (${error.attrs.text ?? 'error'} ${error.attrs.code ?? ''})`.trim(),
        undefined,
        {
          ...(Number.isInteger(code) ? { whatsappCode: code } : {}),
        },
      ),
    );
  }
  if (good.length > 0) {
    try {
      await baileys.parseAndInjectE2ESessions({ ...result, content: [{ ...list!, content: good }] }, socket.signalRepository);
    } catch (error) {
      // Injecting writes each new session to the store (outside any transaction): a store failure, named as one.
      const why = error instanceof Error ? error.message : String(error);
      throw new TransportError(
        'SEND_FAILED',
        `the encryption sessions of new recipients could not be saved to the store (${why})`,
        undefined,
        { cause: error },
      );
    }
  }
  return refused;
}

/** "5511987654321:2@s.whatsapp.net" -> "5511987654321". */
function userOf(jid: string): string {
  return jid.split('@')[0]!.split(':')[0]!;
}
