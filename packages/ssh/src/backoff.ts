/** Exponential backoff settings. */
export interface BackoffOptions {
  /** Delay cap of the first retry (attempt 0). */
  initialMs: number;
  /** Upper bound of any delay. */
  maxMs: number;
}

/** Defaults used for reconnects: 500 ms, capped at 60 s. */
export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 60_000 };

/** The cap for `attempt` (0-based): `min(maxMs, initialMs * 2^attempt)`. */
export function backoffCeiling(attempt: number, options: BackoffOptions = DEFAULT_BACKOFF): number {
  const exp = Math.min(Math.max(0, Math.floor(attempt)), 60);
  return Math.min(options.maxMs, options.initialMs * 2 ** exp);
}

/**
 * "Full jitter" backoff: a uniformly random delay in `[0, ceiling)` for the given 0-based attempt.
 *
 * @example
 * ```ts
 * backoffDelay(3, { initialMs: 500, maxMs: 60_000 }) // somewhere in [0, 4000)
 * ```
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions = DEFAULT_BACKOFF,
  random: () => number = Math.random,
): number {
  return Math.floor(random() * backoffCeiling(attempt, options));
}
