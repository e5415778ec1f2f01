/**
 * The load benchmark's callers: N SendStory streams started at once (as ghz
 * -c N does), each on its own session so sends never share a session's pace,
 * each event stamped with the wall clock as it arrives, the clock the
 * simulated network's call log is stamped with too.
 */
import { setMaxListeners } from 'node:events';
import { createClient } from '@connectrpc/connect';
import { createGrpcTransport, Http2SessionManager } from '@connectrpc/connect-node';
import { StoryService } from '../../src/gen/storycast/v1/story_service_pb.js';

/** An event as it arrived; `calls` is 1 for the events a transport call makes (the anchor, each batch but a late one). */
export interface Arrival {
  readonly at: number;
  readonly kind: string;
  readonly calls: 0 | 1;
  /** Recipients of that call: checked against the call log's. */
  readonly size: number;
}

export interface StreamOutcome {
  readonly sessionId: string;
  readonly startedAt: number;
  readonly endedAt: number;
  readonly arrivals: readonly Arrival[];
  /** Why this send counts as an error: the stream failed, ended without a summary, or not everyone was delivered. */
  readonly error?: string;
}

export interface Callers {
  /** One send per session id, all started together; resolves once every stream has ended or `signal` cut them. */
  run(sessionIds: readonly string[], recipients: readonly string[], signal: AbortSignal): Promise<StreamOutcome[]>;
  close(): void;
}

/** `connections` HTTP/2 connections to `url`, the streams spread over them in turn (ghz's --connections). */
export function callers(url: string, connections: number): Callers {
  const managers = Array.from({ length: connections }, () => new Http2SessionManager(url));
  const clients = managers.map((sessionManager) => createClient(StoryService, createGrpcTransport({ baseUrl: url, sessionManager })));
  return {
    run: (sessionIds, recipients, signal) => {
      // Every stream of the round listens to this one signal: many listeners are the point, not a leak.
      setMaxListeners(0, signal);
      return Promise.all(sessionIds.map((id, i) => oneSend(clients[i % clients.length]!, id, recipients, signal)));
    },
    close: () => {
      for (const manager of managers) manager.abort();
    },
  };
}

async function oneSend(
  client: ReturnType<typeof createClient<typeof StoryService>>,
  sessionId: string,
  recipients: readonly string[],
  signal: AbortSignal,
): Promise<StreamOutcome> {
  const arrivals: Arrival[] = [];
  const startedAt = Date.now();
  const done = (error?: string): StreamOutcome => ({ sessionId, startedAt, endedAt: Date.now(), arrivals, ...(error ? { error } : {}) });
  try {
    const request = { sessionId, story: { content: { case: 'text' as const, value: { text: 'load' } } }, recipients: [...recipients] };
    const stream = client.sendStory(request, { signal });
    for await (const { event } of stream) {
      const at = Date.now();
      if (event.case === 'anchor') arrivals.push({ at, kind: 'anchor', calls: 1, size: event.value.recipients });
      else if (event.case === 'batch') arrivals.push({ at, kind: 'batch', calls: event.value.late ? 0 : 1, size: event.value.size });
      else if (event.case === 'summary') {
        arrivals.push({ at, kind: 'summary', calls: 0, size: 0 });
        const { delivered, total, failed, stoppedBy } = event.value;
        if (delivered !== total || failed.length > 0 || stoppedBy !== '') {
          return done(`${delivered} of ${total} delivered, ${failed.length} failed${stoppedBy ? `, stopped by ${stoppedBy}` : ''}`);
        }
        return done();
      } else arrivals.push({ at, kind: event.case ?? 'unknown', calls: 0, size: 0 });
    }
    return done('the stream ended without a summary');
  } catch (error) {
    return done((error as Error).message);
  }
}
