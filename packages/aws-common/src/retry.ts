/** Retries of AWS API calls with exponential backoff and full jitter. */
import {
  type AwsErrorKind,
  type ClassifyOptions,
  classifyAwsError,
  isAmbiguous,
  isRetryable,
} from './errors.js';

/** Retry tuning; every field has a default. */
export interface RetryPolicy {
  /** Total attempts including the first (default 6). */
  maxAttempts?: number;
  /** First backoff ceiling in ms (default 200). */
  baseDelayMs?: number;
  /** Backoff cap in ms (default 20 000). */
  maxDelayMs?: number;
}

/** Waits `ms` milliseconds (tests pass a fake). */
export type Sleep = (ms: number) => Promise<void>;
/** The real {@link Sleep}: a timer. */
export const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Full-jitter backoff delay for retry number `attempt` (0-based): uniform in [0, min(cap, base·2^attempt)). */
export function backoffDelay(
  attempt: number,
  policy: RetryPolicy = {},
  random: () => number = Math.random,
): number {
  const base = policy.baseDelayMs ?? 200;
  const cap = policy.maxDelayMs ?? 20_000;
  const ceiling = Math.min(cap, base * 2 ** attempt);
  return Math.floor(random() * ceiling);
}

/** Options of {@link withRetry}. */
export interface RetryOptions<T = unknown> {
  policy?: RetryPolicy;
  sleep?: Sleep;
  random?: () => number;
  /** Passed to {@link classifyAwsError} (e.g. EC2's capacity errors, which are not retried). */
  classify?: ClassifyOptions;
  /**
   * Called after an ambiguous failure (`server` or `network`: the request may have taken effect)
   * before retrying, and after the last attempt: a value it returns is taken as the result (e.g.
   * the job a lost SubmitJob answer did create). What it throws is ignored.
   */
  recover?: (err: unknown, kind: AwsErrorKind) => Promise<T | undefined>;
  /** Awaited before every attempt (e.g. a rate limiter's `take`). */
  before?: () => Promise<void>;
  /** Called before each wait (attempt is the 1-based number of the retry). */
  onRetry?: (err: unknown, kind: AwsErrorKind, attempt: number, delayMs: number) => void | Promise<void>;
}

/**
 * Run `fn`, retrying throttling, 5xx and network errors with exponential backoff and full jitter.
 * The last error is rethrown when attempts run out; other errors are rethrown at once. After an
 * ambiguous failure `recover` (when given) looks whether the request took effect after all.
 *
 * @example
 * ```ts
 * const out = await withRetry(() => batch.send(new DescribeJobsCommand({ jobs })), { policy: { maxAttempts: 4 } });
 * ```
 */
export async function withRetry<T>(fn: () => Promise<T>, options: RetryOptions<T> = {}): Promise<T> {
  const policy = options.policy ?? {};
  const max = Math.max(1, policy.maxAttempts ?? 6);
  const sleep = options.sleep ?? realSleep;
  for (let attempt = 0; ; attempt++) {
    try {
      await options.before?.();
      return await fn();
    } catch (err) {
      const kind = classifyAwsError(err, options.classify);
      if (options.recover && isAmbiguous(kind)) {
        const found = await options.recover(err, kind).catch(() => undefined);
        if (found !== undefined) return found;
      }
      if (!isRetryable(kind) || attempt + 1 >= max) throw err;
      const delay = backoffDelay(attempt, policy, options.random);
      await options.onRetry?.(err, kind, attempt + 1, delay);
      await sleep(delay);
    }
  }
}
