/**
 * Which storycast server a CLI command talks to: --server, else
 * STORYCAST_SERVER, else the default, always as an http(s) base URL.
 */
import { UsageError } from './usage-error.js';

export const DEFAULT_SERVER = 'http://127.0.0.1:50051';

/** Accepts "host:port" because that is how servers print their address. */
export function normalizeServer(value: string, source: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new UsageError(`${source}: "${value}" is not a URL (expected e.g. ${DEFAULT_SERVER})`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`${source}: "${value}" must be an http:// or https:// URL`);
  }
  return withScheme.replace(/\/+$/, '');
}

export type Protocol = 'grpc' | 'connect';

/** --protocol: how the CLI talks to the server, gRPC unless told otherwise. */
export function protocolFrom(option: string | undefined): Protocol {
  const protocol = option ?? 'grpc';
  if (protocol !== 'grpc' && protocol !== 'connect') throw new UsageError(`--protocol: "${protocol}" is not grpc or connect`);
  return protocol;
}

/** A blank STORYCAST_SERVER counts as unset, as shells and compose files leave it. */
export function serverFrom(option: string | undefined, env: Readonly<Record<string, string | undefined>>): string {
  if (option !== undefined) return normalizeServer(option, '--server');
  const fromEnv = env.STORYCAST_SERVER?.trim();
  return fromEnv ? normalizeServer(fromEnv, 'STORYCAST_SERVER') : DEFAULT_SERVER;
}
