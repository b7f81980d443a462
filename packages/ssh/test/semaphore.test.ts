import { describe, expect, it } from 'vitest';
import { Semaphore } from '../src/semaphore.js';

const tick = () => new Promise((r) => setTimeout(r, 1));

describe('Semaphore', () => {
  it('never lets more than max run at once, and runs everything', async () => {
    const sem = new Semaphore(3);
    let running = 0;
    let peak = 0;
    const done: number[] = [];
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        sem.run(async () => {
          running++;
          peak = Math.max(peak, running);
          await new Promise((r) => setTimeout(r, (i % 4) * 3));
          running--;
          done.push(i);
        }),
      ),
    );
    expect(peak).toBe(3);
    expect(sem.peak).toBe(3);
    expect(done.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(sem.active).toBe(0);
  });

  it('grants waiters in FIFO order and release is idempotent', async () => {
    const sem = new Semaphore(1);
    const order: string[] = [];
    const first = await sem.acquire();
    const b = sem.acquire().then((rel) => {
      order.push('b');
      return rel;
    });
    const c = sem.acquire().then((rel) => {
      order.push('c');
      return rel;
    });
    await tick();
    expect(sem.pending).toBe(2);
    first();
    first(); // double release must not free a second slot
    const relB = await b;
    await tick();
    expect(order).toEqual(['b']);
    expect(sem.active).toBe(1);
    relB();
    (await c)();
    expect(order).toEqual(['b', 'c']);
    expect(sem.active).toBe(0);
  });

  it('releases the slot when the task throws', async () => {
    const sem = new Semaphore(1);
    await expect(sem.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(sem.active).toBe(0);
  });

  it('rejects invalid sizes', () => {
    expect(() => new Semaphore(0)).toThrow(RangeError);
  });
});
