/**
 * `@scripthut/ssh` — one persistent ssh2 connection per backend: bounded channels, reconnect with
 * backoff, OpenSSH certificates, known_hosts verification and trust-on-first-use host-key pinning;
 * or, for clusters with MFA logins, the user's own OpenSSH ControlMaster connection through the
 * system `ssh` client.
 */

export {
  type AnsweredChunk,
  adoptLostArray,
  adoptLostJobs,
  type LostArrayContext,
  type LostJobsContext,
  settleSubmission,
} from './array-recovery.js';
export {
  type ArraySubmitProgramSpec,
  buildArraySubmitProgram,
  type LinkPair,
  markersRemoveLine,
  symlinkLines,
} from './array-submission.js';
export {
  type BackendExecOptions,
  type BackendSsh,
  backendExec,
  interruptedCommand,
} from './backend-connection.js';
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
  BOOTSTRAP_COMMAND,
  type FramedProgram,
  type FrameInput,
  frameProgram,
  isStdinProgram,
  OutputFramer,
} from './framing.js';
export { pinnedKnownHostsPath, sshFromConfig } from './from-config.js';
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
  type OpenSshExecOptions,
  type OpenSshTarget,
  OpenSshTransport,
  type OpenSshTransportOptions,
} from './openssh-transport.js';
export {
  buildReadFileProgram,
  buildReadLogProgram,
  completeUtf8,
  MAX_REMOTE_FILE_BYTES,
  parseReadFileAnswer,
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
  buildListOutputsProgram,
  buildReadOutputFileProgram,
  listRemoteOutputs,
  parseFindRecords,
  parseListOutputsAnswer,
  parseReadOutputFileAnswer,
  readRemoteOutputFile,
} from './remote-outputs.js';
export {
  chunkSubmitRequests,
  dirOf,
  diskUsageCommand,
  type ExitMarker,
  markerCleanup,
  markerCreateLine,
  markerLoop,
  markerLoopFromFile,
  markerRemoveLine,
  type PreparedSubmission,
  parseMarkerLines,
  parseMarkers,
  parseSubmitAnswerLine,
  prepareSubmission,
  readExitMarkers,
  SUBMIT_STDIN_LIMIT,
  type SubmitItem,
  type SubmitLine,
  splitSections,
  submitAnswerLine,
  submitInChunks,
  submitPreamble,
} from './remote-programs.js';
export { type UploadExec, uploadFile, withRemoteTempFile } from './remote-upload.js';
export {
  type ArrayDialect,
  type ArrayHost,
  type ArrayVerdict,
  type RenderedArray,
  submitAnswerOf,
  submitSchedulerArray,
} from './scheduler-arrays.js';
export {
  DEFAULT_MARKER_DIR,
  markerPathIn,
  type SchedulerBackendOptions,
  type SshBackendBase,
  type SshBackendMembers,
  sshBackendMembers,
} from './scheduler-backend.js';
export { renderSchedulerScript, type SchedulerScriptOptions } from './scheduler-script.js';
export { Semaphore } from './semaphore.js';
export {
  checkPtySize,
  checkTerm,
  openPtyChannel,
  type ShellChannel,
  type ShellExit,
  type ShellOptions,
} from './shell-channel.js';
