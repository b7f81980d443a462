import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffCeiling, backoffDelay, DEFAULT_BACKOFF } from '../src/backoff.js';

describe('backoff', () => {
  it('doubles from 500 ms and caps at 60 s by default', () => {
    expect([0, 1, 2, 3, 6, 7, 50, 1000].map((a) => backoffCeiling(a))).toEqual([
      500, 1000, 2000, 4000, 32_000, 60_000, 60_000, 60_000,
    ]);
    expect(DEFAULT_BACKOFF).toEqual({ initialMs: 500, maxMs: 60_000 });
  });

  it('full jitter: uniformly within [0, ceiling)', () => {
    const opts = { initialMs: 100, maxMs: 1000 };
    expect(backoffDelay(2, opts, () => 0)).toBe(0);
    expect(backoffDelay(2, opts, () => 0.5)).toBe(200);
    expect(backoffDelay(2, opts, () => 0.999999)).toBe(399);
    expect(backoffDelay(10, opts, () => 0.5)).toBe(500);
  });

  it('never exceeds the cap or goes negative (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -5, max: 10_000 }),
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, initialMs, maxMs, r) => {
          const d = backoffDelay(attempt, { initialMs, maxMs }, () => r);
          return d >= 0 && d <= Math.min(maxMs, initialMs * 2 ** Math.max(0, Math.min(attempt, 60)));
        },
      ),
    );
  });
});
