/**
 * Classification of errors thrown by AWS SDK v3 clients: what is worth retrying, what keeps the
 * task (transient) and what is a permanent request error.
 */

/** How an AWS SDK error should be handled. */
export type AwsErrorKind =
  /** The request was rejected before doing anything (safe to retry). */
  | 'throttle'
  /** A 5xx from the service: the request may or may not have taken effect. */
  | 'server'
  /** No answer (DNS, connection reset, socket timeout): may or may not have taken effect. */
  | 'network'
  /** Credentials could not be resolved or have expired (fix outside ScriptHut; keep tasks). */
  | 'credentials'
  /** Not now rather than never (e.g. EC2 has no capacity); only with `capacityNames`. */
  | 'capacity'
  /** A 4xx: the request is wrong and retrying will not help. */
  | 'client';

/** Error names (or EC2 `Code`s) of throttled requests. */
export const THROTTLE_ERROR_NAMES: ReadonlySet<string> = new Set([
  'TooManyRequestsException',
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'ProvisionedThroughputExceededException',
  'SlowDown',
]);

const CREDENTIAL_NAMES = new Set([
  'CredentialsProviderError',
  'TokenProviderError',
  'ExpiredToken',
  'ExpiredTokenException',
]);

const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
]);

interface SdkLikeError {
  name?: string;
  Code?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $fault?: string;
}

/** Options of {@link classifyAwsError}. */
export interface ClassifyOptions {
  /** Error names that mean "no capacity right now" (kind `capacity`); none by default. */
  capacityNames?: ReadonlySet<string>;
}

/**
 * Classify an error thrown by an AWS SDK v3 client (by error name — or EC2's `Code` — HTTP status,
 * fault and Node network error code). Anything without an HTTP answer is `network`.
 *
 * @example
 * ```ts
 * classifyAwsError({ name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } }); // 'throttle'
 * classifyAwsError({ name: 'InsufficientInstanceCapacity', $metadata: {} }, { capacityNames }); // 'capacity'
 * ```
 */
export function classifyAwsError(err: unknown, options: ClassifyOptions = {}): AwsErrorKind {
  const e = (typeof err === 'object' && err !== null ? err : {}) as SdkLikeError;
  const name = e.name ?? e.Code ?? '';
  const status = e.$metadata?.httpStatusCode;
  if (THROTTLE_ERROR_NAMES.has(name) || status === 429) return 'throttle';
  if (options.capacityNames?.has(name)) return 'capacity';
  if (CREDENTIAL_NAMES.has(name)) return 'credentials';
  if (typeof status === 'number' && status >= 500) return 'server';
  if (name === 'ServerException' || e.$fault === 'server') return 'server';
  if (typeof status === 'number' && status >= 400) return 'client';
  if (name === 'TimeoutError' || name === 'AbortError' || (e.code && NETWORK_CODES.has(e.code)))
    return 'network';
  if (name === 'TypeError' && /fetch failed|socket/i.test(e.message ?? '')) return 'network';
  // No HTTP status at all: the call never got an answer.
  return status === undefined && e.$metadata === undefined ? 'network' : 'client';
}

/** True for errors worth retrying with backoff: throttling, 5xx and network errors. */
export function isRetryable(kind: AwsErrorKind): boolean {
  return kind === 'throttle' || kind === 'server' || kind === 'network';
}

/** True when the error should keep the task (transient), false for a permanent request error. */
export function isTransientKind(kind: AwsErrorKind): boolean {
  return kind !== 'client';
}
