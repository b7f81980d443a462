export { arrayModeInput, type RunArrayMode, runArrayMode, workflowArrayMode } from './array-mode.js';
export {
  AUTH_TOKEN_FILE,
  type AuthTokenOrigin,
  authTokenPath,
  loadOrCreateAuthToken,
  MIN_REMOTE_TOKEN_LENGTH,
  newAuthToken,
  readAuthTokenFile,
  resolveAuthToken,
} from './auth-token.js';
export { pinnedKnownHostsPath } from './backends.js';
export { configTextHash, restoreRedactedLines, writeConfigFileAtomically } from './config-file.js';
export {
  type DebugSession,
  type DebugSessionView,
  debugCommand,
  releaseCommand,
} from './debug-jobs.js';
export {
  type EnvRuleLayer,
  type EnvValue,
  envValueText,
  type ResolvedEnv,
  type ResolvedVariable,
  resolveEnvRules,
} from './env-rules.js';
export {
  CLONE_MARKER,
  type GitCloneSpec,
  type PreparedClone,
  prepareClone,
  resolveCommit,
  runGeneratorCommand,
} from './generator.js';
export {
  ENGINE_LOCK_FILE,
  ENGINE_MUTEX_FILE,
  EngineLock,
  type EngineLockOptions,
  type EngineRole,
  isEngineLockHeld,
  type LockInfo,
  readEngineLock,
} from './lock.js';
export { type MasterLogin, masterLoginFor } from './login.js';
export {
  type NotificationEvent,
  NotificationHub,
  type NotificationStats,
  type RunFinishedPayload,
  runFinishedPayload,
  statsOf,
  urlOrigin,
  WebhookNotifier,
  type WebhookNotifierOptions,
} from './notifications.js';
export {
  type OutputFileContent,
  type OutputFileView,
  outputsUnavailableReason,
  type RunSummaryView,
  type TaskOutputsView,
} from './outputs.js';
export { CLOSE_GRACE_MS, type CreateRuntimeOptions, createRuntime, Runtime } from './runtime.js';
export { type DiscoveredSource, SourceCatalog } from './sources.js';
export {
  type DocumentEnvRules,
  parseTaskDocumentWithEnv,
  RULES_ENVIRONMENT_PREFIX,
  type TaskEnvironmentView,
} from './task-env.js';
export {
  attachCommand,
  checkJobId,
  checkNodeName,
  debugAttachCommand,
  firstPbsNode,
  type OpenedTerminal,
  type TerminalCapable,
  type TerminalRequest,
  type TerminalTarget,
  taskAttachProblem,
  terminalRunner,
} from './terminals.js';
export type * from './types.js';
export { RUN_RERUN_MODES } from './types.js';
