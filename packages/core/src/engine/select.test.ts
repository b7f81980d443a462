import { describe, expect, it } from 'vitest';
import { allocateSlots } from './select.js';

const d = (active: number, room: number, createdAt: string) => ({ active, room, createdAt });

describe('allocateSlots (fair share)', () => {
  it('gives a single run what fits, within the free slots and its room', () => {
    expect(allocateSlots(5, [d(0, 3, 'a')])).toEqual([{ index: 0, slots: 3 }]);
    expect(allocateSlots(5, [d(0, 30, 'a')])).toEqual([{ index: 0, slots: 5 }]);
    expect(allocateSlots(0, [d(0, 30, 'a')])).toEqual([{ index: 0, slots: 0 }]);
  });

  it('splits evenly between equal runs, the older first on ties', () => {
    expect(allocateSlots(5, [d(0, 20, 'b'), d(0, 20, 'a')])).toEqual([
      { index: 1, slots: 3 },
      { index: 0, slots: 2 },
    ]);
  });

  it('fills the run with the fewest active tasks first (a huge run cannot starve a small one)', () => {
    const out = allocateSlots(10, [d(10, 9990, 'a'), d(0, 3, 'b')]);
    expect(out).toEqual([
      { index: 1, slots: 3 },
      { index: 0, slots: 7 },
    ]);
  });

  it('never leaves a slot idle while a run has room, never exceeds a room', () => {
    const out = allocateSlots(10, [d(0, 2, 'a'), d(0, 1, 'b'), d(0, 50, 'c')]);
    const byIndex = Object.fromEntries(out.map((o) => [o.index, o.slots]));
    expect(byIndex).toEqual({ 0: 2, 1: 1, 2: 7 });
    expect(out.reduce((n, o) => n + o.slots, 0)).toBe(10);
  });

  it('balances active + allocated across runs', () => {
    // In flight after allocation: a 4 + 0, b 0 + 4, c 1 + 2.
    expect(allocateSlots(6, [d(4, 10, 'a'), d(0, 10, 'b'), d(1, 10, 'c')])).toEqual([
      { index: 1, slots: 4 },
      { index: 2, slots: 2 },
      { index: 0, slots: 0 },
    ]);
  });
});
