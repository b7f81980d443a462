/**
 * `@scripthut/backend-slurm` — the Slurm backend of ScriptHut, over SSH.
 *
 * @packageDocumentation
 */
export {
  createSlurmBackend,
  type SlurmBackendOptions,
  type SlurmExecOptions,
  type SlurmSsh,
} from './backend.js';
export {
  isInvalidJobIdError,
  isTerminalJobState,
  isValidJobId,
  JOB_ID_RE,
  mapSlurmState,
  normalizeSlurmState,
  type ParsedSubmission,
  parseCpuTuple,
  parseDfPk,
  parseExitCode,
  parseExternalJobs,
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
  SQUEUE_EXTERNAL_FORMAT,
  SQUEUE_STATUS_FORMAT,
  type SqueueStatusRow,
  sacctVerdict,
  slurmTimeToIso,
  type VerdictEvidence,
} from './parse.js';
export { explainPendingReason } from './pending.js';
export {
  buildStatusProgram,
  buildSubmitProgram,
  parseSubmitAnswer,
  type SubmitAnswer,
  type SubmitItem,
  type SubmitLine,
} from './programs.js';
export {
  renderSlurmScript,
  ScriptRenderError,
  type SlurmScriptOptions,
  sbatchQuote,
  slurmDirectives,
  TAG_RE,
} from './script.js';
