/**
 * `@scripthut/ssh` — one persistent ssh2 connection per backend: bounded channels, reconnect with
 * backoff, OpenSSH certificates and known_hosts verification.
 */

export { type BackendExecOptions, type BackendSsh, backendExec } from './backend-connection.js';
export { type BackoffOptions, backoffCeiling, backoffDelay, DEFAULT_BACKOFF } from './backoff.js';
export { type CertIdentity, installCertAuth, loadCertIdentity } from './cert-auth.js';
export {
  isUnresolvableHost,
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
