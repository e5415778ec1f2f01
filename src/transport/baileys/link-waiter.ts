/**
 * One connect() call on a Baileys session: the QR codes or pairing code and
 * the states, until the session is open, stops for good, or moves to another
 * replica. A caller who stops waiting before the session is linked stops the
 * linking, so no socket shows QR codes to nobody.
 */
import { isTerminal, type ConnectEvent } from '../sessions.js';
import { type Entry, MOVED } from './session-entry.js';

/** What the waiter asks of the manager. */
export interface LinkManager {
  /** Starts a socket (a new link, or a session that stopped). */
  start(): Promise<void>;
  /** A socket is up for creds that have not finished linking. */
  linking(): boolean;
  stopLinking(reason: string): void;
}

export async function* waitForLink(
  entry: Entry,
  options: { readonly signal: AbortSignal },
  manager: LinkManager,
): AsyncGenerator<ConnectEvent> {
  const queue: ConnectEvent[] = [];
  let wake: (() => void) | undefined;
  const onEvent = (event: ConnectEvent) => {
    queue.push(event);
    wake?.();
  };
  // Released here: the session goes on on another replica, so this stream ends with a last word instead of hanging.
  let moved: ConnectEvent | undefined;
  const onReleased = () => {
    moved = { type: 'state', session: { ...entry.info, state: 'closed', reason: MOVED, updatedAt: Date.now() } };
    onEvent(moved);
  };
  // The caller stopped waiting (abort, or it left the stream) before the session was linked:
  // stop the linking, or the socket would show new QR codes to nobody. Run on abort at once,
  // not when the generator resumes: a cancelled caller may never pull again.
  let waiting = true;
  let ended = false;
  const leave = () => {
    if (!waiting) return;
    waiting = false;
    entry.waiters--;
    if (!ended && entry.waiters === 0 && manager.linking()) {
      manager.stopLinking('linking cancelled: the caller stopped waiting; connect again to link');
    }
  };
  const onAbort = () => {
    leave();
    wake?.();
  };
  entry.waiters++;
  entry.events.on('event', onEvent);
  entry.events.on('released', onReleased);
  options.signal.addEventListener('abort', onAbort);
  try {
    if (options.signal.aborted) return;
    if (entry.info.state === 'open') {
      ended = true;
      yield { type: 'state', session: entry.info };
      return;
    }
    if (!entry.socket || isTerminal(entry.info.state)) {
      await manager.start();
    }
    while (!options.signal.aborted) {
      const event = queue.shift();
      if (!event) {
        await new Promise<void>((resolve) => (wake = resolve));
        continue;
      }
      ended = event === moved || (event.type === 'state' && (event.session.state === 'open' || isTerminal(event.session.state)));
      yield event;
      if (ended) return;
    }
  } finally {
    leave();
    entry.events.off('event', onEvent);
    entry.events.off('released', onReleased);
    options.signal.removeEventListener('abort', onAbort);
  }
}
