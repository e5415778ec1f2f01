/**
 * Client certificates (STORYCAST_TLS_CLIENT_CA) on a real TLS port, with
 * certificates openssl makes for the run: one the CA signed names its keys
 * file entry's tenant, without a key; one another CA signed names nobody; a
 * key still works without a certificate, and wins over one. Without API keys
 * the handshake itself refuses clients without a certificate.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Code, ConnectError, createClient, type Interceptor } from '@connectrpc/connect';
import { connectNodeAdapter, createGrpcTransport } from '@connectrpc/connect-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientCaOptions, clientCertificateValues, verifiedClientCertificate } from '../src/auth/client-cert.js';
import { apiKeyAuth } from '../src/auth/interceptor.js';
import { ApiKeys } from '../src/auth/keys.js';
import { ErrorInfoSchema } from '../src/gen/google/rpc/error_details_pb.js';
import { SessionService } from '../src/gen/storycast/v1/session_service_pb.js';
import { StoryService } from '../src/gen/storycast/v1/story_service_pb.js';
import { CLIENT_CN, KEY, KEYS_FILE } from './fixtures/auth/keys.js';
import { numbers } from './support/scripted-transport.js';
import { createTestApp, type TestApp } from './support/storycast-server.js';
import { collectStream } from './support/streams.js';

const run = promisify(execFile);
const keys = ApiKeys.load(KEYS_FILE);
const story = { content: { case: 'text' as const, value: { text: 'hi' } } };
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

interface Pem {
  readonly cert: Buffer;
  readonly key: Buffer;
}

let dir: string;

async function selfSignedCa(name: string): Promise<{ certFile: string; keyFile: string }> {
  const certFile = join(dir, `${name}.pem`);
  const keyFile = join(dir, `${name}.key`);
  await run('openssl', ['req', '-x509', ...EC, '-days', '1', '-subj', `/CN=${name}`, '-keyout', keyFile, '-out', certFile]);
  return { certFile, keyFile };
}

async function signed(name: string, cn: string, ca: { certFile: string; keyFile: string }, extensions = ''): Promise<Pem> {
  const base = join(dir, name);
  await run('openssl', ['req', ...EC, '-subj', `/CN=${cn}`, '-keyout', `${base}.key`, '-out', `${base}.csr`]);
  const ext = ['-extfile', `${base}.ext`];
  await writeFile(`${base}.ext`, `${extensions}\n`);
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    `${base}.csr`,
    '-CA',
    ca.certFile,
    '-CAkey',
    ca.keyFile,
    '-CAcreateserial',
    '-days',
    '1',
    '-out',
    `${base}.pem`,
    ...(extensions ? ext : []),
  ]);
  return { cert: await readFile(`${base}.pem`), key: await readFile(`${base}.key`) };
}

const bearer =
  (key: string): Interceptor =>
  (next) =>
  (req) => {
    req.header.set('authorization', `Bearer ${key}`);
    return next(req);
  };

function reasonOf(error: ConnectError | undefined) {
  return error && [error.code, error.findDetails(ErrorInfoSchema)[0]?.reason];
}

async function failure(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error('the call succeeded');
}

/** The server's routes behind node:http2 with TLS and the client CA, as main.ts and listen.ts wire them. */
async function tlsServer(app: TestApp, server: Pem, caFile: string, apiKeys: boolean) {
  const handler = connectNodeAdapter({ ...app.app.routerOptions, routes: app.app.routes, contextValues: clientCertificateValues });
  const h2 = http2.createSecureServer(
    { cert: server.cert, key: server.key, allowHTTP1: true, ...clientCaOptions(caFile, { apiKeys }) },
    handler,
  );
  await new Promise<void>((resolve) => h2.listen(0, '127.0.0.1', resolve));
  const sessions = new Set<http2.ServerHttp2Session>();
  h2.on('session', (s: http2.ServerHttp2Session) => sessions.add(s));
  return {
    url: `https://127.0.0.1:${(h2.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.destroy();
        h2.close(() => resolve());
      }),
  };
}

let ca: { certFile: string; keyFile: string };
let caPem: Buffer;
let serverPem: Pem;
let clientPem: Pem;
let strangerPem: Pem;
let roguePem: Pem;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'storycast-mtls-'));
  ca = await selfSignedCa('clients-ca');
  caPem = await readFile(ca.certFile);
  serverPem = await signed('server', 'localhost', ca, 'subjectAltName=IP:127.0.0.1,DNS:localhost');
  clientPem = await signed('client', CLIENT_CN, ca);
  strangerPem = await signed('stranger', 'nobody-service', ca);
  // The right name, the wrong signer.
  roguePem = await signed('rogue', CLIENT_CN, await selfSignedCa('rogue-ca'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('client certificates with API keys', () => {
  let app: TestApp;
  let server: Awaited<ReturnType<typeof tlsServer>>;
  const client = <S extends typeof StoryService | typeof SessionService>(
    service: S,
    pem: Pem | undefined,
    interceptors: Interceptor[] = [],
  ) =>
    createClient(
      service,
      createGrpcTransport({
        baseUrl: server.url,
        interceptors,
        nodeOptions: { ca: caPem, ...(pem ? { cert: pem.cert, key: pem.key } : {}) },
      }),
    );

  beforeAll(async () => {
    app = await createTestApp({}, { interceptors: ({ registry }) => [apiKeyAuth({ keys, registry, authReflection: false })] });
    server = await tlsServer(app, serverPem, ca.certFile, true);
  });
  afterAll(async () => {
    await server?.close();
    await app?.close();
  });

  it("a certificate the CA signed is its entry's tenant, without a key: a-1 sends, b-1 is refused", async () => {
    const stories = client(StoryService, clientPem);
    const sent = await collectStream(stories.sendStory({ sessionId: 'a-1', story, recipients: numbers(100) }));
    expect(sent.error).toBeUndefined();
    expect(sent.events.at(-1)?.event.case).toBe('summary');
    const refused = await collectStream(stories.sendStory({ sessionId: 'b-1', story, recipients: numbers(100) }));
    expect(reasonOf(refused.error)).toEqual([Code.PermissionDenied, 'SESSION_NOT_ALLOWED']);
    expect(refused.error?.findDetails(ErrorInfoSchema)[0]?.metadata).toMatchObject({ session_id: 'b-1', tenant: 'a' });
  });

  it('a key works without a certificate, and a key given with one decides (an unknown key is refused, certificate or not)', async () => {
    expect((await client(SessionService, undefined, [bearer(KEY.b)]).getSession({ sessionId: 'b-1' })).session?.sessionId).toBe('b-1');
    expect((await client(SessionService, clientPem, [bearer(KEY.b)]).getSession({ sessionId: 'b-1' })).session?.sessionId).toBe('b-1');
    expect(reasonOf(await failure(client(SessionService, clientPem, [bearer('sk-test-nobody')]).getSession({ sessionId: 'a-1' })))).toEqual(
      [Code.Unauthenticated, 'API_KEY_UNKNOWN'],
    );
    expect(reasonOf(await failure(client(SessionService, undefined).getSession({ sessionId: 'a-1' })))).toEqual([
      Code.Unauthenticated,
      'API_KEY_MISSING',
    ]);
  });

  it('a certificate another CA signed names nobody, even with the right CN; a CN no entry names is refused by name', async () => {
    expect(reasonOf(await failure(client(SessionService, roguePem).getSession({ sessionId: 'a-1' })))).toEqual([
      Code.Unauthenticated,
      'API_KEY_MISSING',
    ]);
    const stranger = await failure(client(SessionService, strangerPem).getSession({ sessionId: 'a-1' }));
    expect(reasonOf(stranger)).toEqual([Code.Unauthenticated, 'CLIENT_CERT_UNKNOWN']);
    expect(stranger.findDetails(ErrorInfoSchema)[0]?.metadata).toMatchObject({ subject_cn: 'nobody-service' });
  });

  it('a header cannot claim a certificate: the identity travels only in the call context', async () => {
    const forged: Interceptor = (next) => (req) => {
      for (const name of ['x-client-cert', 'x-storycast-client-cert-cn', 'x-ssl-client-s-dn']) req.header.set(name, CLIENT_CN);
      return next(req);
    };
    expect(reasonOf(await failure(client(SessionService, undefined, [forged]).getSession({ sessionId: 'a-1' })))).toEqual([
      Code.Unauthenticated,
      'API_KEY_MISSING',
    ]);
  });
});

describe('client certificates without API keys', () => {
  it('the handshake refuses a client without a certificate the CA signed; one with it may call', async () => {
    const app = await createTestApp();
    const server = await tlsServer(app, serverPem, ca.certFile, false);
    const stories = (pem: Pem | undefined) =>
      createClient(
        StoryService,
        createGrpcTransport({ baseUrl: server.url, nodeOptions: { ca: caPem, ...(pem ? { cert: pem.cert, key: pem.key } : {}) } }),
      );
    try {
      expect((await stories(clientPem).listStrategies({})).defaultStrategy).toBe('adaptive');
      for (const pem of [undefined, roguePem]) {
        const error = await failure(stories(pem).listStrategies({}));
        // Refused by TLS (this server has no interceptor to refuse anything): no storycast ErrorInfo.
        expect(error.findDetails(ErrorInfoSchema)).toEqual([]);
        if (!pem) expect(error.message).toContain('certificate required');
      }
    } finally {
      await server.close();
      await app.close();
    }
  });
});

describe('clientCaOptions', () => {
  it('asks for certificates; rejects unverified ones at the handshake only without API keys', () => {
    expect(clientCaOptions(ca.certFile, { apiKeys: true })).toMatchObject({ requestCert: true, rejectUnauthorized: false });
    expect(clientCaOptions(ca.certFile, { apiKeys: false })).toMatchObject({ requestCert: true, rejectUnauthorized: true });
  });

  it('names the variable and the file when it cannot be used', async () => {
    expect(() => clientCaOptions(join(dir, 'missing.pem'), { apiKeys: true })).toThrow(
      /^STORYCAST_TLS_CLIENT_CA=".*missing\.pem": cannot read it: ENOENT/,
    );
    await writeFile(join(dir, 'not-pem.txt'), 'hello');
    expect(() => clientCaOptions(join(dir, 'not-pem.txt'), { apiKeys: true })).toThrow(
      /^STORYCAST_TLS_CLIENT_CA=".*not-pem\.txt": expected PEM certificates \(-----BEGIN CERTIFICATE-----\)$/,
    );
  });

  it('a cleartext connection has no certificate', () => {
    expect(verifiedClientCertificate({})).toBeUndefined();
    expect(verifiedClientCertificate(undefined)).toBeUndefined();
  });
});
