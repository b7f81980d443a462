/**
 * AWS Batch backend for ScriptHut: submits each task as a Batch job (locked, revisions or
 * auto-registered job definitions), tracks every job with batched DescribeJobs, reads logs from
 * CloudWatch Logs, and backs off on throttling without ever failing a task because of it.
 */

export type { AwsErrorKind, RetryPolicy } from '@scripthut/aws-common';
export { backoffDelay, classifyAwsError, TokenBucket, withRetry } from '@scripthut/aws-common';
export type { BatchBackend, BatchBackendConfig, BatchBackendOptions, BatchLogger } from './backend.js';
export { createBatchBackend, localCommandRunner } from './backend.js';
export type { JobDefinitionMode, ResolvedJobDefinition } from './job-definitions.js';
export {
  autoDefinitionName,
  crossAccountRemedy,
  JobDefinitionResolver,
  TEMPLATE_PASSTHROUGH_FIELDS,
} from './job-definitions.js';
export {
  CANCEL_REASON,
  DEFAULT_CLONE_DIR,
  DEFAULT_PARTITION,
  gitCloneBlock,
  gpuCount,
  jobTimeout,
  mapJobDetail,
  renderBatchScript,
  resolveQueue,
  resourceRequirements,
  sanitizeJobName,
} from './mapping.js';
