/**
 * A Baileys socket as the session manager sees it (ManagedSocket), driven by
 * hand: connection updates, closes with WhatsApp's status codes, and any
 * other event a real socket emits (`events.emit`).
 */
import { EventEmitter } from 'node:events';
import { Boom } from '@hapi/boom';

export class FakeManagedSocket {
  readonly events = new EventEmitter();
  readonly ev = {
    on: (e: string, l: (...args: never[]) => void) => this.events.on(e, l as (...args: unknown[]) => void),
    off: (e: string, l: (...args: never[]) => void) => this.events.off(e, l as (...args: unknown[]) => void),
  };
  readonly ws = { on: () => undefined, off: () => undefined };
  user: { id: string } | undefined;
  pairingRequests: string[] = [];
  loggedOut = false;
  ended = false;
  relayMessage = async () => 'id';
  waUploadToServer = (async () => ({ mediaUrl: '', directPath: '' })) as never;
  async logout() {
    this.loggedOut = true;
  }
  end() {
    this.ended = true;
  }
  async requestPairingCode(phone: string) {
    this.pairingRequests.push(phone);
    return 'ABCD-1234';
  }
  update(u: object) {
    this.events.emit('connection.update', u);
  }
  close(code: number) {
    this.closeWith(new Boom('closed', { statusCode: code }));
  }
  closeWith(error: Error) {
    this.update({ connection: 'close', lastDisconnect: { error, date: new Date() } });
  }
  /** What socket.js does on a `<failure reason=...>` frame. */
  fail(attrs: Record<string, string>) {
    this.closeWith(new Boom('Connection Failure', { statusCode: Number(attrs.reason), data: attrs }));
  }
}
