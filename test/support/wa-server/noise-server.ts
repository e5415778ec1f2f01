/**
 * The server half of WhatsApp's Noise_XX_25519_AESGCM_SHA256 handshake and of
 * the frame layer after it, mirroring Baileys' client half step by step
 * (lib/Utils/noise-handler.js and validateConnection in lib/Socket/socket.js):
 *
 *   client -> [intro header] ClientHello{ephemeral}
 *   server -> ServerHello{ephemeral, enc(static), enc(certificate)}
 *   client -> ClientFinish{enc(noise key), enc(ClientPayload)}
 *
 * Both sides keep the same symmetric state: a running hash (the AAD of every
 * handshake cipher), a salt and one AES-GCM key with one counter, reset by each
 * mixIntoKey. After the handshake the two halves of HKDF(salt, '') become the
 * transport keys: the client writes with the first and reads with the second,
 * so the server does the opposite, each direction with its own counter and an
 * empty AAD. Every frame on the wire is a 3-byte big-endian length and a body;
 * the client's very first message is prefixed with the WA header (or with an
 * "ED" routing header and then the WA header when its creds carry routingInfo).
 *
 * The certificate is a CertChain whose intermediate details carry issuerSerial
 * WA_CERT_DETAILS.SERIAL, the only thing Baileys 6.17 checks.
 */
import { B, type BinaryNode } from './baileys.js';

type KeyPair = { public: Uint8Array; private: Uint8Array };
type ClientPayload = ReturnType<typeof B.proto.ClientPayload.decode>;

const iv = (counter: number): Uint8Array => {
  const bytes = new Uint8Array(12);
  new DataView(bytes.buffer).setUint32(8, counter);
  return bytes;
};

export class NoiseServer {
  private hash: Buffer;
  private salt: Buffer;
  private key: Buffer;
  private counter = 0;
  private encKey?: Buffer;
  private decKey?: Buffer;
  private readCounter = 0;
  private writeCounter = 0;
  private inBytes = Buffer.alloc(0);
  private sawIntro = false;
  private readonly ephemeral: KeyPair = B.Curve.generateKeyPair();
  private clientEphemeral?: Uint8Array;
  /** The client's long-lived noise key, learnt from ClientFinish. */
  clientStatic?: Uint8Array;

  constructor(private readonly serverStatic: KeyPair = B.Curve.generateKeyPair()) {
    const mode = Buffer.from(B.NOISE_MODE);
    this.hash = mode.byteLength === 32 ? mode : B.sha256(mode);
    this.salt = this.hash;
    this.key = this.hash;
    this.authenticate(B.NOISE_WA_HEADER);
  }

  get open(): boolean {
    return this.encKey !== undefined;
  }

  /** Cuts whole frame bodies out of the bytes received so far (still encrypted once the handshake is done: see decryptFrame). */
  frames(data: Buffer): Buffer[] {
    this.inBytes = Buffer.concat([this.inBytes, data]);
    if (!this.sawIntro) {
      if (this.inBytes.length < 4) return [];
      let skip = 4; // "WA" 6 <dict version>
      if (this.inBytes.toString('latin1', 0, 2) === 'ED') {
        if (this.inBytes.length < 7) return [];
        skip = 7 + ((this.inBytes.readUInt8(4) << 16) | this.inBytes.readUInt16BE(5)) + 4;
        if (this.inBytes.length < skip) return [];
      }
      this.inBytes = this.inBytes.subarray(skip);
      this.sawIntro = true;
    }
    const out: Buffer[] = [];
    while (this.inBytes.length >= 3) {
      const size = (this.inBytes.readUInt8(0) << 16) | this.inBytes.readUInt16BE(1);
      if (this.inBytes.length < size + 3) break;
      const body = Buffer.from(this.inBytes.subarray(3, size + 3));
      this.inBytes = this.inBytes.subarray(size + 3);
      out.push(body);
    }
    return out;
  }

  /** ClientHello in, the ServerHello frame to send back out. */
  async hello(frame: Buffer): Promise<Buffer> {
    const { clientHello } = B.proto.HandshakeMessage.decode(frame);
    if (!clientHello?.ephemeral) throw new Error('noise: expected a ClientHello');
    this.clientEphemeral = clientHello.ephemeral;
    this.authenticate(this.clientEphemeral);
    this.authenticate(this.ephemeral.public);
    await this.mixIntoKey(B.Curve.sharedKey(this.ephemeral.private, this.clientEphemeral));
    const staticEnc = this.encrypt(this.serverStatic.public);
    await this.mixIntoKey(B.Curve.sharedKey(this.serverStatic.private, this.clientEphemeral));
    const details = B.proto.CertChain.NoiseCertificate.Details.encode({
      serial: 1,
      issuerSerial: B.WA_CERT_DETAILS.SERIAL,
      key: this.serverStatic.public,
    }).finish();
    const cert = B.proto.CertChain.encode({
      leaf: { details, signature: new Uint8Array(64) },
      intermediate: { details, signature: new Uint8Array(64) },
    }).finish();
    const payloadEnc = this.encrypt(cert);
    const hello = B.proto.HandshakeMessage.encode({
      serverHello: { ephemeral: this.ephemeral.public, static: staticEnc, payload: payloadEnc },
    }).finish();
    return this.frame(Buffer.from(hello));
  }

  /** ClientFinish in: learns the client's noise key, switches to transport keys, returns the login payload. */
  async finish(frame: Buffer): Promise<ClientPayload> {
    const { clientFinish } = B.proto.HandshakeMessage.decode(frame);
    if (!clientFinish?.static || !clientFinish.payload) throw new Error('noise: expected a ClientFinish');
    this.clientStatic = this.decrypt(Buffer.from(clientFinish.static));
    await this.mixIntoKey(B.Curve.sharedKey(this.ephemeral.private, this.clientStatic));
    const payload = B.proto.ClientPayload.decode(this.decrypt(Buffer.from(clientFinish.payload)));
    const [clientWrite, clientRead] = await this.split(new Uint8Array(0));
    this.decKey = clientWrite;
    this.encKey = clientRead;
    return payload;
  }

  /** A binary node as one encrypted frame. */
  encodeNode(node: BinaryNode): Buffer {
    if (!this.encKey) throw new Error('noise: handshake not finished');
    const body = B.aesEncryptGCM(B.encodeBinaryNode(node), this.encKey, iv(this.writeCounter++), Buffer.alloc(0));
    return this.frame(body);
  }

  /** A frame body after the handshake, decrypted (frames must be decrypted in the order they came). */
  decryptFrame(body: Buffer): Buffer {
    if (!this.decKey) throw new Error('noise: handshake not finished');
    return B.aesDecryptGCM(body, this.decKey, iv(this.readCounter++), Buffer.alloc(0));
  }

  private frame(body: Buffer): Buffer {
    const out = Buffer.alloc(3 + body.length);
    out.writeUInt8(body.length >> 16, 0);
    out.writeUInt16BE(body.length & 0xffff, 1);
    out.set(body, 3);
    return out;
  }

  private authenticate(data: Uint8Array): void {
    this.hash = B.sha256(Buffer.concat([this.hash, data]));
  }

  private encrypt(plaintext: Uint8Array): Buffer {
    const result = B.aesEncryptGCM(plaintext, this.key, iv(this.counter++), this.hash);
    this.authenticate(result);
    return result;
  }

  private decrypt(ciphertext: Buffer): Buffer {
    const result = B.aesDecryptGCM(ciphertext, this.key, iv(this.counter++), this.hash);
    this.authenticate(ciphertext);
    return result;
  }

  private async split(data: Uint8Array): Promise<[Buffer, Buffer]> {
    const key = await B.hkdf(Buffer.from(data), 64, { salt: this.salt, info: '' });
    return [key.subarray(0, 32), key.subarray(32)];
  }

  private async mixIntoKey(data: Uint8Array): Promise<void> {
    const [write, read] = await this.split(data);
    this.salt = write;
    this.key = read;
    this.counter = 0;
  }
}
