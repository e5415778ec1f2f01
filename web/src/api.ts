/**
 * The console's only way to the server: the public API, over Connect on the
 * page's own origin, with the generated stubs every other client uses. The API
 * key (when the server asks for one) lives in this tab's sessionStorage and
 * nowhere else, and travels as a bearer token.
 */
import { Code, ConnectError, createClient, type Interceptor } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-web';
import { ErrorInfoSchema } from '../../clients/typescript/src/gen/google/rpc/error_details_pb';
import { ExperimentService } from '../../clients/typescript/src/gen/storycast/v1/experiment_service_pb';
import { SessionService } from '../../clients/typescript/src/gen/storycast/v1/session_service_pb';
import { StoryService } from '../../clients/typescript/src/gen/storycast/v1/story_service_pb';

const KEY_ITEM = 'storycast.apiKey';

export function apiKey(): string | null {
  return sessionStorage.getItem(KEY_ITEM);
}

export function setApiKey(key: string | null): void {
  if (key) sessionStorage.setItem(KEY_ITEM, key);
  else sessionStorage.removeItem(KEY_ITEM);
}

type KeyListener = (error: ConnectError) => void;
const keyListeners = new Set<KeyListener>();

/** Called when the server refuses a call for want of a (valid) key, so the app can ask for one. */
export function onKeyNeeded(listener: KeyListener): () => void {
  keyListeners.add(listener);
  return () => keyListeners.delete(listener);
}

const bearer: Interceptor = (next) => async (req) => {
  const key = apiKey();
  if (key) req.header.set('authorization', `Bearer ${key}`);
  try {
    return await next(req);
  } catch (error) {
    const e = ConnectError.from(error);
    if (e.code === Code.Unauthenticated) for (const listener of keyListeners) listener(e);
    throw error;
  }
};

const transport = createConnectTransport({ baseUrl: location.origin, interceptors: [bearer] });

export const stories = createClient(StoryService, transport);
export const sessions = createClient(SessionService, transport);
export const experiments = createClient(ExperimentService, transport);

/** What to show a person for a failed call: the server's message, and its ErrorInfo reason when there is one. */
export function describeError(error: unknown): string {
  if (error instanceof DOMException && error.name === 'AbortError') return 'stopped';
  const e = ConnectError.from(error);
  const reason = e.findDetails(ErrorInfoSchema)[0]?.reason;
  return `${Code[e.code] ?? 'error'}${reason ? ` (${reason})` : ''}: ${e.rawMessage}`;
}
