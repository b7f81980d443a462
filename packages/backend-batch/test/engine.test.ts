/**
 * Drives a small DAG through the real Engine (with MemoryRunStore) on the Batch backend, backed by
 * the stateful fake of Batch and CloudWatch Logs.
 */
import { Engine, MemoryRunStore } from '@scripthut/core';
import { describe, expect, it } from 'vitest';
import { harness, task } from './helpers.js';

describe('Engine on the Batch backend', () => {
  it('runs a diamond DAG to completion and propagates a failure to dependents', async () => {
    const h = harness({ default_image: 'ghcr.io/org/wf:1' });
    const store = new MemoryRunStore();
    const engine = new Engine({ store, backends: [h.backend], pollIntervalMs: 1000, autoLoop: false });
    await engine.start();
    // Jobs whose script runs `exit 2` fail with exit code 2.
    h.fake.outcome = (job) =>
      job.container?.command?.[2]?.includes('exit 2') ? { exitCode: 2 } : { exitCode: 0 };

    const run = engine.createRun({
      workflowName: 'diamond',
      backendName: 'aws-batch',
      origin: { kind: 'adhoc' },
      maxConcurrent: null,
      tasks: [
        task({ id: 'a', name: 'A', command: 'echo a' }),
        task({ id: 'b', name: 'B', command: 'echo b', deps: ['a'], partition: 'gpu-q' }),
        task({ id: 'c', name: 'C', command: 'echo c', deps: ['a'], image: 'ghcr.io/org/other:2' }),
        task({ id: 'd', name: 'D', command: 'echo d', deps: ['b', 'c'] }),
        task({ id: 'e', name: 'E', command: 'echo boom; exit 2', deps: ['a'] }),
        task({ id: 'f', name: 'F', command: 'echo f', deps: ['e'] }),
      ],
    });

    let status = engine.summary(run.id)!.status;
    for (let i = 0; i < 80 && (status === 'pending' || status === 'running'); i++) {
      await engine.tick('aws-batch');
      h.fake.tick();
      status = engine.summary(run.id)!.status;
    }
    await engine.stop();

    const tasks = new Map(store.allTasks(run.id).map((t) => [t.spec.id, t]));
    expect(Object.fromEntries([...tasks].map(([id, t]) => [id, t.state]))).toEqual({
      a: 'completed',
      b: 'completed',
      c: 'completed',
      d: 'completed',
      e: 'failed',
      f: 'dep_failed',
    });
    expect(status).toBe('failed');
    expect(tasks.get('e')!.exitCode).toBe(2);

    // Dependencies were honoured: d was submitted only after b and c had finished on Batch.
    const jobs = [...h.fake.jobs.values()];
    const byName = (id: string) => jobs.find((j) => j.jobId === tasks.get(id)!.jobId)!;
    expect(byName('d').createdAt!).toBeGreaterThanOrEqual(byName('b').stoppedAt!);
    expect(byName('d').createdAt!).toBeGreaterThanOrEqual(byName('c').stoppedAt!);
    expect(jobs).toHaveLength(5); // f never submitted
    expect(byName('b').jobQueue).toContain('job-queue/gpu-q');
    expect(byName('c').submitInput.jobDefinition).not.toBe(byName('a').submitInput.jobDefinition);

    // Logs are readable through the engine's backend.
    const log = await h.backend.readLog(
      { jobId: tasks.get('a')!.jobId, runId: run.id, taskId: 'a', path: null, stream: 'stdout', meta: {} },
      {},
    );
    expect(log.content).toContain('hello from');
  });
});
