/**
 * Job arrays through the real Engine (MemoryRunStore) on the Batch backend with `array: auto`,
 * backed by the stateful fake whose containers run their command with the local bash: a 20-task
 * fan-out is ONE SubmitJob, every task has its own child job id, log and exit code, a failing
 * element fails only its task (its dependent becomes dep_failed), and cancelling one element
 * cancels that task only.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SubmitJobCommand } from '@aws-sdk/client-batch';
import { Engine, MemoryRunStore, type TaskSpec } from '@scripthut/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Harness, harness, task } from './helpers.js';
import { runContainers } from './run-container.js';

let home: string;
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'batch-engine-arrays-'));
});
afterEach(() => rmSync(home, { recursive: true, force: true }));

const fanOut = (n: number, command: (i: number) => string): TaskSpec[] =>
  Array.from({ length: n }, (_, i) => task({ id: `s${i}`, name: `S${i}`, command: command(i) }));

async function engineOn(h: Harness, arrays: 'auto' | 'off' = 'auto') {
  const store = new MemoryRunStore();
  const engine = new Engine({
    store,
    // The engine's clock is the fake's: a retry delay passes as the fake ticks (1 s per tick).
    now: () => new Date(h.fake.now),
    backends: [h.backend],
    pollIntervalMs: 1000,
    autoLoop: false,
    arrays: { 'aws-batch': { mode: arrays, minSize: 2 } },
  });
  await engine.start();
  return { store, engine };
}

/** Ticks the engine and the fake until the run ends (bounded). */
async function drive(h: Harness, engine: Engine, runId: string, max = 80): Promise<string> {
  let status = engine.summary(runId)!.status;
  for (let i = 0; i < max && (status === 'pending' || status === 'running'); i++) {
    await engine.tick('aws-batch');
    h.fake.tick();
    status = engine.summary(runId)!.status;
  }
  return status;
}

describe('Engine + Batch job arrays', () => {
  it('a 20-task fan-out is one SubmitJob; each task has its own child id, log and exit code; one failure fails only its task', async () => {
    const h = harness({ array: 'auto', default_image: 'ghcr.io/org/wf:1' });
    h.fake.outcome = runContainers(h.fake, home);
    const { store, engine } = await engineOn(h);
    const run = engine.createRun({
      workflowName: 'sweep',
      backendName: 'aws-batch',
      origin: { kind: 'adhoc' },
      maxConcurrent: null,
      tasks: [
        ...fanOut(20, (i) => `echo "sweep element s${i}"; exit ${i === 7 ? 3 : 0}`),
        task({ id: 'after7', name: 'After7', command: 'echo after7', deps: ['s7'] }),
        task({ id: 'after3', name: 'After3', command: 'echo after3', deps: ['s3'] }),
      ],
    });
    const status = await drive(h, engine, run.id);
    await engine.stop();
    expect(status).toBe('failed');

    const submits = h.mocks.batchMock.commandCalls(SubmitJobCommand).map((c) => c.args[0].input);
    const arraysSubmitted = submits.filter((s) => s.arrayProperties);
    expect(arraysSubmitted).toHaveLength(1);
    expect(arraysSubmitted[0]!.arrayProperties).toEqual({ size: 20 });
    expect(submits).toHaveLength(2); // the array + after3 (after7 never ran)

    const tasks = new Map(store.allTasks(run.id).map((t) => [t.spec.id, t]));
    const arrayId = tasks.get('s0')!.jobId!.split(':')[0]!;
    const ids = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const t = tasks.get(`s${i}`)!;
      expect(t.jobId).toBe(`${arrayId}:${i}`);
      ids.add(t.jobId!);
      expect(t.state).toBe(i === 7 ? 'failed' : 'completed');
      expect(t.exitCode).toBe(i === 7 ? 3 : 0);
      expect(t.script).toContain(`element ${i} (AWS_BATCH_JOB_ARRAY_INDEX=${i})`);
      const log = await h.backend.readLog(
        { jobId: t.jobId!, runId: run.id, taskId: t.spec.id, path: null, stream: 'stdout', meta: t.meta },
        {},
      );
      expect(log.content).toContain(`sweep element s${i}\n`);
      expect(log.content).not.toContain(`sweep element s${(i + 1) % 20}\n`);
    }
    expect(ids.size).toBe(20);
    expect(tasks.get('after7')!.state).toBe('dep_failed');
    expect(tasks.get('after3')!.state).toBe('completed');
    // The array job itself is named after element 0's tag (findByTags finds it after a crash).
    expect(h.fake.jobs.get(arrayId)!.jobName).toBe(tasks.get('s0')!.submitTag);
  });

  it('cancelling one element cancels that task only; the others run to completion', async () => {
    const h = harness({ array: 'auto' });
    let release = false;
    h.fake.outcome = () => (release ? { exitCode: 0 } : { exitCode: 0, hold: true });
    const { store, engine } = await engineOn(h);
    const run = engine.createRun({
      workflowName: 'sweep',
      backendName: 'aws-batch',
      origin: { kind: 'adhoc' },
      maxConcurrent: null,
      tasks: fanOut(5, (i) => `echo ${i}`),
    });
    // Until every element runs.
    for (let i = 0; i < 20; i++) {
      await engine.tick('aws-batch');
      h.fake.tick();
      if (store.allTasks(run.id).every((t) => t.state === 'running')) break;
    }
    const running = store.allTasks(run.id);
    expect(running.map((t) => t.state)).toEqual(Array(5).fill('running'));
    const victim = running.find((t) => t.spec.id === 's2')!;
    await h.backend.cancel([
      {
        jobId: victim.jobId!,
        runId: run.id,
        taskId: 's2',
        tag: victim.submitTag ?? '',
        stdoutPath: null,
        stderrPath: null,
        submittedAt: null,
        lastState: 'running',
        meta: victim.meta,
      },
    ]);
    release = true;
    const status = await drive(h, engine, run.id);
    await engine.stop();
    const states = Object.fromEntries(store.allTasks(run.id).map((t) => [t.spec.id, t.state]));
    expect(states).toEqual({
      s0: 'completed',
      s1: 'completed',
      s2: 'cancelled',
      s3: 'completed',
      s4: 'completed',
    });
    expect(status).not.toBe('completed');
    expect(h.mocks.batchMock.commandCalls(SubmitJobCommand)).toHaveLength(1);
  });

  it('an array whose SubmitJob answer was lost is found by its tag and adopted element by element, never submitted twice', async () => {
    const h = harness({ array: 'auto' }, { retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 } });
    h.fake.outcome = runContainers(h.fake, home);
    // The array is created but the answer is lost, and the backend's own lookup fails too: the
    // engine keeps the tasks `submitting` and looks the array up by its tag at the next tick.
    h.fake.failNext('SubmitJob', 1, 'apply-then-500');
    h.fake.failNext('ListJobs', 1);
    const { store, engine } = await engineOn(h);
    const run = engine.createRun({
      workflowName: 'sweep',
      backendName: 'aws-batch',
      origin: { kind: 'adhoc' },
      maxConcurrent: null,
      tasks: fanOut(6, (i) => `echo adopted ${i}`),
    });
    await engine.tick('aws-batch');
    expect(store.allTasks(run.id).map((t) => t.state)).toEqual(Array(6).fill('submitting'));
    expect(await drive(h, engine, run.id)).toBe('completed');
    await engine.stop();
    expect(h.mocks.batchMock.commandCalls(SubmitJobCommand)).toHaveLength(1);
    const arrayId = [...h.fake.jobs.values()].find((j) => j.arrayProperties?.size)!.jobId!;
    const tasks = store.allTasks(run.id).sort((a, b) => a.spec.id.localeCompare(b.spec.id));
    expect(tasks.map((t) => t.jobId)).toEqual([0, 1, 2, 3, 4, 5].map((i) => `${arrayId}:${i}`));
    expect(tasks.map((t) => t.exitCode)).toEqual(Array(6).fill(0));
  });

  it('a fan-out too large for one set of container overrides is regrouped into arrays that fit', async () => {
    const h = harness({ array: 'auto', max_concurrent: 1000 });
    const { store, engine } = await engineOn(h);
    const run = engine.createRun({
      workflowName: 'sweep',
      backendName: 'aws-batch',
      origin: { kind: 'adhoc' },
      maxConcurrent: null,
      tasks: fanOut(600, (i) => `python run.py --seed ${i} --out results/${i}.json`),
    });
    expect(await drive(h, engine, run.id, 200)).toBe('completed');
    await engine.stop();
    const arrays = h.mocks.batchMock.commandCalls(SubmitJobCommand).map((c) => c.args[0].input);
    // No single jobs, no child refused by ECS, and far fewer submissions than tasks.
    expect(arrays.every((a) => (a.arrayProperties?.size ?? 0) >= 2)).toBe(true);
    expect(arrays.reduce((n, a) => n + a.arrayProperties!.size!, 0)).toBe(600);
    // The tasks of the group that did not fit come back together (one retry delay per array) and
    // are regrouped into arrays within the lowered limit.
    expect(arrays.length).toBeLessThanOrEqual(10);
    const limit = await h.backend.arrays!.maxSize();
    expect(limit).toBeLessThan(600);
    expect(arrays.every((a) => a.arrayProperties!.size! <= limit)).toBe(true);
    expect(arrays).toHaveLength(Math.ceil(600 / limit)); // one regroup, all at once
    expect([...h.fake.jobs.values()].some((j) => j.statusReason?.includes('Container Overrides'))).toBe(
      false,
    );
    expect(new Set(store.allTasks(run.id).map((t) => t.jobId)).size).toBe(600);
  });

  it('array unset: one job per task, exactly as before', async () => {
    const h = harness({ default_image: 'ghcr.io/org/wf:1' });
    expect(h.backend.arrays).toBeUndefined();
    h.fake.outcome = runContainers(h.fake, home);
    const { store, engine } = await engineOn(h);
    const run = engine.createRun({
      workflowName: 'sweep',
      backendName: 'aws-batch',
      origin: { kind: 'adhoc' },
      maxConcurrent: null,
      tasks: fanOut(4, (i) => `echo ${i}`),
    });
    expect(await drive(h, engine, run.id)).toBe('completed');
    await engine.stop();
    const submits = h.mocks.batchMock.commandCalls(SubmitJobCommand).map((c) => c.args[0].input);
    expect(submits).toHaveLength(4);
    expect(submits.every((s) => s.arrayProperties === undefined)).toBe(true);
    expect(store.allTasks(run.id).every((t) => !t.jobId!.includes(':'))).toBe(true);
  });
});
