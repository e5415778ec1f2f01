/** What the registry refuses with; the server maps each to a gRPC code and an ErrorInfo reason. */

export class SendNotFoundError extends Error {
  override readonly name = 'SendNotFoundError';
  constructor(readonly sendId: string) {
    super(`no send "${sendId}" on this server (unknown, or it finished longer than the retention ago)`);
  }
}

export class AfterEventOutOfRangeError extends Error {
  override readonly name = 'AfterEventOutOfRangeError';
  constructor(
    readonly afterEvent: number,
    readonly events: number,
  ) {
    super(`after_event is ${afterEvent} but the send has emitted ${events} events so far`);
  }
}

export class RequestIdReusedError extends Error {
  override readonly name = 'RequestIdReusedError';
  constructor(
    readonly requestId: string,
    readonly sendId: string,
  ) {
    super(`request_id "${requestId}" was already used for a different request (send ${sendId})`);
  }
}

/** The journal could not be written: a new send is refused before anything is sent. */
export class JournalUnavailableError extends Error {
  override readonly name = 'JournalUnavailableError';
}

/** With replicas: another replica holds the session's lease, so this one does not send for it. */
export class SessionElsewhereError extends Error {
  override readonly name = 'SessionElsewhereError';
  constructor(readonly sessionId: string) {
    super(`session "${sessionId}" is owned by another replica`);
  }
}

/** The send runs, but not in this process (its session moved to another replica, or it waits to be resumed): follow it there. */
export class SendMovedError extends Error {
  override readonly name = 'SendMovedError';
  constructor(
    readonly sendId: string,
    readonly events: number,
  ) {
    super(`send "${sendId}" goes on in another process; follow it with WatchSend from after_event ${events}`);
  }
}
