/**
 * `@scripthut/ssh` — one persistent ssh2 connection per backend: bounded channels, reconnect with
 * backoff, OpenSSH certificates, known_hosts verification and trust-on-first-use host-key pinning.
 */

export { type BackendExecOptions, type BackendSsh, backendExec } from './backend-connection.js';
export { type BackoffOptions, backoffCeiling, backoffDelay, DEFAULT_BACKOFF } from './backoff.js';
export { type CertIdentity, installCertAuth, loadCertIdentity } from './cert-auth.js';
export {
  SshConnection,
  type SshConnectionOptions,
  type SshExecOptions,
  type SshTarget,
} from './connection.js';
export {
  fingerprintSha256,
  forgetHostKeyCommand,
  knownHostsLine,
  PinnedHostKeys,
  type PinVerdict,
} from './host-key-pins.js';
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
export {
  buildReadLogProgram,
  completeUtf8,
  MAX_REMOTE_FILE_BYTES,
  parseReadLogAnswer,
  type RemoteExec,
  type RemoteExecOptions,
  type RemoteHome,
  readRemoteFile,
  readRemoteLog,
  remoteHome,
  truncateOutput,
} from './remote-files.js';
export {
  chunkSubmitRequests,
  dirOf,
  diskUsageCommand,
  markerLoop,
  type PreparedSubmission,
  parseMarkers,
  parseSubmitAnswerLine,
  prepareSubmission,
  readExitMarkers,
  type SubmitItem,
  type SubmitLine,
  splitSections,
  submitAnswerLine,
  submitPreamble,
} from './remote-programs.js';
export { Semaphore } from './semaphore.js';
