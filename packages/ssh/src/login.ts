/**
 * What one connection attempt presents and accepts: the target, the key and certificate read from
 * disk, the host-key policy (the user's known_hosts, ScriptHut's trust-on-first-use pins, or none),
 * the ssh2 `ConnectConfig` built from them, the pinning of a first-seen key once the login
 * succeeded, and the classification of a failed attempt (permanent or transient).
 *
 * The connection's life (reconnects, closing) is in `client-keeper.ts`; nothing here holds state
 * between attempts.
 */
import { readFile } from 'node:fs/promises';
import { BackendError } from '@scripthut/core';
import type { AuthenticationType, ConnectConfig, ParsedKey } from 'ssh2';
import { type CertIdentity, loadCertIdentity } from './cert-auth.js';
import { fingerprintSha256, PinnedHostKeys } from './host-key-pins.js';
import {
  type KnownHostEntry,
  keyTypeOfBlob,
  knownHostsName,
  knownKeyTypes,
  parseKnownHosts,
  verifyHostKey,
} from './known-hosts.js';

/** Where and as whom to connect. */
export interface SshTarget {
  host: string;
  port: number;
  user: string;
  /** Private key file (OpenSSH or PEM format, unencrypted). */
  keyPath: string;
  /** OpenSSH certificate for the key (`*-cert.pub`), tried before the plain key. */
  certPath?: string | null;
  /** OpenSSH known_hosts file: the host key must be listed there (strict checking). */
  knownHostsPath?: string | null;
  /**
   * Used when `knownHostsPath` is unset: a ScriptHut-owned known_hosts file for trust on first use.
   * The first connection pins the host's key there (one warning naming its `SHA256:` fingerprint);
   * a different key later is a permanent error saying how to accept it (`ssh-keygen -R`).
   * With neither file the host key is NOT verified (one warning; only for hosts reached through an
   * authenticated tunnel, such as EC2 instances over SSM).
   */
  pinnedKnownHostsPath?: string | null;
}

/** The settings of a connection that a login attempt uses. */
export interface LoginSettings {
  /** `user@host:port`, as errors and warnings name the target. */
  endpoint: string;
  connectTimeoutMs: number;
  keepaliveIntervalMs: number;
  /** Non-fatal warnings (a host key pinned on first use). */
  onWarning?: (message: string) => void;
}

/** One prepared login attempt (see {@link prepareLogin}). */
export interface LoginPlan {
  /** Everything ssh2 needs but the socket (`sock` may be set by the caller). */
  config: ConnectConfig;
  /** The certificate identity offered before the plain key, if any. */
  cert: CertIdentity | null;
  /** True when the host key is not checked at all (no known_hosts file of either kind). */
  unverifiedHostKey: boolean;
  /** Why the host key was refused during this attempt, once ssh2 asked about it; else `null`. */
  hostKeyError(): string | null;
  /**
   * After a successful login: pins a key seen for the first time (trust on first use) and warns
   * once naming its fingerprint. `null` when there is nothing to pin.
   */
  pinFirstSeenKey(): Promise<void> | null;
}

const HOST_KEY_ALGOS = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
];

/**
 * True when `err` (or its cause chain) says the host name does not resolve (`getaddrinfo
 * ENOTFOUND`). Not worth retrying within a user's command; the background poller still retries
 * with backoff, since DNS can come back. `EAI_AGAIN` (a temporary resolver failure) is not included.
 */
export function isUnresolvableHost(err: unknown): boolean {
  let current: unknown = err;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const e = current as { code?: unknown; details?: { reason?: unknown }; cause?: unknown };
    if (e.code === 'ENOTFOUND' || e.details?.reason === 'host_not_found') return true;
    current = e.cause;
  }
  return false;
}

/** The message of an error, or the value as text. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function readLocal(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new BackendError(`cannot read ${what} ${path}: ${errorMessage(err)}`, {
      transient: false,
      cause: err,
    });
  }
}

/**
 * Reads the key, certificate and known_hosts file of `t` and builds the ssh2 configuration of one
 * login attempt: publickey authentication (certificate first), the host-key verifier of the
 * configured policy and a host-key algorithm order that prefers the types already known.
 *
 * @throws BackendError (permanent) when a file cannot be read or the certificate is unusable.
 */
export async function prepareLogin(t: SshTarget, settings: LoginSettings): Promise<LoginPlan> {
  const key = await readLocal(t.keyPath, 'SSH key');
  let cert: CertIdentity | null = null;
  if (t.certPath) {
    const certText = (await readLocal(t.certPath, 'SSH certificate')).toString('utf8');
    try {
      cert = loadCertIdentity(key, certText);
    } catch (err) {
      throw new BackendError(`SSH certificate ${t.certPath}: ${errorMessage(err)}`, {
        transient: false,
        cause: err,
      });
    }
  }
  let known: KnownHostEntry[] | null = null;
  const pins =
    t.knownHostsPath || !t.pinnedKnownHostsPath ? null : new PinnedHostKeys(t.pinnedKnownHostsPath);
  if (t.knownHostsPath) {
    known = parseKnownHosts((await readLocal(t.knownHostsPath, 'known_hosts file')).toString('utf8'));
  } else if (pins) {
    try {
      known = await pins.load();
    } catch (err) {
      throw new BackendError(`cannot read ScriptHut's known_hosts file ${pins.path}: ${errorMessage(err)}`, {
        transient: false,
        cause: err,
      });
    }
  }

  const methods: Array<{ type: 'publickey'; username: string; key: ParsedKey | Buffer }> = [];
  if (cert) methods.push({ type: 'publickey', username: t.user, key: cert.key });
  methods.push({ type: 'publickey', username: t.user, key });

  let hostKeyError: string | null = null;
  /** A key seen for the first time (TOFU): pinned once the connection is ready. */
  let toPin: Buffer | null = null;
  const config: ConnectConfig = {
    host: t.host,
    port: t.port,
    username: t.user,
    readyTimeout: settings.connectTimeoutMs,
    keepaliveInterval: settings.keepaliveIntervalMs,
    keepaliveCountMax: 3,
    authHandler: (_left: AuthenticationType[], _partial: boolean, next: (m: unknown) => void) => {
      next(methods.shift() ?? false);
    },
  } as ConnectConfig;
  if (known) {
    const entries = known;
    if (pins) {
      config.hostVerifier = (blob: Buffer) => {
        const verdict = pins.check(entries, t.host, t.port, blob);
        if (verdict.kind === 'refused') hostKeyError = verdict.message;
        else if (verdict.kind === 'new') toPin = Buffer.from(blob);
        return verdict.kind !== 'refused';
      };
    } else {
      const path = t.knownHostsPath!;
      config.hostVerifier = (blob: Buffer) => {
        const verdict = verifyHostKey(entries, t.host, t.port, blob, path);
        if (!verdict.ok) hostKeyError = verdict.message;
        return verdict.ok;
      };
    }
    const preferred = knownKeyTypes(entries, t.host, t.port).flatMap((k) =>
      k === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [k],
    );
    const order = [...preferred.filter((a) => HOST_KEY_ALGOS.includes(a))];
    for (const a of HOST_KEY_ALGOS) if (!order.includes(a)) order.push(a);
    config.algorithms = {
      serverHostKey: order as NonNullable<ConnectConfig['algorithms']>['serverHostKey'],
    };
  }
  return {
    config,
    cert,
    unverifiedHostKey: known === null,
    hostKeyError: () => hostKeyError,
    pinFirstSeenKey: () => (pins && toPin ? pinHostKey(t, settings, pins, toPin) : null),
  };
}

/** Writes a first-seen host key to the pin file and warns once naming its fingerprint. */
async function pinHostKey(
  t: SshTarget,
  settings: LoginSettings,
  pins: PinnedHostKeys,
  blob: Buffer,
): Promise<void> {
  let outcome: Awaited<ReturnType<PinnedHostKeys['pin']>>;
  try {
    outcome = await pins.pin(t.host, t.port, blob);
  } catch (err) {
    throw new BackendError(
      `cannot pin the host key of ${knownHostsName(t.host, t.port)} in ${pins.path}: ${errorMessage(err)}`,
      { transient: false, cause: err },
    );
  }
  if ('kind' in outcome) {
    if (outcome.kind === 'refused') throw new BackendError(outcome.message, { transient: false });
    return;
  }
  if (outcome.pinned) {
    settings.onWarning?.(
      `first connection to ${knownHostsName(t.host, t.port)}: pinned its host key ` +
        `${keyTypeOfBlob(blob) ?? 'unknown'} ${fingerprintSha256(blob)} in ${pins.path} ` +
        '(trust on first use; compare the fingerprint with the one your cluster publishes, or set ' +
        'ssh.known_hosts to check against your own known_hosts file). A different key will be refused.',
    );
  }
}

/**
 * The BackendError of a login attempt that ssh2 failed: a refused host key and failed
 * authentication are permanent; an unresolvable name, a timeout and anything else are transient.
 */
export function classifyLoginError(
  t: SshTarget,
  endpoint: string,
  err: Error & { level?: string },
  hostKeyError: string | null,
  usedCert: boolean,
): BackendError {
  if (hostKeyError) return new BackendError(hostKeyError, { transient: false, cause: err });
  if (err.level === 'client-authentication') {
    const what = usedCert ? `key ${t.keyPath} with certificate ${t.certPath}` : `key ${t.keyPath}`;
    return new BackendError(`SSH authentication failed for ${endpoint} (${what}): ${err.message}`, {
      transient: false,
      cause: err,
    });
  }
  if (isUnresolvableHost(err)) {
    return new BackendError(
      `cannot connect to ${endpoint}: host "${t.host}" not found (DNS: ${err.message})`,
      {
        transient: true,
        cause: err,
        details: { reason: 'host_not_found', host: t.host },
      },
    );
  }
  if (err.level === 'client-timeout') {
    return new BackendError(`timed out connecting to ${endpoint}: ${err.message}`, {
      transient: true,
      cause: err,
    });
  }
  return new BackendError(`cannot connect to ${endpoint}: ${err.message}`, {
    transient: true,
    cause: err,
  });
}
