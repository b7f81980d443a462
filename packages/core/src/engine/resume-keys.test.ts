import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bashRunner } from '../../test/bash-runner.js';
import { adhoc, setup, specs } from '../../test/helpers.js';
import { INPUT_HASH_PROGRAM } from '../cache/programs.js';
import type { TaskSpec } from '../domain.js';
import { MemoryRunStore } from '../testing/index.js';
import { cacheScopeOf } from './resume.js';

const dir = mkdtempSync(join(tmpdir(), 'sh-keychosen-'));
writeFileSync(join(dir, 'in.txt'), 'input\n');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `root`, then `leaves` tasks depending on it; every task hashes one input (`in.txt`). */
function fanOut(leaves: number): TaskSpec[] {
  const list: Record<string, unknown>[] = [{ id: 'root', working_dir: dir, inputs: ['in.txt'] }];
  for (let i = 0; i < leaves; i++)
    list.push({ id: `w${i}`, working_dir: dir, deps: ['root'], inputs: ['in.txt'] });
  return specs(...list);
}

/** FakeBackend (type `local`: caching) with max concurrent 10, whose commands run in a real bash. */
async function world(store = new MemoryRunStore()) {
  const s = await setup({ store, backend: { maxConcurrent: 10 } });
  const runner = bashRunner();
  /** Patterns sent by each input-hashing command, in order. */
  const hashed: number[] = [];
  s.fake.commandRunner = () => ({
    ...runner,
    exec: async (command, options) => {
      if (command === INPUT_HASH_PROGRAM) hashed.push(((options?.stdin ?? '').split('\0').length - 1) / 3);
      return runner.exec(command, options);
    },
  });
  const submitted = () => s.fake.submitCalls.flat().map((r) => r.taskId);
  return { ...s, hashed, submitted };
}

describe('engine: cache keys of runs without resume', () => {
  it('keys only the tasks a pass submits (5,000-task fan-out, max concurrent 10): one hashing command per pass', async () => {
    const w = await world();
    const run = adhoc(w.engine, fanOut(5000));
    for (let tick = 0; tick < 6; tick++) {
      const before = { hashed: w.hashed.length, submitted: w.submitted().length };
      await w.engine.tick(w.fake.name);
      w.clock.advance(1000);
      const submittedNow = w.submitted().length - before.submitted;
      // At most ONE hashing command per pass, for exactly the tasks this pass submitted.
      expect(w.hashed.slice(before.hashed)).toEqual(submittedNow ? [submittedNow] : []);
    }
    const submitted = w.submitted();
    expect(submitted.length).toBeGreaterThan(10); // the fan-out was released, 10 at a time
    expect(Math.max(...w.hashed)).toBe(10);

    const tasks = w.store.allTasks(run.id);
    const keyed = tasks.filter((t) => typeof t.meta.cacheKey === 'string');
    expect(keyed.map((t) => t.spec.id).sort()).toEqual([...submitted].sort());
    for (const t of keyed) expect(t.meta.cacheKey).toMatch(/^[0-9a-f]{64}$/);
    expect(new Set(keyed.map((t) => t.meta.cacheKey)).size).toBe(keyed.length);
    // Thousands of ready tasks were left unkeyed (and unhashed) for later passes.
    expect(
      tasks.filter((t) => t.state === 'pending' && t.meta.cacheKey === undefined).length,
    ).toBeGreaterThan(4900);

    // The key stored with the intent is the one recorded when the task completes.
    const done = tasks.find((t) => t.spec.id === 'w0')!;
    expect(w.state(run.id, 'w0')).toBe('completed');
    const entry = w.store.findCacheEntry(cacheScopeOf(w.store.getRun(run.id)!), String(done.meta.cacheKey));
    expect(entry).toMatchObject({ runId: run.id, taskId: 'w0' });
  });

  it('a resumed run still keys every ready task, so reusable ones complete without taking a slot', async () => {
    const w = await world();
    const first = adhoc(w.engine, fanOut(30));
    await w.drive();
    expect(w.store.summarizeRun(first.id)!.status).toBe('completed');
    expect(w.submitted()).toHaveLength(31);
    expect(Math.max(...w.hashed)).toBe(10);

    const hashedBefore = w.hashed.length;
    const second = adhoc(w.engine, fanOut(30), { resume: true });
    await w.drive();
    expect(w.submitted()).toHaveLength(31); // nothing submitted again
    // root, then all 30 ready leaves in ONE command although only 10 slots exist.
    expect(w.hashed.slice(hashedBefore)).toEqual([1, 30]);
    for (const t of w.store.allTasks(second.id)) {
      expect(t).toMatchObject({ state: 'completed', jobId: null });
      expect(t.meta.cached).toMatchObject({ runId: first.id, taskId: t.spec.id });
    }
  });
});
