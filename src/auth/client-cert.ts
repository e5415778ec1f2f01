/**
 * mTLS: with STORYCAST_TLS_CLIENT_CA the TLS port asks clients for a
 * certificate; one that CA signed names an entry of the keys file by its
 * subject CN (the entry's "client_cert"), and the caller gets that entry's
 * tenant, sessions and roles without an API key.
 *
 * Connect's handler context does not expose the socket, so the node adapter
 * hands the verified certificate to the call as a context value
 * (connectNodeAdapter's `contextValues` option): nothing a client sends can
 * set it, unlike a header, and it never leaves the process when a call is
 * forwarded to another replica.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import { type ContextValues, createContextKey, createContextValues } from '@connectrpc/connect';
import { type ApiKeys, ApiKeysError, type Principal } from './keys.js';

export interface ClientCertificate {
  readonly subjectCn: string;
}

const clientCertificateKey = createContextKey<ClientCertificate | undefined>(undefined, { description: 'verified client certificate' });

/** Asked once per connection rather than per call: a TLS session's peer does not change. */
const seen = new WeakMap<object, ClientCertificate | null>();

/**
 * The certificate the peer presented, if the CA verified it and it has one
 * subject CN. With requestCert and rejectUnauthorized: false a certificate
 * that does not verify still gets through the handshake: it names nobody.
 */
export function verifiedClientCertificate(socket: object | null | undefined): ClientCertificate | undefined {
  if (!socket) return undefined;
  const known = seen.get(socket);
  if (known !== undefined) return known ?? undefined;
  const tls = socket as Partial<TLSSocket>;
  let found: ClientCertificate | null = null;
  if (tls.authorized === true && typeof tls.getPeerCertificate === 'function') {
    const cn: unknown = tls.getPeerCertificate().subject?.CN;
    // Several CNs in one subject would make the tenant depend on which one is read.
    if (typeof cn === 'string' && cn !== '') found = { subjectCn: cn };
  }
  seen.set(socket, found);
  return found ?? undefined;
}

/** For connectNodeAdapter({ contextValues }): each call starts knowing its connection's verified certificate. */
export function clientCertificateValues(req: IncomingMessage | Http2ServerRequest): ContextValues {
  const values = createContextValues();
  const certificate = verifiedClientCertificate(req.socket);
  if (certificate) values.set(clientCertificateKey, certificate);
  return values;
}

export function clientCertificateOf(values: ContextValues): ClientCertificate | undefined {
  return values.get(clientCertificateKey);
}

/** Who a verified client certificate says the caller is: the keys file entry naming its subject CN, if any. */
export function clientCertificateTenant(certificate: ClientCertificate, keys: ApiKeys): Principal | undefined {
  return keys.byCertificate(certificate.subjectCn);
}

export interface ClientCaOptions {
  readonly ca: Buffer;
  readonly requestCert: true;
  readonly rejectUnauthorized: boolean;
}

/**
 * The node:tls options for STORYCAST_TLS_CLIENT_CA. With API keys the
 * handshake accepts any client (a key still works without a certificate, and
 * the interceptor decides); without them the certificate is the only gate, so
 * the handshake refuses clients the CA did not sign, health probes included.
 */
export function clientCaOptions(caFile: string, { apiKeys }: { readonly apiKeys: boolean }): ClientCaOptions {
  let ca: Buffer;
  try {
    ca = readFileSync(caFile);
  } catch (error) {
    throw new ApiKeysError(`STORYCAST_TLS_CLIENT_CA=${JSON.stringify(caFile)}: cannot read it: ${(error as Error).message}`);
  }
  if (!ca.toString('latin1').includes('-----BEGIN CERTIFICATE-----')) {
    throw new ApiKeysError(`STORYCAST_TLS_CLIENT_CA=${JSON.stringify(caFile)}: expected PEM certificates (-----BEGIN CERTIFICATE-----)`);
  }
  return { ca, requestCert: true, rejectUnauthorized: !apiKeys };
}
