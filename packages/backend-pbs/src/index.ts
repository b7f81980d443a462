/**
 * `@scripthut/backend-pbs` — the PBS Pro / Torque backend of ScriptHut, over SSH.
 *
 * @packageDocumentation
 */
export {
  createPbsBackend,
  type PbsBackend,
  type PbsBackendOptions,
  type PbsExecOptions,
  type PbsSsh,
} from './backend.js';
export {
  attr,
  detectFlavour,
  displayJobNumber,
  execHosts,
  FINISHED_STATES,
  finishedVerdict,
  formatWalltime,
  gpuCountFromGres,
  isValidPbsJobId,
  joinContinuations,
  mapActiveState,
  PBS_JOB_ID_RE,
  type PbsFlavour,
  type PbsJobRecord,
  type PbsNode,
  type PbsNodesSummary,
  type PbsQueue,
  parseAttributeBlocks,
  parseDuration,
  parsePbsnodes,
  parseQstatA,
  parseQstatJobs,
  parseQstatJson,
  parseQstatQueues,
  parseQstatServer,
  parseQstatText,
  parseQstatXml,
  parseQsubOutput,
  pbsJobStatus,
  pbsTimeToIso,
  pendingCounts,
  toPbsMemory,
} from './parse.js';
export {
  buildStatusProgram,
  buildSubmitProgram,
  parseSubmitAnswer,
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
