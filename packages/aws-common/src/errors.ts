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
  /**
   * No HTTP answer (DNS, connection reset/aborted, TLS/protocol error, socket timeout): the request
   * may or may not have taken effect.
   */
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

/** Node/undici socket error codes: the request got no HTTP answer. */
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'EPIPE',
  'EPROTO',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'EADDRNOTAVAIL',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/** Error names of requests that timed out (client side or as the service's own 408-style answer). */
const TIMEOUT_NAMES = new Set(['TimeoutError', 'AbortError', 'RequestTimeout', 'RequestTimeoutException']);

/** JavaScript errors that mean a bug in the caller, not a lost answer: retrying cannot help. */
const PROGRAMMING_ERRORS = new Set(['TypeError', 'RangeError', 'ReferenceError', 'SyntaxError']);

interface SdkLikeError {
  name?: string;
  Code?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number; attempts?: number };
  $fault?: string;
}

/** Options of {@link classifyAwsError}. */
export interface ClassifyOptions {
  /** Error names that mean "no capacity right now" (kind `capacity`); none by default. */
  capacityNames?: ReadonlySet<string>;
}

/**
 * Classify an error thrown by an AWS SDK v3 client (by error name — or EC2's `Code` — HTTP status,
 * fault and Node network error code).
 *
 * The SDK attaches `$metadata` to EVERY error it throws, network errors included (its retry
 * middleware records `attempts` there), so the presence of `$metadata` says nothing: what tells a
 * lost answer from a rejected request is the missing HTTP status. An error without
 * `$metadata.httpStatusCode` is `network` (the request may or may not have taken effect), except
 * credential errors and plain JavaScript errors (`TypeError: x is undefined`, a bug: `client`).
 *
 * @example
 * ```ts
 * classifyAwsError({ name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } }); // 'throttle'
 * classifyAwsError({ name: 'Error', code: 'EPROTO', $metadata: { attempts: 1 } }); // 'network'
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
  if (TIMEOUT_NAMES.has(name) || (e.code && NETWORK_CODES.has(e.code))) return 'network';
  if (typeof status === 'number' && status >= 400) return 'client';
  // A 2xx/3xx whose body could not be read (cut off mid-answer): it may have taken effect.
  if (typeof status === 'number') return 'network';
  if (PROGRAMMING_ERRORS.has(name) && !/fetch failed|socket|network/i.test(e.message ?? '')) return 'client';
  // No HTTP status at all: the call never got an answer.
  return 'network';
}

/** True for errors worth retrying with backoff: throttling, 5xx and network errors. */
export function isRetryable(kind: AwsErrorKind): boolean {
  return kind === 'throttle' || kind === 'server' || kind === 'network';
}

/**
 * True when the request may have taken effect although it failed (5xx, no answer): before
 * repeating a call that creates something, look whether it exists.
 */
export function isAmbiguous(kind: AwsErrorKind): boolean {
  return kind === 'server' || kind === 'network';
}

/** True when the error should keep the task (transient), false for a permanent request error. */
export function isTransientKind(kind: AwsErrorKind): boolean {
  return kind !== 'client';
}
