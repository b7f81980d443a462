/**
 * EC2's use of the shared AWS retry policy (`@scripthut/aws-common`): launch errors that mean "no
 * capacity right now" are their own kind (the task stays pending), and retries stop after 5
 * attempts with a 10 s backoff cap.
 */
import {
  type AwsErrorKind,
  classifyAwsError as classifyWith,
  type RetryPolicy,
  withRetry as retry,
  type Sleep,
} from '@scripthut/aws-common';

export {
  type AwsErrorKind,
  isRetryable,
  isTransientKind,
  type RetryPolicy,
  realSleep,
  type Sleep,
} from '@scripthut/aws-common';

/** EC2 launch errors that mean "not now" rather than "never": the task stays pending. */
export const EC2_CAPACITY_ERRORS: ReadonlySet<string> = new Set([
  'InsufficientInstanceCapacity',
  'InsufficientHostCapacity',
  'InsufficientCapacity',
  'InstanceLimitExceeded',
  'VcpuLimitExceeded',
  'MaxSpotInstanceCountExceeded',
  'InsufficientFreeAddressesInSubnet',
  'Unavailable',
]);

/** Classify an error thrown by an AWS SDK v3 client, with EC2's capacity errors as `capacity`. */
export function classifyAwsError(err: unknown): AwsErrorKind {
  return classifyWith(err, { capacityNames: EC2_CAPACITY_ERRORS });
}

/** Run `fn`, retrying throttling / 5xx / network errors with backoff (default 5 attempts, 10 s cap). */
export function withRetry<T>(
  fn: () => Promise<T>,
  options: { policy?: RetryPolicy; sleep?: Sleep } = {},
): Promise<T> {
  const policy = options.policy ?? {};
  return retry(fn, {
    policy: { ...policy, maxAttempts: policy.maxAttempts ?? 5, maxDelayMs: policy.maxDelayMs ?? 10_000 },
    sleep: options.sleep,
  });
}

/** `Name: message` of any thrown value (never includes request parameters). */
export function errorText(err: unknown): string {
  if (err instanceof Error)
    return err.name && err.name !== 'Error' ? `${err.name}: ${err.message}` : err.message;
  return String(err);
}
