/**
 * `--resume` with job arrays (the default on Slurm, PBS Pro and Batch): the elements of an array
 * record their cache keys like tasks submitted alone, so a resumed run reuses them.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bashRunner } from '../../test/bash-runner.js';
import { adhoc, setup, specs } from '../../test/helpers.js';
import type { SubmitRequest } from '../backend.js';
import { placementOf } from './arrays.js';

const dir = mkdtempSync(join(tmpdir(), 'sh-resume-arrays-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** sim-0..sim-3 (one shape: one array) each write one output; agg hashes them. */
const sweep = () =>
  specs(
    ...[0, 1, 2, 3].map((i) => ({
      id: `sim-${i}`,
      command: `echo ${i}`,
      working_dir: dir,
      outputs: [`sim-${i}.out`],
    })),
    { id: 'agg', working_dir: dir, deps: ['sim-*'], inputs: ['sim-*.out'], outputs: ['agg.out'] },
  );

describe('engine: resume with job arrays', () => {
  it('array elements keep their cache keys; a resumed run reuses every task and submits nothing', async () => {
    const s = await setup({
      backend: { maxConcurrent: 100, arrays: { maxSize: 1000 } },
      engine: { outputsGraceMs: 0 },
    });
    const runner = bashRunner();
    s.fake.commandRunner = () => runner;
    // The fake runs nothing: write the outputs a job would write, when it is submitted.
    const write = (requests: SubmitRequest[]) => {
      for (const r of requests)
        for (const o of r.task.outputs ?? []) writeFileSync(join(dir, o), `${r.task.command}\n`);
    };
    const submit = s.fake.submit.bind(s.fake);
    s.fake.submit = async (requests) => {
      write(requests);
      return submit(requests);
    };
    const arrays = s.fake.arrays!;
    const submitArray = arrays.submitArray.bind(arrays);
    arrays.submitArray = async (requests, options) => {
      write(requests);
      return submitArray(requests, options);
    };

    const first = adhoc(s.engine, sweep());
    await s.drive();
    expect(s.store.summarizeRun(first.id)!.status).toBe('completed');
    expect(s.fake.arrayCalls.map((c) => c.requests.map((r) => r.taskId))).toEqual([
      ['sim-0', 'sim-1', 'sim-2', 'sim-3'],
    ]);
    for (const t of s.store.allTasks(first.id)) {
      expect(t.meta.cacheKey, t.spec.id).toMatch(/^[0-9a-f]{64}$/);
      if (t.spec.id !== 'agg') expect(placementOf(t)?.size).toBe(4);
    }

    const second = adhoc(s.engine, sweep(), { resume: true });
    await s.drive();
    expect(s.fake.arrayCalls).toHaveLength(1);
    expect(s.fake.submitCalls.flat().map((r) => r.taskId)).toEqual(['agg']);
    for (const t of s.store.allTasks(second.id))
      expect(t.meta.cached, t.spec.id).toEqual({ runId: first.id, taskId: t.spec.id, key: t.meta.cacheKey });
  });
});
