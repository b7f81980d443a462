/**
 * EC2's use of the shared AWS error classification (`@scripthut/aws-common`): launch errors that
 * mean "no capacity right now" are their own kind, so the task stays pending.
 */
import { type AwsErrorKind, classifyAwsError as classifyWith } from '@scripthut/aws-common';

export type { AwsErrorKind, RetryPolicy } from '@scripthut/aws-common';

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
