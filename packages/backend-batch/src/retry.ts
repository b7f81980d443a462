/**
 * Throttling and outage handling for AWS API calls: error classification, exponential backoff with
 * full jitter, and a token bucket that keeps submissions under the Batch API rate limit.
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
  /** A 4xx: the request is wrong and retrying will not help. */
  | 'client';

const THROTTLE_NAMES = new Set([
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
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $fault?: string;
}

/** Classify an error thrown by an AWS SDK v3 client. */
export function classifyAwsError(err: unknown): AwsErrorKind {
  const e = (typeof err === 'object' && err !== null ? err : {}) as SdkLikeError;
  const name = e.name ?? '';
  const status = e.$metadata?.httpStatusCode;
  if (THROTTLE_NAMES.has(name) || status === 429) return 'throttle';
  if (
    name === 'CredentialsProviderError' ||
    name === 'ExpiredTokenException' ||
    name === 'TokenProviderError'
  ) {
    return 'credentials';
  }
  if (typeof status === 'number' && status >= 500) return 'server';
  if (name === 'ServerException' || e.$fault === 'server') return 'server';
  if (typeof status === 'number' && status >= 400) return 'client';
  if (name === 'TimeoutError' || name === 'AbortError' || (e.code && NETWORK_CODES.has(e.code)))
    return 'network';
  if (name === 'TypeError' && /fetch failed|socket/i.test(e.message ?? '')) return 'network';
  // No HTTP status at all: the call never got an answer.
  return status === undefined && e.$metadata === undefined ? 'network' : 'client';
}

/** True for errors worth retrying with backoff (never for 4xx request errors). */
export function isRetryable(kind: AwsErrorKind): boolean {
  return kind === 'throttle' || kind === 'server' || kind === 'network';
}

export interface RetryPolicy {
  /** Total attempts including the first (default 6). */
  maxAttempts?: number;
  /** First backoff ceiling in ms (default 200). */
  baseDelayMs?: number;
  /** Backoff cap in ms (default 20 000). */
  maxDelayMs?: number;
}

export type Sleep = (ms: number) => Promise<void>;
export const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Full-jitter backoff delay for retry number `attempt` (0-based). */
export function backoffDelay(
  attempt: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number {
  const base = policy.baseDelayMs ?? 200;
  const cap = policy.maxDelayMs ?? 20_000;
  const ceiling = Math.min(cap, base * 2 ** attempt);
  return Math.floor(random() * ceiling);
}

/**
 * Run `fn`, retrying throttling, 5xx and network errors with exponential backoff and full jitter.
 * `shouldRetry` can veto a retry (e.g. an ambiguous SubmitJob failure that must be checked first).
 * The last error is rethrown when attempts run out.
 */
export async function withRetry<T>(
  fn: () => Promise<T>,
  options: {
    policy?: RetryPolicy;
    sleep?: Sleep;
    random?: () => number;
    onRetry?: (err: unknown, kind: AwsErrorKind, attempt: number, delayMs: number) => void | Promise<void>;
  } = {},
): Promise<T> {
  const policy = options.policy ?? {};
  const max = Math.max(1, policy.maxAttempts ?? 6);
  const sleep = options.sleep ?? realSleep;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const kind = classifyAwsError(err);
      if (!isRetryable(kind) || attempt + 1 >= max) throw err;
      const delay = backoffDelay(attempt, policy, options.random);
      await options.onRetry?.(err, kind, attempt + 1, delay);
      await sleep(delay);
    }
  }
}

/**
 * A token bucket: `ratePerSecond` tokens refill per second up to `burst`. `take()` resolves when a
 * token is available, so callers queue up instead of tripping the API's rate limit.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private chain: Promise<void> = Promise.resolve();
  private readonly burst: number;

  constructor(
    private readonly ratePerSecond: number,
    options: { burst?: number; now?: () => number; sleep?: Sleep } = {},
  ) {
    if (!(ratePerSecond > 0)) throw new Error('rate must be positive');
    this.burst = Math.max(1, options.burst ?? Math.max(1, Math.floor(ratePerSecond)));
    this.now = options.now ?? (() => performance.now());
    this.sleep = options.sleep ?? realSleep;
    this.tokens = this.burst;
    this.last = this.now();
  }

  private readonly now: () => number;
  private readonly sleep: Sleep;

  /** Wait for one token. Calls are served in order. */
  take(): Promise<void> {
    const next = this.chain.then(() => this.takeOne());
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async takeOne(): Promise<void> {
    for (;;) {
      const t = this.now();
      this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.ratePerSecond);
      this.last = t;
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      await this.sleep(Math.ceil(((1 - this.tokens) / this.ratePerSecond) * 1000));
    }
  }
}
