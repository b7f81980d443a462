/**
 * A FIFO counting semaphore.
 *
 * @example
 * ```ts
 * const sem = new Semaphore(8);
 * const release = await sem.acquire();
 * try { await work() } finally { release() }
 * ```
 */
export class Semaphore {
  private readonly waiters: Array<() => void> = [];
  private inUse = 0;
  private peakInUse = 0;

  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 1)
      throw new RangeError(`semaphore size must be a positive integer, got ${max}`);
  }

  /** Slots currently held. */
  get active(): number {
    return this.inUse;
  }

  /** Callers waiting for a slot. */
  get pending(): number {
    return this.waiters.length;
  }

  /** Highest number of slots ever held at once. */
  get peak(): number {
    return this.peakInUse;
  }

  /** Waits for a slot; resolves to a release function (idempotent). */
  acquire(): Promise<() => void> {
    return new Promise((resolve) => {
      const grant = () => {
        this.inUse++;
        if (this.inUse > this.peakInUse) this.peakInUse = this.inUse;
        let released = false;
        resolve(() => {
          if (released) return;
          released = true;
          this.inUse--;
          const next = this.waiters.shift();
          if (next) next();
        });
      };
      if (this.inUse < this.max) grant();
      else this.waiters.push(grant);
    });
  }

  /** Runs `fn` while holding a slot. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await fn();
    } finally {
      release();
    }
  }
}
