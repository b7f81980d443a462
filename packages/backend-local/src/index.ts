/**
 * `@scripthut/backend-local` — run tasks as detached process groups on the ScriptHut host.
 */
export { DEFAULT_EXEC_TIMEOUT_MS, LocalCommandRunner, TIMEOUT_EXIT_CODE } from './command-runner.js';
export {
  AWS_CREDENTIAL_ENV_NAMES,
  type InheritOptions,
  inheritedEnvironment,
  isWithheldEnvName,
} from './environment.js';
export {
  CANCEL_EXIT_CODE,
  createLocalBackend,
  LocalBackend,
  type LocalBackendOptions,
  MAX_READ_FILE_BYTES,
  newJobId,
  RENDER_JOB_ID,
  type SpoolRecord,
} from './local-backend.js';
export { readLogFile } from './logs.js';
export { expandHome, resolveLocal } from './paths.js';
export { localBackend } from './plugin.js';
export { findGnuTime, localUsage, parseTimeOutput, TIME_FORMAT } from './usage.js';
