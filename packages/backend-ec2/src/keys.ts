/**
 * Ephemeral SSH keys for EC2 Instance Connect: an ed25519 key pair made with node:crypto, rendered
 * as an OpenSSH public key line (what SendSSHPublicKey wants) and an unencrypted OpenSSH private key
 * (what ssh2 reads). Nothing is ever written outside a 0700 temp directory that is removed on close.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';

/** An ephemeral key pair. */
export interface EphemeralKey {
  /** `ssh-ed25519 AAAA... comment` */
  publicKey: string;
  /** `-----BEGIN OPENSSH PRIVATE KEY-----` ... (unencrypted). */
  privateKey: string;
}

function sshString(data: Buffer | string): Buffer {
  const body = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

function uint32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/**
 * Generate an ed25519 key pair in OpenSSH formats.
 *
 * @example
 * ```ts
 * const { publicKey, privateKey } = generateEphemeralKey('scripthut');
 * publicKey.startsWith('ssh-ed25519 ') // true
 * ```
 */
export function generateEphemeralKey(comment = 'scripthut-ephemeral'): EphemeralKey {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const pubJwk = publicKey.export({ format: 'jwk' });
  const privJwk = privateKey.export({ format: 'jwk' });
  const pub = Buffer.from(pubJwk.x!, 'base64url');
  const seed = Buffer.from(privJwk.d!, 'base64url');
  const blob = Buffer.concat([sshString('ssh-ed25519'), sshString(pub)]);
  const check = randomBytes(4).readUInt32BE();
  let priv = Buffer.concat([
    uint32(check),
    uint32(check),
    sshString('ssh-ed25519'),
    sshString(pub),
    sshString(Buffer.concat([seed, pub])),
    sshString(comment),
  ]);
  const pad: number[] = [];
  for (let i = 1; (priv.length + pad.length) % 8 !== 0; i++) pad.push(i);
  priv = Buffer.concat([priv, Buffer.from(pad)]);
  const body = Buffer.concat([
    Buffer.from('openssh-key-v1\0', 'binary'),
    sshString('none'),
    sshString('none'),
    sshString(''),
    uint32(1),
    sshString(blob),
    sshString(priv),
  ]).toString('base64');
  const lines = body.match(/.{1,70}/g) ?? [];
  return {
    publicKey: `ssh-ed25519 ${blob.toString('base64')} ${comment}`,
    privateKey: `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join('\n')}\n-----END OPENSSH PRIVATE KEY-----\n`,
  };
}
