/**
 * Fills the loopback buffers of a socket whose server stopped reading
 * (FakeWhatsApp.pauseReading), so that its next write stalls: how a test gets
 * Baileys' real 408 on a slow write callback.
 */
import type { WASocket } from '@whiskeysockets/baileys';
import type { BinaryNode } from './baileys.js';

export async function fillPipe(sock: Pick<WASocket, 'sendNode'>): Promise<void> {
  const filler: BinaryNode = { tag: 'filler', attrs: {}, content: Buffer.alloc(1 << 20) };
  for (let i = 0; i < 64; i++) {
    const flushed = sock.sendNode(filler).then(
      () => true,
      () => true,
    );
    if (!(await Promise.race([flushed, new Promise<boolean>((r) => setTimeout(() => r(false), 100))]))) return;
  }
  throw new Error('the pipe never filled');
}
