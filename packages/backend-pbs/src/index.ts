/**
 * `@scripthut/backend-pbs` — the PBS Pro / Torque backend of ScriptHut, over SSH.
 *
 * @packageDocumentation
 */

/**
 * What the backend needs from its SSH connection (`SshConnection` from `@scripthut/ssh` fits) and
 * the options of its `exec`: the scheduler-over-SSH base's types, under this package's names.
 */
export type { BackendExecOptions as PbsExecOptions, BackendSsh as PbsSsh } from '@scripthut/ssh';
export { pbsArrayKey, renderPbsArrayScript } from './array-script.js';
export {
  DEFAULT_MAX_ARRAY_SIZE,
  isPbsElementJobId,
  parseMaxArraySize,
  pbsElementJobId,
} from './arrays.js';
export {
  createPbsBackend,
  type PbsBackend,
  type PbsBackendOptions,
  type PbsServerFacts,
} from './backend.js';
export {
  detectFlavour,
  jobHistoryEnabled,
  type PbsNode,
  type PbsNodesSummary,
  type PbsQueue,
  parsePbsnodes,
  parseQstatA,
  parseQstatQueues,
  parseQstatServer,
  pendingCounts,
} from './cluster.js';
export {
  attr,
  displayJobNumber,
  execHosts,
  formatWalltime,
  gpuCountFromGres,
  isValidPbsJobId,
  joinContinuations,
  PBS_JOB_ID_RE,
  type PbsFlavour,
  type PbsJobRecord,
  parseAttributeBlocks,
  parseDuration,
  parseQstatJobs,
  parseQstatJson,
  parseQstatText,
  parseQstatXml,
  parseQsubOutput,
  pbsTimeToIso,
  splitJsonDocuments,
  toPbsMemory,
} from './parse.js';
export { pbsBackend } from './plugin.js';
export {
  buildCancelProgram,
  buildFindByTagsProgram,
  buildStatusProgram,
  buildSubmitProgram,
  IDS_PER_CALL,
  parseSubmitAnswer,
  type StatusFormat,
  type StatusProgramOptions,
  type SubmitItem,
  type SubmitLine,
} from './programs.js';
export {
  type PbsScriptOptions,
  pbsDirectives,
  pbsPath,
  renderPbsScript,
  ScriptRenderError,
  TAG_RE,
} from './script.js';
export { createUsageQuery, pbsMemoryBytes, pbsUsage } from './usage.js';
export {
  FINISHED_STATES,
  type FinishedFacts,
  finishedVerdict,
  mapActiveState,
  pbsJobStatus,
  pbsKillVerdict,
  QSUB_QUEUE_LIMIT,
  qsubFailure,
} from './verdict.js';
