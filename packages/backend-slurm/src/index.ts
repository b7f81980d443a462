/**
 * `@scripthut/backend-slurm` — the Slurm backend of ScriptHut, over SSH.
 *
 * @packageDocumentation
 */

/** The ended job states are core's (`TERMINAL_JOB_STATES`); re-exported for this package's users. */
export { isTerminalJobState } from '@scripthut/core';
/**
 * What the backend needs from its SSH connection (`SshConnection` from `@scripthut/ssh` fits) and
 * the options of its `exec`: the scheduler-over-SSH base's types, under this package's names.
 */
export type { BackendExecOptions as SlurmExecOptions, BackendSsh as SlurmSsh } from '@scripthut/ssh';
export {
  createSlurmBackend,
  SBATCH_RETRY_WINDOW_MS,
  type SlurmBackend,
  type SlurmBackendOptions,
} from './backend.js';
export {
  formatJobRef,
  isInvalidJobIdError,
  isValidJobId,
  JOB_ID_RE,
  JOB_REF_RE,
  mapSlurmState,
  normalizeSlurmState,
  type ParsedSubmission,
  parseCpuTuple,
  parseDfPk,
  parseExitCode,
  parseExternalJobs,
  parseJobRef,
  parsePendingReasons,
  parsePipeRows,
  parseSacct,
  parseSbatchOutput,
  parseSinfoNodeCpus,
  parseSinfoPartitions,
  parseSqueueStatus,
  parseTagRows,
  SACCT_FIELDS,
  type SacctRow,
  SINFO_FORMAT_LETTERS,
  type SlurmJobRef,
  SQUEUE_EXTERNAL_FORMAT,
  SQUEUE_STATUS_FORMAT,
  type SqueueStatusRow,
  sacctVerdict,
  slurmTimeToIso,
  type VerdictEvidence,
} from './parse.js';
export { explainPendingReason } from './pending.js';
export { slurmBackend } from './plugin.js';
export {
  buildCancelProgram,
  buildFindByTagsProgram,
  buildSacctProgram,
  buildStatusProgram,
  buildSubmitProgram,
  type ClusterName,
  parseStatusAnswer,
  parseSubmitAnswer,
  SLURM_ENV_RESET,
  type StatusQuery,
  type SubmitAnswer,
  type SubmitItem,
  type SubmitLine,
} from './programs.js';
export { classifySbatchFailure, type SbatchFailure } from './sbatch-errors.js';
export {
  policyDirectives,
  renderSlurmScript,
  ScriptRenderError,
  type SlurmScriptOptions,
  sbatchLogPath,
  sbatchQuote,
  slurmDirectives,
  TAG_RE,
} from './script.js';
export { SACCT_USAGE_FIELDS, sacctUsage, slurmMemoryBytes } from './usage.js';
