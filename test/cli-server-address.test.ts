import { describe, expect, it } from 'vitest';
import { DEFAULT_SERVER, normalizeServer, serverFrom } from '../src/cli/server-address.js';
import { UsageError } from '../src/cli/usage-error.js';

describe('normalizeServer', () => {
  it('reads host:port as http://host:port, the way servers print their address', () => {
    expect(normalizeServer('127.0.0.1:50051', '--server')).toBe('http://127.0.0.1:50051');
    expect(normalizeServer('localhost:9000', '--server')).toBe('http://localhost:9000');
  });

  it('keeps an http(s) URL, without trailing slashes', () => {
    expect(normalizeServer('https://sc.example/', '--server')).toBe('https://sc.example');
    expect(normalizeServer('HTTP://sc.example:8080//', '--server')).toBe('HTTP://sc.example:8080');
  });

  it('names where the bad value came from', () => {
    expect(() => normalizeServer('ht tp://', 'STORYCAST_SERVER')).toThrow(
      new UsageError('STORYCAST_SERVER: "ht tp://" is not a URL (expected e.g. http://127.0.0.1:50051)'),
    );
    expect(() => normalizeServer('ftp://files.example', '--server')).toThrow(
      new UsageError('--server: "ftp://files.example" must be an http:// or https:// URL'),
    );
  });
});

describe('serverFrom', () => {
  it('takes --server, then STORYCAST_SERVER, then the default', () => {
    expect(serverFrom('a:1', { STORYCAST_SERVER: 'b:2' })).toBe('http://a:1');
    expect(serverFrom(undefined, { STORYCAST_SERVER: ' b:2 ' })).toBe('http://b:2');
    expect(serverFrom(undefined, {})).toBe(DEFAULT_SERVER);
  });

  it('treats a blank STORYCAST_SERVER as unset', () => {
    expect(serverFrom(undefined, { STORYCAST_SERVER: '  ' })).toBe(DEFAULT_SERVER);
  });

  it('checks the variable only when --server does not override it', () => {
    expect(serverFrom('a:1', { STORYCAST_SERVER: 'ht tp://' })).toBe('http://a:1');
    expect(() => serverFrom(undefined, { STORYCAST_SERVER: 'ht tp://' })).toThrow(/^STORYCAST_SERVER: /);
  });
});
