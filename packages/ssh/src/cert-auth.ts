/**
 * OpenSSH user-certificate authentication for ssh2.
 *
 * ssh2 1.17 has no certificate support: its `publickey` request writes the same algorithm name
 * into the request and into the signature blob, but OpenSSH wants the certificate algorithm
 * (`ssh-ed25519-cert-v01@openssh.com`) in the request and the plain one (`ssh-ed25519`) in the
 * signature. We therefore hand ssh2 a key object that presents the certificate blob and take over
 * the *signed* USERAUTH_REQUEST for that key only (RFC 4252 §7 + PROTOCOL.certkeys), using ssh2's
 * packet writer. Everything else (query, PK_OK, failure handling, other keys) stays ssh2's.
 *
 * Supported certificate types: ed25519 and RSA (signed as rsa-sha2-512).
 */
import { createRequire } from 'node:module';
import type { Client, ParsedKey } from 'ssh2';
import ssh2 from 'ssh2';

const require = createRequire(import.meta.url);

interface Ssh2Internals {
  sendPacket: (proto: unknown, packet: Buffer) => void;
}

interface ProtocolInternals {
  authPK: (username: string, pubKey: unknown, keyAlgo?: unknown, cbSign?: unknown) => void;
  _kex?: { sessionID?: Buffer };
  _packetRW?: {
    write: { alloc: (n: number) => Buffer; allocStart: number; finalize: (b: Buffer) => Buffer };
  };
  _authsQueue?: string[];
}

const CERT_ALGOS: Record<string, { requestAlgo: string; sigAlgo: string; hash: string | undefined }> = {
  'ssh-ed25519-cert-v01@openssh.com': {
    requestAlgo: 'ssh-ed25519-cert-v01@openssh.com',
    sigAlgo: 'ssh-ed25519',
    hash: undefined,
  },
  'ssh-rsa-cert-v01@openssh.com': {
    requestAlgo: 'rsa-sha2-512-cert-v01@openssh.com',
    sigAlgo: 'rsa-sha2-512',
    hash: 'sha512',
  },
};

/** A private key plus the OpenSSH certificate issued for it. */
export interface CertIdentity {
  /** Key object to return from an ssh2 `authHandler` (`{ type: 'publickey', key }`). */
  readonly key: ParsedKey;
  readonly certType: string;
}

function sshString(value: Buffer | string): Buffer {
  const body = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  const len = Buffer.allocUnsafe(4);
  len.writeUInt32BE(body.length, 0);
  return Buffer.concat([len, body]);
}

function readSshString(buf: Buffer, offset: number): [Buffer, number] {
  const len = buf.readUInt32BE(offset);
  return [buf.subarray(offset + 4, offset + 4 + len), offset + 4 + len];
}

/**
 * Builds a {@link CertIdentity} from private key text and certificate text (`*-cert.pub`).
 * Throws an Error with a plain message when the pair is unusable.
 */
export function loadCertIdentity(privateKey: Buffer | string, certText: string): CertIdentity {
  const fields = certText.trim().split(/\s+/);
  const certType = fields[0] ?? '';
  const algo = CERT_ALGOS[certType];
  if (!algo)
    throw new Error(`unsupported certificate type ${JSON.stringify(certType)} (supported: ed25519, rsa)`);
  const blob = Buffer.from(fields[1] ?? '', 'base64');
  const [innerType] = readSshString(blob, 0);
  if (innerType.toString('latin1') !== certType)
    throw new Error('certificate file is malformed (type mismatch)');
  const parsed = ssh2.utils.parseKey(privateKey);
  if (parsed instanceof Error) throw new Error(`cannot parse private key: ${parsed.message}`);
  const priv = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!priv?.isPrivateKey()) throw new Error('the key file does not contain a private key');
  if (certType.startsWith('ssh-ed25519')) {
    // cert blob: string type, string nonce, string pk, ...; key public: string type, string pk
    const [, afterNonce] = readSshString(blob, readSshString(blob, 0)[1]);
    const [certPk] = readSshString(blob, afterNonce);
    const pub = priv.getPublicSSH();
    const [, afterType] = readSshString(pub, 0);
    const [keyPk] = readSshString(pub, afterType);
    if (!certPk.equals(keyPk)) throw new Error('the certificate was not issued for this private key');
  }
  const key = Object.create(priv, {
    type: { value: certType, enumerable: true },
    getPublicSSH: { value: () => blob },
  }) as ParsedKey;
  return { key, certType };
}

/**
 * Installs certificate support on a connecting ssh2 client. Call right after `client.connect()`
 * (the protocol object exists from then on; authentication starts later, asynchronously).
 */
export function installCertAuth(client: Client, identity: CertIdentity): void {
  const proto = (client as unknown as { _protocol?: ProtocolInternals })._protocol;
  if (!proto || typeof proto.authPK !== 'function') {
    throw new Error('certificate authentication is not supported by this ssh2 version (no protocol object)');
  }
  const utils = require('ssh2/lib/protocol/utils.js') as Ssh2Internals;
  const algo = CERT_ALGOS[identity.certType]!;
  const original = proto.authPK.bind(proto);
  proto.authPK = (username: string, pubKey: unknown, keyAlgo?: unknown, cbSign?: unknown) => {
    if (pubKey !== identity.key) return original(username, pubKey, keyAlgo, cbSign);
    const wantsSignature = typeof keyAlgo === 'function' || typeof cbSign === 'function';
    if (!wantsSignature) return original(username, pubKey, algo.requestAlgo);
    const sessionId = proto._kex?.sessionID;
    const writer = proto._packetRW?.write;
    if (
      !sessionId ||
      !writer ||
      !Array.isArray(proto._authsQueue) ||
      typeof utils.sendPacket !== 'function'
    ) {
      throw new Error('certificate authentication is not supported by this ssh2 version (internals changed)');
    }
    const body = Buffer.concat([
      Buffer.from([50]), // SSH_MSG_USERAUTH_REQUEST
      sshString(username),
      sshString('ssh-connection'),
      sshString('publickey'),
      Buffer.from([1]),
      sshString(algo.requestAlgo),
      sshString(identity.key.getPublicSSH()),
    ]);
    const signature = identity.key.sign(Buffer.concat([sshString(sessionId), body]), algo.hash);
    if (signature instanceof Error) throw signature;
    const payload = Buffer.concat([
      body,
      sshString(Buffer.concat([sshString(algo.sigAlgo), sshString(signature)])),
    ]);
    const packet = writer.alloc(payload.length);
    payload.copy(packet, writer.allocStart);
    proto._authsQueue.push('publickey');
    utils.sendPacket(proto, writer.finalize(packet));
  };
}
