/**
 * What the store did with a relay's signal keys. Baileys commits the keys of a
 * relay after writing its stanza, retries a failed commit up to ten times and
 * then only logs, so the relay resolves as if they were saved; unsaved keys
 * mean the next message to those devices cannot be decrypted. And while one
 * commit is being retried, every other relay on the socket joins that pending
 * transaction and resolves at once, without a commit of its own. So a relay's
 * keys are safe only if the last commit seen on its session succeeded; the
 * session manager reports every commit (auth-state.ts), and this keeps count.
 */
import { TransportError } from '../port.js';
import type { SessionSockets } from './socket.js';

export interface KeyCommitLike {
  readonly ms: number;
  readonly ok: boolean;
  readonly error?: unknown;
}

export interface CommitWatch {
  /** Time spent committing keys during the span: setup, not sending. */
  readonly ms: number;
  /**
   * The store failure to report for this relay: while it is still pending, any
   * failed commit (Baileys keeps retrying it); once done, the session's last
   * commit, made in the span or, if none was, before it.
   */
  failure(pending: boolean): TransportError | undefined;
  stop(): void;
}

export class KeyStoreHealth {
  private readonly last = new Map<string, KeyCommitLike>();
  private readonly watched = new Set<string>();

  constructor(private readonly sockets: SessionSockets) {}

  /** Watches the session's key commits from now until stop(). */
  watch(sessionId: string): CommitWatch {
    this.follow(sessionId);
    const commits: KeyCommitLike[] = [];
    const stop = this.sockets.onKeyCommit?.(sessionId, (commit) => commits.push(commit)) ?? (() => {});
    return {
      get ms() {
        return commits.reduce((sum, c) => sum + c.ms, 0);
      },
      failure: (pending) => {
        const failed = pending ? commits.find((c) => !c.ok) : (commits.at(-1) ?? this.last.get(sessionId));
        return failed && !failed.ok ? storeError(failed.error) : undefined;
      },
      stop,
    };
  }

  private follow(sessionId: string): void {
    if (this.watched.has(sessionId) || !this.sockets.onKeyCommit) return;
    this.watched.add(sessionId);
    this.sockets.onKeyCommit(sessionId, (commit) => this.last.set(sessionId, commit));
  }
}

function storeError(cause: unknown): TransportError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new TransportError(
    'SEND_FAILED',
    `the batch's encryption keys could not be saved to the store (${why}); it goes again`,
    undefined,
    { cause },
  );
}
