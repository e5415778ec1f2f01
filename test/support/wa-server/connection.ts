/**
 * One client connection to the fake server: the WebSocket, its noise session,
 * and the order of things. Incoming WebSocket messages are handled strictly one
 * after another (frames are decrypted with a counter, and a node may depend on
 * the one before), handshake frames go to the noise session, and every node
 * after it is decoded with Baileys' own decoder and handed to the server.
 */
import type { WebSocket } from 'ws';
import { B, type BinaryNode } from './baileys.js';
import { NoiseServer } from './noise-server.js';

type ClientPayload = ReturnType<typeof B.proto.ClientPayload.decode>;

export interface ConnectionHandlers {
  login(conn: ClientConnection, payload: ClientPayload): void;
  node(conn: ClientConnection, node: BinaryNode): void;
  closed(conn: ClientConnection): void;
}

export class ClientConnection {
  private readonly noise: NoiseServer;
  private stage: 'hello' | 'finish' | 'open' = 'hello';
  private chain: Promise<void> = Promise.resolve();
  /** The JID that logged in on this connection (from the ClientPayload). */
  jid?: string;
  closed = false;
  /** Why the connection could not be followed (a bad frame); it is closed then. */
  error?: unknown;

  constructor(
    readonly id: number,
    private readonly ws: WebSocket,
    serverStatic: { public: Uint8Array; private: Uint8Array },
    private readonly handlers: ConnectionHandlers,
  ) {
    this.noise = new NoiseServer(serverStatic);
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
      const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      this.chain = this.chain
        .then(() => this.receive(bytes))
        .catch((error: unknown) => {
          this.error = error;
          this.close({ abrupt: true });
        });
    });
    ws.on('close', () => {
      if (this.closed) return;
      this.closed = true;
      handlers.closed(this);
    });
    ws.on('error', () => undefined);
  }

  get open(): boolean {
    return !this.closed && this.stage === 'open' && this.ws.readyState === this.ws.OPEN;
  }

  /** Sends a node, encrypted; false when the connection is gone. */
  send(node: BinaryNode): boolean {
    if (!this.open) return false;
    this.ws.send(this.noise.encodeNode(node));
    return true;
  }

  /** Stops reading from the TCP socket (bytes pile up in the kernel buffers, then in the client's). */
  pause(): void {
    this.ws.pause();
  }

  resume(): void {
    this.ws.resume();
  }

  /** Closes from the server side: a WebSocket close frame, or (abrupt) a dropped TCP connection. */
  close({ abrupt = false, code = 1000 }: { abrupt?: boolean; code?: number } = {}): void {
    if (abrupt) this.ws.terminate();
    else this.ws.close(code);
  }

  private async receive(data: Buffer): Promise<void> {
    for (const frame of this.noise.frames(data)) {
      if (this.stage === 'hello') {
        this.ws.send(await this.noise.hello(frame));
        this.stage = 'finish';
      } else if (this.stage === 'finish') {
        const payload = await this.noise.finish(frame);
        this.stage = 'open';
        if (payload.username) this.jid = B.jidEncode(String(payload.username), 's.whatsapp.net', payload.device ?? undefined);
        this.handlers.login(this, payload);
      } else {
        this.handlers.node(this, await B.decodeBinaryNode(this.noise.decryptFrame(frame)));
      }
    }
  }
}
