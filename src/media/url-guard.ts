/**
 * Which media URLs storycast may fetch: http(s) to public addresses only, so a
 * request cannot make the server read its own loopback, the private network or
 * a cloud metadata endpoint (169.254.169.254) and post what it finds.
 *
 * Two layers: checkMediaUrl() is what can be decided from the text alone (the
 * API runs it for every transport); resolvePermitted() is the fetch-time half,
 * for names, whose addresses are only known once resolved.
 */
import { lookup } from 'node:dns/promises';
import ipaddr from 'ipaddr.js';

/** May a connection be made to this address? */
export type AddressPolicy = (address: string) => boolean;

export interface ResolvedAddress {
  readonly address: string;
  readonly family: 4 | 6;
}

/** A name's addresses; injectable so tests can play DNS without a network. */
export type Resolver = (hostname: string) => Promise<readonly ResolvedAddress[]>;

/** Global unicast (2000::/3): everything else in IPv6 is local, special or unassigned. */
const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR('2000::/3');

/**
 * The production policy. ipaddr.js classifies; only its plain 'unicast' range
 * counts as public, which leaves out loopback, RFC 1918 private, link-local
 * (cloud metadata), CGNAT 100.64/10, 0/8, multicast, broadcast, documentation
 * and benchmarking ranges, unique-local fc00::/7, and IPv6 forms that embed an
 * IPv4 address (6to4, Teredo, NAT64), whose IPv4 part could be any of those.
 */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  let ip = ipaddr.parse(address);
  // ::ffff:127.0.0.1 reaches 127.0.0.1: judge the IPv4 address it carries.
  if (ip instanceof ipaddr.IPv6 && ip.isIPv4MappedAddress()) ip = ip.toIPv4Address();
  if (ip.range() !== 'unicast') return false;
  return ip instanceof ipaddr.IPv4 || ip.match(GLOBAL_UNICAST_V6);
}

export type UrlCheck = { readonly ok: true; readonly url: URL } | { readonly ok: false; readonly problem: string };

/**
 * What the text of a URL gives away: the scheme, an IP literal host, and the
 * names that mean this machine by definition (RFC 6761 `localhost`). Names are
 * left to resolvePermitted() at fetch time.
 */
export function checkMediaUrl(raw: string, allowAddress: AddressPolicy = isPublicAddress): UrlCheck {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, problem: 'is not a valid URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { ok: false, problem: `must be an http(s) URL, not ${url.protocol.replace(/:$/, '')}` };
  }
  // WHATWG parsing already turned 0x7f.1 or 2130706433 into 127.0.0.1; IPv6 keeps its brackets.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const literal = ipaddr.isValid(host);
  if (literal && !allowAddress(host)) return { ok: false, problem: `must point to a public address, not ${host}` };
  if (!literal && isLocalhostName(host)) return { ok: false, problem: `must point to a public address, not ${host}` };
  return { ok: true, url };
}

function isLocalhostName(host: string): boolean {
  const name = host.toLowerCase().replace(/\.$/, '');
  return name === 'localhost' || name.endsWith('.localhost');
}

const systemResolver: Resolver = async (hostname) =>
  (await lookup(hostname, { all: true, verbatim: true })).map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));

/**
 * Resolves a name and refuses it unless every address is permitted: a name
 * with one private address among public ones could be steered to it, so one
 * bad address condemns the name. The caller connects to exactly these
 * addresses, so DNS cannot answer differently between check and connect.
 */
export async function resolvePermitted(
  hostname: string,
  options: { resolve?: Resolver; allowAddress?: AddressPolicy } = {},
): Promise<{ ok: true; addresses: readonly ResolvedAddress[] } | { ok: false; problem: string }> {
  const allow = options.allowAddress ?? isPublicAddress;
  const addresses = await (options.resolve ?? systemResolver)(hostname);
  if (addresses.length === 0) return { ok: false, problem: `host ${hostname} has no address` };
  const refused = addresses.find((a) => !allow(a.address));
  if (refused) return { ok: false, problem: `host ${hostname} resolves to ${refused.address}, which is not a public address` };
  return { ok: true, addresses };
}
