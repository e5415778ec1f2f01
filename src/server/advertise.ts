/**
 * The address other replicas forward calls to, when STORYCAST_ADVERTISE_ADDRESS
 * does not say: the bound address, unless it is a wildcard (0.0.0.0, ::),
 * which nobody can dial; then this machine's first non-internal address.
 */
import { networkInterfaces } from 'node:os';

export function reachableAddress(host: string, bound: { readonly url: string; readonly port: number }): string {
  const wildcard = host === '0.0.0.0' || host === '::' || host === '[::]' || host === '';
  if (!wildcard) return bound.url;
  const found = Object.values(networkInterfaces())
    .flat()
    .find((i) => i && !i.internal && i.family === 'IPv4');
  return `${bound.url.startsWith('https') ? 'https' : 'http'}://${found?.address ?? '127.0.0.1'}:${bound.port}`;
}
