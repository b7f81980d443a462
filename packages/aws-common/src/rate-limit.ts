/** Client-side rate limiting of AWS calls (e.g. SubmitJob's 50 TPS account limit). */
import { realSleep, type Sleep } from './retry.js';

/**
 * A token bucket: `ratePerSecond` tokens refill per second up to `burst`. `take()` resolves when a
 * token is available, so callers queue up instead of tripping the API's rate limit.
 *
 * @example
 * ```ts
 * const bucket = new TokenBucket(20); // SubmitJob allows 50/s per account: stay well below
 * await aws.call('SubmitJob', () => batch.send(new SubmitJobCommand(input)), { before: () => bucket.take() });
 * ```
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
