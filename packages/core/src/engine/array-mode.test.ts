/**
 * The per-run array mode (a workflow's `array: auto | off`, stored as `run.arrayMode`): it wins
 * over the backend's mode in both directions, survives a restart (it is part of the stored run),
 * and is kept by a rerun.
 */
import { describe, expect, it } from 'vitest';
import { adhoc, setup, specs } from '../../test/helpers.js';
import { FakeBackend } from '../testing/fake-backend.js';
import { arrayLimit, runArrayMode } from './arrays.js';

const fan = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}` }));
const ids = (calls: { taskId: string }[][]) => calls.map((c) => c.map((r) => r.taskId));

describe('runArrayMode and arrayLimit', () => {
  it('the run decides when set, else the backend, else auto', async () => {
    expect(runArrayMode({}, {})).toBe('auto');
    expect(runArrayMode({}, { mode: 'off' })).toBe('off');
    expect(runArrayMode({ arrayMode: 'auto' }, { mode: 'off' })).toBe('auto');
    expect(runArrayMode({ arrayMode: 'off' }, { mode: 'auto' })).toBe('off');
    const fake = new FakeBackend({ arrays: { maxSize: 50 } });
    expect(await arrayLimit(fake, { mode: 'off' })).toBeNull();
    expect(await arrayLimit(fake, { mode: 'off' }, [{}, { arrayMode: 'auto' }])).toBe(50);
    expect(await arrayLimit(fake, {}, [{ arrayMode: 'off' }])).toBeNull();
    expect(await arrayLimit(new FakeBackend({}), {}, [{ arrayMode: 'auto' }])).toBeNull();
  });
});

describe('engine: a run’s own array mode', () => {
  it('backend auto: a run with arrayMode off goes one job per task, in the same tick as an array of another run', async () => {
    const { engine, store, fake, drive } = await setup({
      backend: { maxConcurrent: 100, arrays: { maxSize: 1000 } },
    });
    const off = adhoc(engine, specs(...fan('o', 4)), { arrayMode: 'off' });
    const auto = adhoc(engine, specs(...fan('a', 4)));
    expect(store.getRun(off.id)!.arrayMode).toBe('off');
    expect(store.getRun(auto.id)!.arrayMode).toBeUndefined();
    await engine.tick('fake');
    expect(fake.arrayCalls.map((c) => c.requests.map((r) => r.taskId))).toEqual([['a0', 'a1', 'a2', 'a3']]);
    expect(ids(fake.submitCalls)).toEqual([['o0', 'o1', 'o2', 'o3']]);
    expect(store.allTasks(off.id).every((t) => t.meta.array === undefined)).toBe(true);
    await drive();
    expect(store.summarizeRun(off.id)!.status).toBe('completed');
    expect(store.summarizeRun(auto.id)!.status).toBe('completed');
  });

  it('backend off: a run with arrayMode auto is grouped, a run without one is not', async () => {
    const { engine, fake } = await setup({
      backend: { maxConcurrent: 100, arrays: { maxSize: 1000 } },
      engine: { arrays: { fake: { mode: 'off', minSize: 3 } } },
    });
    adhoc(engine, specs(...fan('a', 5)), { arrayMode: 'auto' });
    adhoc(engine, specs(...fan('u', 3)));
    await engine.tick('fake');
    expect(fake.arrayCalls.map((c) => c.requests.map((r) => r.taskId))).toEqual([
      ['a0', 'a1', 'a2', 'a3', 'a4'],
    ]);
    expect(ids(fake.submitCalls)).toEqual([['u0', 'u1', 'u2']]);
  });

  it('the mode is part of the stored run: a restarted engine and a rerun keep it', async () => {
    const first = await setup({ backend: { maxConcurrent: 100, arrays: { maxSize: 1000 } } });
    const run = adhoc(first.engine, specs(...fan('t', 3)), { arrayMode: 'off' });
    await first.engine.stop();
    // A new engine (a restart) on the same store, the backend in its default mode (auto).
    const fake = new FakeBackend({ maxConcurrent: 100, pollsToComplete: 1, arrays: { maxSize: 1000 } });
    const again = await setup({ store: first.store, fake });
    await again.engine.tick('fake');
    expect(fake.arrayCalls).toHaveLength(0);
    expect(ids(fake.submitCalls)).toEqual([['t0', 't1', 't2']]);
    await again.drive();
    const rerun = again.engine.rerun(run.id, 'all');
    expect(rerun.arrayMode).toBe('off');
    await again.engine.tick('fake');
    expect(fake.arrayCalls).toHaveLength(0);
    expect(ids(fake.submitCalls).at(-1)).toEqual(['t0', 't1', 't2']);
  });

  it('refuses an array mode other than auto and off', async () => {
    const { engine } = await setup({});
    expect(() => adhoc(engine, specs({ id: 'x' }), { arrayMode: 'sometimes' as unknown as 'auto' })).toThrow(
      /arrayMode must be "auto", "off" or absent/,
    );
  });
});
