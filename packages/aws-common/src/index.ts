/**
 * `@scripthut/aws-common` — what ScriptHut's AWS backends (Batch, EC2, and any later one such as
 * ECS) share: the {@link AwsCaller} every AWS request goes through (retries with backoff and
 * jitter, recovery after ambiguous failures, health, BackendErrors), error classification, a
 * token bucket, credentials, the record of finished jobs AWS forgets, the container task script
 * and a local command runner.
 *
 * @packageDocumentation
 */
export {
  AwsCaller,
  type AwsCallerOptions,
  type CallOptions,
  chunk,
  errorText,
} from './caller.js';
export {
  type CloudWatchLogSource,
  cloudWatchStream,
  type GetLogEvents,
  type GetLogEventsInput,
  type LogEventsPage,
  type LogStreamRef,
  readCloudWatchLog,
  readCloudWatchStream,
} from './cloudwatch-logs.js';
export {
  compressedCommand,
  containerEnvAndDir,
  DEFAULT_CLONE_DIR,
  gitCloneBlock,
  renderContainerScript,
} from './container.js';
export {
  type AwsClientConfig,
  type AwsClientConfigOptions,
  awsClientConfig,
  awsCredentials,
} from './credentials.js';
export {
  type AwsErrorKind,
  type ClassifyOptions,
  classifyAwsError,
  isAmbiguous,
  isRetryable,
  isTransientKind,
  THROTTLE_ERROR_NAMES,
} from './errors.js';
export { FinishedJobStore, type FinishedJobStoreOptions } from './finished-jobs.js';
export {
  type AwsBackendCommonOptions,
  type AwsBackendKit,
  type AwsBackendKitSetup,
  type AwsBackendLogger,
  awsBackendKit,
} from './kit.js';
export { localCommandRunner } from './local-runner.js';
export { TokenBucket } from './rate-limit.js';
export { FARGATE_SIZES, gpuCount } from './resources.js';
export {
  backoffDelay,
  type RetryOptions,
  type RetryPolicy,
  realSleep,
  type Sleep,
  withRetry,
} from './retry.js';
export { SettledCache } from './settled-cache.js';
