/**
 * AWS error classification and retries with exponential backoff and full jitter (same policy as the
 * Batch backend: throttling, 5xx and network errors are retried; 4xx request errors are not).
 */

/** How an AWS SDK error should be handled. */
export type AwsErrorKind = 'throttle' | 'server' | 'network' | 'credentials' | 'capacity' | 'client';

const THROTTLE = new Set([
  'Throttling',
  'ThrottlingException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
]);

/** EC2 launch errors that mean "not now" rather than "never": the task stays pending. */
const CAPACITY = new Set([
  'InsufficientInstanceCapacity',
  'InsufficientHostCapacity',
  'InsufficientCapacity',
  'InstanceLimitExceeded',
  'VcpuLimitExceeded',
  'MaxSpotInstanceCountExceeded',
  'InsufficientFreeAddressesInSubnet',
  'Unavailable',
]);

const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);

interface SdkLikeError {
  name?: string;
  Code?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $fault?: string;
}

/** Classify an error thrown by an AWS SDK v3 client. */
export function classifyAwsError(err: unknown): AwsErrorKind {
  const e = (typeof err === 'object' && err !== null ? err : {}) as SdkLikeError;
  const name = e.name ?? e.Code ?? '';
  const status = e.$metadata?.httpStatusCode;
  if (THROTTLE.has(name) || status === 429) return 'throttle';
  if (CAPACITY.has(name)) return 'capacity';
  if (name === 'CredentialsProviderError' || name === 'ExpiredToken' || name === 'ExpiredTokenException')
    return 'credentials';
  if ((typeof status === 'number' && status >= 500) || e.$fault === 'server') return 'server';
  if (typeof status === 'number' && status >= 400) return 'client';
  if (name === 'TimeoutError' || (e.code && NETWORK_CODES.has(e.code))) return 'network';
  return e.$metadata === undefined ? 'network' : 'client';
}

/** Retried by {@link withRetry}. */
export function isRetryable(kind: AwsErrorKind): boolean {
  return kind === 'throttle' || kind === 'server' || kind === 'network';
}

/** True when the error should keep the task (transient), false when it is a permanent request error. */
export function isTransientKind(kind: AwsErrorKind): boolean {
  return kind !== 'client';
}

export type Sleep = (ms: number) => Promise<void>;
export const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Retry tuning. */
export interface RetryPolicy {
  /** Attempts including the first (default 5). */
  maxAttempts?: number;
  /** First backoff ceiling in ms (default 200). */
  baseDelayMs?: number;
  /** Cap in ms (default 10 000). */
  maxDelayMs?: number;
}

/** Full-jitter delay for retry `attempt` (0-based). */
export function backoffDelay(attempt: number, policy: RetryPolicy = {}, random = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs ?? 10_000, (policy.baseDelayMs ?? 200) * 2 ** attempt);
  return Math.floor(random() * ceiling);
}

/** Run `fn`, retrying throttling / 5xx / network errors with backoff; rethrows the last error. */
export async function withRetry<T>(
  fn: () => Promise<T>,
  options: { policy?: RetryPolicy; sleep?: Sleep } = {},
): Promise<T> {
  const max = Math.max(1, options.policy?.maxAttempts ?? 5);
  const sleep = options.sleep ?? realSleep;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isRetryable(classifyAwsError(err)) || attempt + 1 >= max) throw err;
      await sleep(backoffDelay(attempt, options.policy));
    }
  }
}

/** `Name: message` of any thrown value (never includes request parameters). */
export function errorText(err: unknown): string {
  if (err instanceof Error)
    return err.name && err.name !== 'Error' ? `${err.name}: ${err.message}` : err.message;
  return String(err);
}
