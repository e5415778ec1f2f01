/** The transport's view of a socket (WASocketLike) must stay what a real Baileys socket is: checked by tsc. */
import type { WASocket } from '@whiskeysockets/baileys';
import { describe, expectTypeOf, it } from 'vitest';
import type { WASocketLike } from '../src/transport/baileys/socket.js';

describe('WASocketLike', () => {
  it('is satisfied by a real Baileys socket, so production hands one in unchanged', () => {
    expectTypeOf<WASocket>().toExtend<WASocketLike>();
  });
});
