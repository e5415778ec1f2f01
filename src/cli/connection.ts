/**
 * How every CLI command reaches the server: one HTTP/2 session per command
 * (closed when it is done instead of idling), gRPC or Connect, and the API key
 * (--api-key, else STORYCAST_API_KEY) as `authorization: Bearer <key>` on
 * every call when one is given.
 */
import type { Interceptor, Transport } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport, Http2SessionManager } from '@connectrpc/connect-node';
import { type Protocol, protocolFrom, serverFrom } from './server-address.js';
import { UsageError } from './usage-error.js';

export interface ServerTarget {
  readonly server: string;
  readonly protocol: Protocol;
  /** undefined: no authorization header (a server without STORYCAST_API_KEYS needs none). */
  readonly apiKey?: string | undefined;
}

/** A header value: printable ASCII, no spaces. */
const KEY = /^[\x21-\x7e]+$/;

/**
 * --api-key, else STORYCAST_API_KEY (blank counts as unset, as compose files
 * leave it). A bad key is described, never echoed: it may be a real one.
 */
export function apiKeyFrom(option: string | undefined, env: Readonly<Record<string, string | undefined>>): string | undefined {
  if (option !== undefined) {
    if (!KEY.test(option)) throw new UsageError('--api-key: expected the key: printable ASCII without spaces');
    return option;
  }
  const fromEnv = env.STORYCAST_API_KEY?.trim();
  if (!fromEnv) return undefined;
  if (!KEY.test(fromEnv)) throw new UsageError('STORYCAST_API_KEY: expected the key: printable ASCII without spaces');
  return fromEnv;
}

/** The options of every command that reaches the server, for parseArgs. */
export const SERVER_OPTIONS = {
  server: { type: 'string' },
  protocol: { type: 'string' },
  'api-key': { type: 'string' },
} as const;

type Env = Readonly<Record<string, string | undefined>>;

/** The server that --server, --protocol and --api-key name (each with its fallback), checked in that order. */
export function serverTargetFrom(
  values: { readonly server?: string | undefined; readonly protocol?: string | undefined; readonly 'api-key'?: string | undefined },
  env: Env,
): { server: string; protocol: Protocol; apiKey: string | undefined } {
  return { server: serverFrom(values.server, env), protocol: protocolFrom(values.protocol), apiKey: apiKeyFrom(values['api-key'], env) };
}

function bearer(key: string): Interceptor {
  return (next) => (req) => {
    req.header.set('authorization', `Bearer ${key}`);
    return next(req);
  };
}

export function serverTransport(target: ServerTarget): { transport: Transport; close(): void } {
  const sessionManager = new Http2SessionManager(target.server);
  const options = {
    baseUrl: target.server,
    httpVersion: '2' as const,
    sessionManager,
    interceptors: target.apiKey === undefined ? [] : [bearer(target.apiKey)],
  };
  const transport = target.protocol === 'grpc' ? createGrpcTransport(options) : createConnectTransport(options);
  return { transport, close: () => sessionManager.abort() };
}
