/**
 * `@scripthut/ssh` — one persistent ssh2 connection per backend: bounded channels, reconnect with
 * backoff, OpenSSH certificates and known_hosts verification; or, for clusters with MFA logins, the
 * user's own OpenSSH ControlMaster connection through the system `ssh` client.
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
  type ControlPathContext,
  controlPathHash,
  expandControlPath,
  MAX_SOCKET_PATH_BYTES,
  type MasterLoginTarget,
  masterCheckArgs,
  masterLoginArgs,
  masterLoginCommand,
} from './control-path.js';
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
  type OpenSshExecOptions,
  type OpenSshTarget,
  OpenSshTransport,
  type OpenSshTransportOptions,
} from './openssh-transport.js';
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
export { type UploadExec, uploadFile, withRemoteTempFile } from './remote-upload.js';
export { Semaphore } from './semaphore.js';
