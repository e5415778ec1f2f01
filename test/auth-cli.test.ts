/**
 * Every CLI command that calls the server takes the API key from --api-key
 * or STORYCAST_API_KEY and sends it as `authorization: Bearer <key>`; without
 * one, an auth-enabled server's refusal comes with what to do about it, and
 * a bad key is never echoed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeyAuth } from '../src/auth/interceptor.js';
import { ApiKeys } from '../src/auth/keys.js';
import { apiKeyFrom } from '../src/cli/connection.js';
import { experiment } from '../src/cli/experiment.js';
import type { CliIO } from '../src/cli/follow.js';
import { pair } from '../src/cli/pair.js';
import { run as send } from '../src/cli/send.js';
import { sends } from '../src/cli/sends.js';
import { UsageError } from '../src/cli/usage-error.js';
import { watch } from '../src/cli/watch.js';
import { KEY, KEYS_FILE } from './fixtures/auth/keys.js';
import { startTestServer, type TestServer } from './support/storycast-server.js';

function io(env: Record<string, string> = {}): CliIO & { out(): string; err(): string } {
  let out = '';
  let err = '';
  return {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    env,
    out: () => out,
    err: () => err,
  };
}

describe('apiKeyFrom', () => {
  it('takes --api-key, then STORYCAST_API_KEY (blank is unset), else none', () => {
    expect(apiKeyFrom('k1', { STORYCAST_API_KEY: 'k2' })).toBe('k1');
    expect(apiKeyFrom(undefined, { STORYCAST_API_KEY: ' k2 ' })).toBe('k2');
    expect(apiKeyFrom(undefined, { STORYCAST_API_KEY: ' ' })).toBeUndefined();
    expect(apiKeyFrom(undefined, {})).toBeUndefined();
  });

  it('refuses a key that cannot be a header value, without echoing it', () => {
    expect(() => apiKeyFrom('sk secret', {})).toThrow(new UsageError('--api-key: expected the key: printable ASCII without spaces'));
    expect(() => apiKeyFrom(undefined, { STORYCAST_API_KEY: 'sk\u00e9secret' })).toThrow(
      new UsageError('STORYCAST_API_KEY: expected the key: printable ASCII without spaces'),
    );
  });
});

describe('the CLI against a server with API keys', () => {
  let t: TestServer;
  beforeAll(async () => {
    const keys = ApiKeys.load(KEYS_FILE);
    t = await startTestServer({}, { interceptors: ({ registry }) => [apiKeyAuth({ keys, registry, authReflection: false })] });
  });
  afterAll(async () => {
    await t.server.close();
  });

  it('send, watch and sends take the key from STORYCAST_API_KEY or --api-key', async () => {
    const env = { STORYCAST_API_KEY: KEY.a };
    const detached = io(env);
    expect(await send(['--server', t.url, '--session', 'a-cli', '--recipients', '300', '--detach'], detached)).toBe(0);
    const sendId = /^send (\S+) planned/m.exec(detached.out())?.[1];
    expect(sendId, detached.out() + detached.err()).toBeDefined();

    const watcher = io();
    expect(await watch([sendId!, '--server', t.url, '--api-key', KEY.a], watcher)).toBe(0);
    expect(watcher.out()).toMatch(/summary\s+delivered 300\/300/);

    const listed = io(env);
    expect(await sends(['--server', t.url, '--json'], listed)).toBe(0);
    expect(listed.out()).toContain(sendId);

    const streamed = io();
    expect(
      await send(['--server', t.url, '--protocol', 'connect', '--session', 'a-cli', '--recipients', '50', '--api-key', KEY.a], streamed),
    ).toBe(0);
  });

  it('without a key: UNAUTHENTICATED and a hint; another tenant’s session: PERMISSION_DENIED', async () => {
    const anonymous = io();
    expect(await send(['--server', t.url, '--session', 'a-cli', '--recipients', '10'], anonymous)).toBe(1);
    expect(anonymous.err()).toContain('error: UNAUTHENTICATED:');
    expect(anonymous.err()).toContain('reason: API_KEY_MISSING');
    expect(anonymous.err()).toContain('hint: this server needs an API key: set STORYCAST_API_KEY (or pass --api-key).');

    const unknown = io({ STORYCAST_API_KEY: 'sk-test-nobody' });
    expect(await sends(['--server', t.url], unknown)).toBe(1);
    expect(unknown.err()).toContain('hint: the server does not know this key');
    expect(unknown.err()).not.toContain('sk-test-nobody');

    const other = io({ STORYCAST_API_KEY: KEY.a });
    expect(await sends(['--server', t.url, '--session', 'b-1'], other)).toBe(1);
    expect(other.err()).toContain('error: PERMISSION_DENIED:');
    expect(other.err()).toContain('reason: SESSION_NOT_ALLOWED');
  });

  it('experiment: an operator key changes experiments, a tenant admin key is refused with the reason', async () => {
    const argv = ['create', 'cli-auth', '--arm', 'control=adaptive', '--arm', 'c=conservative', '--control', 'control', '--server', t.url];
    const tenant = io({ STORYCAST_API_KEY: KEY.b });
    expect(await experiment(argv, tenant)).toBe(1);
    expect(tenant.err()).toContain('error: PERMISSION_DENIED ALL_SESSIONS_REQUIRED:');
    const operator = io();
    expect(await experiment([...argv, '--api-key', KEY.operator], operator)).toBe(0);
    const anonymous = io();
    expect(await experiment(['list', '--server', t.url], anonymous)).toBe(1);
    expect(anonymous.err()).toContain('hint: this server needs an API key');
    const reader = io({ STORYCAST_API_KEY: KEY.aReader });
    expect(await experiment(['list', '--server', t.url], reader)).toBe(0);
    expect(reader.out()).toContain('cli-auth');
  });

  it('pair needs an admin key for the session', async () => {
    const admin = io({ STORYCAST_API_KEY: KEY.b });
    expect(await pair(['--session', 'b-paired', '--server', t.url], admin)).toBe(0);
    expect(admin.out()).toContain('session b-paired: open');
    const flag = io();
    expect(await pair(['--session', 'b-paired-2', '--server', t.url, '--api-key', KEY.b], flag)).toBe(0);
    const sender = io({ STORYCAST_API_KEY: KEY.a });
    expect(await pair(['--session', 'a-paired', '--server', t.url], sender)).toBe(1);
    expect(sender.err()).toContain('PermissionDenied');
    const anonymous = io();
    expect(await pair(['--session', 'b-paired', '--server', t.url], anonymous)).toBe(1);
    expect(anonymous.err()).toContain('hint: this server needs an API key');
  });
});
