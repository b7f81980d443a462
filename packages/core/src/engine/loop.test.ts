import { describe, expect, it } from 'vitest';
import { BackendError } from '../errors.js';
import { FakeBackend, waitFor } from '../testing/index.js';
import { BackendLoop, type LoopWork, MAX_BACKOFF_MS, nextTickDelay } from './loop.js';
import { IllegalTransitionError } from './transitions.js';

const NOOP = { info() {}, warn() {}, error() {} };

describe('nextTickDelay', () => {
  it('healthy: the poll interval ±10%', () => {
    expect(nextTickDelay(0, 1000, () => 0)).toBe(900);
    expect(nextTickDelay(0, 1000, () => 0.5)).toBe(1000);
    expect(nextTickDelay(0, 1000, () => 1)).toBe(1100);
  });

  it('after n failed ticks: max(interval, 1 s) · 2^(n−1) ±20%, capped at 5 minutes', () => {
    expect(nextTickDelay(1, 500, () => 0.5)).toBe(1000);
    expect(nextTickDelay(3, 2000, () => 0.5)).toBe(8000);
    expect(nextTickDelay(3, 2000, () => 0)).toBe(6400);
    expect(nextTickDelay(30, 2000, () => 0.5)).toBe(MAX_BACKOFF_MS);
  });
});

function loopWith(work: Partial<LoopWork>, backend = new FakeBackend(), interval = 60_000) {
  const full: LoopWork = {
    tick: async () => false,
    quick: async () => 0,
    hasTrackedJobs: () => false,
    afterTick: () => {},
    ...work,
  };
  return new BackendLoop(backend, interval, full, () => new Date(), NOOP);
}

describe('BackendLoop', () => {
  it('idle → waiting → ticking → stopped; a pulse during a tick runs the next one at once', async () => {
    let ticks = 0;
    let release = () => {};
    const loop = loopWith({
      tick: async () => {
        ticks++;
        if (ticks === 1) await new Promise<void>((r) => (release = r));
        return false;
      },
    });
    expect(loop.phase).toBe('idle');
    loop.start();
    await waitFor(() => loop.phase === 'ticking', 5000, 'first tick');
    loop.pulse();
    release();
    // The poll interval is one minute: only the pulse can bring the second tick.
    await waitFor(() => ticks === 2, 5000, 'second tick');
    await waitFor(() => loop.phase === 'waiting', 5000, 'waiting');
    await loop.stop();
    expect(loop.phase).toBe('stopped');
    expect(ticks).toBe(2);
    loop.pulse();
    expect(ticks).toBe(2);
  });

  it('a failed tick is counted in the health; a good one resets it', async () => {
    let fail = true;
    const reports: (string | null)[] = [];
    const loop = loopWith({
      tick: async () => {
        if (fail) throw new BackendError('squeue timed out', { transient: true });
        return false;
      },
      afterTick: (_at, _ms, error) => reports.push(error),
    });
    await loop.tickNow();
    await loop.tickNow();
    expect(loop.health).toMatchObject({ consecutiveErrors: 2, lastError: 'squeue timed out' });
    fail = false;
    await loop.tickNow();
    expect(loop.health).toMatchObject({ consecutiveErrors: 0, lastError: null });
    expect(reports).toEqual(['squeue timed out', 'squeue timed out', null]);
  });

  it('an illegal transition (strict mode) makes the tick reject after the bookkeeping', async () => {
    const loop = loopWith({
      tick: async () => {
        throw new IllegalTransitionError('pending', 'completed', 'scheduler', 'test');
      },
    });
    await expect(loop.tickNow()).rejects.toThrow(IllegalTransitionError);
    expect(loop.health.consecutiveErrors).toBe(1);
  });

  it('marker checks run only while jobs are tracked, and a finished task pulses a tick', async () => {
    class Quick extends FakeBackend {
      readonly quickStatusIntervalMs = 200;
      async quickStatus() {
        return new Map();
      }
    }
    let tracked = false;
    let looked = 0;
    let quicks = 0;
    let ticks = 0;
    const loop = loopWith(
      {
        tick: async () => {
          ticks++;
          return false;
        },
        quick: async () => {
          quicks++;
          return 1;
        },
        hasTrackedJobs: () => {
          looked++;
          return tracked;
        },
      },
      new Quick(),
    );
    loop.start();
    await waitFor(() => ticks === 1, 5000, 'first tick');
    await waitFor(() => looked >= 2, 5000, 'two marker intervals with nothing tracked');
    expect(quicks).toBe(0);
    tracked = true;
    await waitFor(() => quicks >= 1 && ticks >= 2, 5000, 'marker check and the tick it pulses');
    await loop.stop();
  });
});
