/**
 * A token bucket that keeps submissions under the Batch API rate limit. (Error classification and
 * retries with backoff live in `@scripthut/aws-common`.)
 */
import { realSleep, type Sleep } from '@scripthut/aws-common';

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
