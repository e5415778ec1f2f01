/**
 * What a person or a test does to the simulated network from outside a send:
 * unlink a session, link it again, script the next failures. Apart from the
 * Transport so that the engine, which only holds a Transport, cannot reach them.
 */
import type { TransportErrorCode } from '../port.js';
import type { SimState } from './state.js';

export class SimControls {
  constructor(private readonly state: SimState) {}

  /** From now on every call for the session fails with LOGGED_OUT, in-flight ones included. */
  logout(sessionId: string): void {
    this.state.session(sessionId).loggedOut = true;
  }

  /** Links a logged-out session again (what pairing a new device does on the real network). */
  relink(sessionId: string): void {
    this.state.session(sessionId).loggedOut = false;
  }

  /**
   * The session's next `count` sends fail with `code`. TIMEOUT hangs until the
   * caller aborts (what a timeout is on this network); any other code rejects
   * after the base latency.
   */
  failNext(sessionId: string, code: TransportErrorCode, count = 1): void {
    if (count > 0) this.state.session(sessionId).scripted.push({ code, remaining: count });
  }
}
