/**
 * The production address policy, with literal addresses and a fake resolver:
 * nothing here opens a connection.
 */
import { describe, expect, it } from 'vitest';
import { checkMediaUrl, isPublicAddress, resolvePermitted, type Resolver } from '../src/media/url-guard.js';

describe('isPublicAddress', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback /8'],
    ['10.1.2.3', 'private 10/8'],
    ['172.16.0.1', 'private 172.16/12'],
    ['172.31.255.254', 'private 172.16/12, top'],
    ['192.168.1.1', 'private 192.168/16'],
    ['169.254.169.254', 'link-local: cloud metadata'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', '0/8'],
    ['100.64.0.1', 'CGNAT 100.64/10'],
    ['100.127.255.255', 'CGNAT 100.64/10, top'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast (SSDP)'],
    ['255.255.255.255', 'broadcast'],
    ['240.0.0.1', 'reserved 240/4'],
    ['192.0.2.10', 'documentation TEST-NET-1'],
    ['198.18.0.1', 'benchmarking'],
    ['::1', 'IPv6 loopback'],
    ['::', 'IPv6 unspecified'],
    ['fc00::1', 'unique-local fc00::/7'],
    ['fd12:3456::1', 'unique-local fd00::/8'],
    ['fe80::1', 'link-local fe80::/10'],
    ['febf::1', 'link-local fe80::/10, top'],
    ['ff02::1', 'IPv6 multicast'],
    ['::ffff:127.0.0.1', 'IPv4-mapped loopback'],
    ['::ffff:7f00:1', 'IPv4-mapped loopback, hex'],
    ['::ffff:169.254.169.254', 'IPv4-mapped metadata'],
    ['::ffff:10.0.0.1', 'IPv4-mapped private'],
    ['::127.0.0.1', 'IPv4-compatible loopback'],
    ['64:ff9b::a9fe:a9fe', 'NAT64 of the metadata address'],
    ['2002:a9fe:a9fe::1', '6to4 of the metadata address'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'Teredo'],
    ['2001:db8::1', 'IPv6 documentation'],
    ['not-an-ip', 'not an address at all'],
  ])('refuses %s (%s)', (address) => {
    expect(isPublicAddress(address)).toBe(false);
  });

  it.each([
    '1.1.1.1',
    '8.8.8.8',
    '93.184.216.34',
    '172.32.0.1',
    '100.128.0.1',
    '2606:4700:4700::1111',
    '2a00:1450:4001:82b::200e',
    '::ffff:8.8.8.8',
  ])('accepts the public address %s', (address) => {
    expect(isPublicAddress(address)).toBe(true);
  });
});

describe('checkMediaUrl (what the API checks)', () => {
  it.each([
    ['http://169.254.169.254/latest/meta-data/', /public address, not 169.254.169.254/],
    ['http://127.0.0.1:8080/a.jpg', /not 127.0.0.1/],
    ['http://2130706433/a.jpg', /not 127.0.0.1/],
    ['http://0x7f.1/a.jpg', /not 127.0.0.1/],
    ['http://[::1]/a.jpg', /not ::1/],
    ['http://[::ffff:127.0.0.1]/a.jpg', /not ::ffff:7f00:1/],
    ['http://[fe80::1]/a.jpg', /not fe80::1/],
    ['https://10.0.0.1/a.jpg', /not 10.0.0.1/],
    ['http://100.64.1.1/a.jpg', /not 100.64.1.1/],
    ['http://0.0.0.0/a.jpg', /not 0.0.0.0/],
    ['http://localhost/a.jpg', /not localhost/],
    ['http://LOCALHOST./a.jpg', /not localhost/],
    ['http://api.localhost:3000/a.jpg', /not api.localhost/],
    ['ftp://example.com/a.jpg', /http\(s\) URL, not ftp/],
    ['file:///etc/passwd', /http\(s\) URL, not file/],
    ['gopher://example.com/', /http\(s\) URL, not gopher/],
    ['data:image/png;base64,AAAA', /http\(s\) URL, not data/],
    ['not a url', /not a valid URL/],
  ])('refuses %s', (url, problem) => {
    const checked = checkMediaUrl(url);
    expect(checked.ok).toBe(false);
    if (!checked.ok) expect(checked.problem).toMatch(problem);
  });

  it.each([
    'https://example.com/a.jpg',
    'http://1.1.1.1/a.jpg',
    'https://[2606:4700:4700::1111]/v.mp4',
    'HTTPS://cdn.example.org:8443/x?y=1',
  ])('accepts %s (names are left to fetch time)', (url) => {
    expect(checkMediaUrl(url).ok).toBe(true);
  });

  it('judges literal addresses with the policy it is given', () => {
    expect(checkMediaUrl('http://127.0.0.1/a', (a) => a === '127.0.0.1').ok).toBe(true);
  });
});

describe('resolvePermitted (what the fetch checks for names)', () => {
  const dns =
    (table: Record<string, string[]>): Resolver =>
    async (host) =>
      (table[host] ?? []).map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  const resolve = dns({
    'public.example': ['93.184.216.34', '2606:2800:220:1::1'],
    'metadata.example': ['169.254.169.254'],
    'private.example': ['10.0.0.7'],
    'mixed.example': ['93.184.216.34', '192.168.0.10'],
    'mapped.example': ['::ffff:127.0.0.1'],
    'v6-local.example': ['fd00::5'],
  });

  it('hands back the addresses of a name that resolves only to public ones', async () => {
    expect(await resolvePermitted('public.example', { resolve })).toEqual({
      ok: true,
      addresses: [
        { address: '93.184.216.34', family: 4 },
        { address: '2606:2800:220:1::1', family: 6 },
      ],
    });
  });

  it.each([
    ['metadata.example', '169.254.169.254'],
    ['private.example', '10.0.0.7'],
    ['mixed.example', '192.168.0.10'],
    ['mapped.example', '::ffff:127.0.0.1'],
    ['v6-local.example', 'fd00::5'],
  ])('refuses %s, which resolves to %s', async (host, address) => {
    const result = await resolvePermitted(host, { resolve });
    expect(result).toEqual({ ok: false, problem: `host ${host} resolves to ${address}, which is not a public address` });
  });

  it('refuses a name with no address', async () => {
    expect(await resolvePermitted('nothing.example', { resolve })).toEqual({ ok: false, problem: 'host nothing.example has no address' });
  });
});
