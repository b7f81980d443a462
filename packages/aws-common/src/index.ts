/**
 * `@scripthut/aws-common` — helpers shared by the AWS backends (Batch, EC2): error
 * classification, retries with backoff and full jitter, credentials, the container task script
 * and a local command runner.
 *
 * @packageDocumentation
 */
export {
  containerEnvAndDir,
  DEFAULT_CLONE_DIR,
  gitCloneBlock,
  renderContainerScript,
} from './container.js';
export { awsCredentials } from './credentials.js';
export {
  type AwsErrorKind,
  type ClassifyOptions,
  classifyAwsError,
  isRetryable,
  isTransientKind,
  THROTTLE_ERROR_NAMES,
} from './errors.js';
export { localCommandRunner } from './local-runner.js';
export {
  backoffDelay,
  type RetryOptions,
  type RetryPolicy,
  realSleep,
  type Sleep,
  withRetry,
} from './retry.js';
