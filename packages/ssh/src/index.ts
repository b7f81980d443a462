/**
 * `@scripthut/ssh` — one persistent ssh2 connection per backend: bounded channels, reconnect with
 * backoff, OpenSSH certificates and known_hosts verification.
 */

export { type BackoffOptions, backoffCeiling, backoffDelay, DEFAULT_BACKOFF } from './backoff.js';
export { type CertIdentity, installCertAuth, loadCertIdentity } from './cert-auth.js';
export {
  SshConnection,
  type SshConnectionOptions,
  type SshExecOptions,
  type SshTarget,
} from './connection.js';
export {
  type HostKeyVerdict,
  hostFieldMatches,
  type KnownHostEntry,
  keyTypeOfBlob,
  knownHostsName,
  knownKeyTypes,
  parseKnownHosts,
  verifyHostKey,
} from './known-hosts.js';
export { Semaphore } from './semaphore.js';
