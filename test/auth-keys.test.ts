/** The API keys file and the access rules, without a server: what loads, what is refused and how, what matches. */
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DescMethod } from '@bufbuild/protobuf';
import { Code, createContextValues } from '@connectrpc/connect';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { apiKeyAuth } from '../src/auth/interceptor.js';
import { ApiKeys, ApiKeysError, globToRegExp } from '../src/auth/keys.js';
import { openToken, sealToken } from '../src/auth/list-sends.js';
import { GUARDED_SERVICES, policyOf } from '../src/auth/policy.js';
import { Health } from '../src/gen/grpc/health/v1/health_pb.js';
import { describeStartupError } from '../src/util/startup-error.js';
import { KEY, KEYS_FILE } from './fixtures/auth/keys.js';

const sha = (key: string) => createHash('sha256').update(key).digest('hex');
const entry = (over: Record<string, unknown> = {}) => ({ sha256: sha('k'), tenant: 't1', sessions: ['t1-*'], roles: ['send'], ...over });
const parse = (keys: unknown) => ApiKeys.parse(JSON.stringify({ keys }), 'STORYCAST_API_KEYS="keys.json"');
const problem = (keys: unknown): string => {
  try {
    parse(keys);
  } catch (error) {
    expect(error).toBeInstanceOf(ApiKeysError);
    return (error as Error).message;
  }
  throw new Error('the file was accepted');
};

describe('the keys file', () => {
  it('maps each key of the fixture to its tenant, sessions and roles', () => {
    const keys = ApiKeys.load(KEYS_FILE);
    const a = keys.byKey(KEY.a);
    expect(a).toMatchObject({ tenant: 'a', label: 'a-app', via: 'api-key', allSessions: false });
    expect([...(a?.roles ?? [])].sort()).toEqual(['read', 'send']);
    expect(a?.allowsSession('a-1')).toBe(true);
    expect(a?.allowsSession('b-1')).toBe(false);
    expect(keys.byKey(KEY.operator)).toMatchObject({ tenant: 'ops', allSessions: true });
    expect(keys.byKey('sk-test-tenant-c')).toBeUndefined();
    // A hash is not a key: sending the stored hash must not work.
    expect(keys.byKey(sha(KEY.a))).toBeUndefined();
    expect(keys.byCertificate('a-service')).toMatchObject({ tenant: 'a', via: 'client-certificate' });
    expect(keys.byCertificate('b-service')).toBeUndefined();
  });

  it('names an entry without a name by tenant and index, and accepts upper-case hex', () => {
    const keys = parse([entry({ sha256: sha('k').toUpperCase() })]);
    expect(keys.byKey('k')?.label).toBe('t1#0');
  });

  it('refuses a bad entry with the file, the entry and what is wrong, never the hash', () => {
    const badHash = 'ab'.repeat(31);
    const message = problem([entry(), entry({ name: 'ci', sha256: badHash, tenant: 't2' })]);
    expect(message).toBe(
      'STORYCAST_API_KEYS="keys.json": keys[1] (name "ci", tenant "t2"): sha256: expected the SHA-256 of the key as 64 hex characters (echo -n KEY | sha256sum)',
    );
    expect(message).not.toContain(badHash);
  });

  it.each([
    [{ roles: ['send', 'write'] }, 'keys[0] (tenant "t1"): roles[1]: "write" is not a role: expected send, read or admin'],
    [{ roles: [] }, 'keys[0] (tenant "t1"): roles: expected at least one role: send, read or admin'],
    [{ tenant: ' ' }, 'keys[0] (tenant " "): tenant: expected a tenant name'],
    [{ sessions: ['t1/*'] }, 'keys[0] (tenant "t1"): sessions[0]: "t1/*" is not a session id pattern (letters, digits, . _ - and *)'],
    [{ sessions: [] }, 'keys[0] (tenant "t1"): sessions: expected at least one session id pattern, e.g. "t1-*" ("*" for every session)'],
    [{ session: ['x'] }, 'keys[0] (tenant "t1"): Unrecognized key: "session"'],
    [{ sha256: undefined }, 'keys[0] (tenant "t1"): expected "sha256" (an API key), "client_cert" (a client certificate), or both'],
    [{ client_cert: { subject_cn: '' } }, 'keys[0] (tenant "t1"): client_cert.subject_cn: expected the certificate subject CN'],
  ])('refuses %j', (over, expected) => {
    expect(problem([entry(over)])).toBe(`STORYCAST_API_KEYS="keys.json": ${expected}`);
  });

  it('refuses an empty list, a file without "keys", one key twice and one certificate twice', () => {
    expect(problem([])).toBe('STORYCAST_API_KEYS="keys.json": keys: expected at least one entry in "keys"');
    expect(() => ApiKeys.parse('{}', 'F')).toThrow('F: keys: expected "keys": a list of entries');
    expect(problem([entry({ tenant: 'a' }), entry({ tenant: 'b', sha256: sha('k').toUpperCase() })])).toBe(
      'STORYCAST_API_KEYS="keys.json": keys[1] (tenant "b"): the same key as keys[0] (tenant "a")',
    );
    const cert = { client_cert: { subject_cn: 'svc' } };
    expect(problem([entry({ ...cert }), entry({ ...cert, sha256: sha('other') })])).toBe(
      'STORYCAST_API_KEYS="keys.json": keys[1] (tenant "t1"): client_cert.subject_cn "svc" is also keys[0] (tenant "t1")\'s',
    );
  });

  describe('on disk', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'storycast-keys-'));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('says a missing file or bad JSON in one line (no stack), without quoting the file', async () => {
      const missing = join(dir, 'nope.json');
      const error = (() => {
        try {
          ApiKeys.load(missing);
        } catch (e) {
          return e;
        }
      })();
      expect(describeStartupError('storycast', error)).toMatch(
        new RegExp(`^storycast: STORYCAST_API_KEYS="${missing}": cannot read it: ENOENT`),
      );
      const broken = join(dir, 'broken.json');
      const hash = sha('secret');
      await writeFile(broken, `{"keys":[{"sha256":"${hash}",}]}`);
      const message = (() => {
        try {
          ApiKeys.load(broken);
        } catch (e) {
          return (e as Error).message;
        }
      })();
      expect(message).toMatch(/^STORYCAST_API_KEYS=".*broken\.json": not valid JSON \(at character \d+\)$/);
      expect(message).not.toContain(hash.slice(0, 16));
    });
  });
});

describe('session id patterns', () => {
  it('"*" is any run of characters; everything else is literal', () => {
    const re = globToRegExp('t1-*');
    expect(['t1-', 't1-x', 't1-a.b_c'].every((id) => re.test(id))).toBe(true);
    expect(['t1', 't2-x', 'xt1-x'].some((id) => re.test(id))).toBe(false);
    expect(globToRegExp('a.b').test('aXb')).toBe(false);
    expect(globToRegExp('*-prod').test('shop-prod')).toBe(true);
    expect(globToRegExp('exact').test('exact2')).toBe(false);
  });
});

describe('the access rules', () => {
  it('cover every method of every guarded service (an RPC added without a rule is refused to everyone)', () => {
    const missing = GUARDED_SERVICES.flatMap((service) => service.methods as readonly DescMethod[])
      .filter((method) => policyOf(method) === undefined)
      .map((method) => `${method.parent.typeName}/${method.name}`);
    expect(missing).toEqual([]);
  });

  it('refuse, to every key, a method that has no rule', async () => {
    const auth = apiKeyAuth({
      keys: ApiKeys.load(KEYS_FILE),
      registry: { get: () => Promise.reject(new Error('not asked')) },
      authReflection: false,
    });
    const next = vi.fn();
    const call = auth(next as never)({
      stream: false,
      service: { typeName: 'other.v1.Other' },
      method: Health.method.check,
      header: new Headers({ authorization: `Bearer ${KEY.operator}` }),
      contextValues: createContextValues(),
      message: {},
    } as never);
    await expect(call).rejects.toMatchObject({ code: Code.PermissionDenied, message: expect.stringContaining('has no access rule') });
    expect(next).not.toHaveBeenCalled();
  });
});

describe('sealed page tokens', () => {
  const secret = createHash('sha256').update('test').digest();

  it('open for the tenant they were sealed for, hide what is inside, and refuse anything else', () => {
    const inner = Buffer.from(JSON.stringify({ c: 1, i: 'send-of-another-tenant', b: '/0' })).toString('base64url');
    const sealed = sealToken(inner, secret, 'a');
    expect(sealed).not.toContain(inner.slice(0, 12));
    expect(Buffer.from(sealed, 'base64url').toString('latin1')).not.toContain('send-of-another-tenant');
    expect(openToken(sealed, secret, 'a')).toBe(inner);
    expect(() => openToken(sealed, secret, 'b')).toThrow('page_token is not one this server issued');
    expect(() => openToken(inner, secret, 'a')).toThrow('page_token is not one this server issued');
    expect(() => openToken('', secret, 'a')).toThrow('page_token is not one this server issued');
  });
});
