/**
 * AWS Batch backend for ScriptHut: submits each task as a Batch job (locked, revisions or
 * auto-registered job definitions, EC2 or Fargate queues, FIFO or fair-share), tracks every job
 * with batched DescribeJobs, reads logs from CloudWatch Logs, and backs off on throttling without
 * ever failing a task because of it.
 */

export type { AwsErrorKind, RetryPolicy } from '@scripthut/aws-common';
export { backoffDelay, classifyAwsError, TokenBucket, withRetry } from '@scripthut/aws-common';
export {
  BATCH_ARRAY_INDEX_VARIABLE,
  type BatchArrayScript,
  batchArrayKey,
  renderBatchArrayScript,
} from './array-script.js';
export { BATCH_MAX_ARRAY_SIZE, batchElementJobId, parseBatchElementJobId } from './arrays.js';
export type {
  BatchBackend,
  BatchBackendConfig,
  BatchBackendOptions,
  BatchLogger,
  FinishedBatchJob,
  RateLimiter,
} from './backend.js';
export { cancelTargets, createBatchBackend, localCommandRunner } from './backend.js';
export type { JobDefinitionMode, ResolvedJobDefinition } from './job-definitions.js';
export {
  autoDefinitionName,
  CLONE_TAG,
  crossAccountRemedy,
  definitionLogGroup,
  JobDefinitionResolver,
  TEMPLATE_PASSTHROUGH_FIELDS,
} from './job-definitions.js';
export {
  CANCEL_REASON,
  DEFAULT_CLONE_DIR,
  DEFAULT_PARTITION,
  FARGATE_SIZES,
  fargateResourceRequirements,
  gitCloneBlock,
  gpuCount,
  jobTimeout,
  mapJobDetail,
  renderBatchScript,
  resolveQueue,
  resourceRequirements,
  sanitizeJobName,
} from './mapping.js';
export {
  BATCH_ADDED_OVERRIDES_RESERVE,
  type BuiltOverrides,
  buildContainerOverrides,
  CONTAINER_OVERRIDES_BUDGET,
  compressedCommand,
  containerOverridesSize,
  ECS_CONTAINER_OVERRIDES_LIMIT,
} from './overrides.js';
export { batchBackend } from './plugin.js';
export { type BatchPlatform, QueueDirectory, type QueueFacts } from './queues.js';
export { DESCRIBE_EXPIRY_HORIZON_MS, logStreamOf } from './status.js';
