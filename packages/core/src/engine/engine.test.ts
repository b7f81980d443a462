/**
 * Engine behaviour, part 1: state paths, concurrency caps and fairness, failures (part 2,
 * engine-lifecycle.test.ts: requests, generated tasks, cancel/rerun/delete, restart, loops).
 */
import { describe, expect, it } from 'vitest';
import { adhoc, independent, setup, specs } from '../../test/helpers.js';
import { BackendError } from '../errors.js';
import { parseSubmitTag } from './tags.js';

describe('engine: state paths', () => {
  it('walks pending → submitting → submitted → queued → running → completed, recording transitions', async () => {
    const { engine, store, drive, fake } = await setup({ backend: { pollsToComplete: 3 } });
    const run = adhoc(engine, specs({ id: 'a' }, { id: 'b', deps: ['a'] }));
    expect(store.summarizeRun(run.id)!.status).toBe('pending');
    await drive();
    const path = store.transitions(run.id, 'a').map((t) => `${t.from}>${t.to}`);
    expect(path).toEqual([
      'pending>submitting',
      'submitting>submitted',
      'submitted>queued',
      'queued>running',
      'running>completed',
    ]);
    expect(store.transitions(run.id, 'a').every((t) => t.at && t.reason)).toBe(true);
    const a = store.getTask(run.id, 'a')!;
    expect(a.exitCode).toBe(0);
    expect(a.jobId).toBe(fake.jobsOf('a')[0]!.jobId);
    expect(a.script).toContain('echo a');
    expect(a.startedAt).not.toBeNull();
    expect(a.finishedAt).not.toBeNull();
    expect(a.node).toBe('fake-node-1');
    expect(store.summarizeRun(run.id)!.status).toBe('completed');
    // b only submitted after a completed
    const bSubmit = fake.submitCalls.findIndex((c) => c.some((r) => r.taskId === 'b'));
    expect(fake.submitCalls[bSubmit - 1]!.some((r) => r.taskId === 'a')).toBe(true);
  });

  it('keeps the scheduler pending reason while queued', async () => {
    const { engine, store, fake } = await setup();
    fake.script('a', { kind: 'pending', reason: 'Resources' });
    const run = adhoc(engine, specs({ id: 'a' }));
    await engine.tick('fake');
    await engine.tick('fake');
    expect(store.getTask(run.id, 'a')).toMatchObject({ state: 'queued', pendingReason: 'Resources' });
    fake.release('a');
    await engine.tick('fake');
    expect(store.getTask(run.id, 'a')).toMatchObject({ state: 'completed', pendingReason: null });
  });

  it.each([
    [{ kind: 'fail', exitCode: 3 } as const, 'failed', /^exit code 3/],
    [{ kind: 'timeout' } as const, 'failed', /exceeded time limit \(1:00:00\)/],
    [{ kind: 'oom' } as const, 'failed', /out of memory \(limit 4G\)/],
    [{ kind: 'node_fail' } as const, 'failed', /node failure/],
    [{ kind: 'scheduler_cancel' } as const, 'cancelled', /cancelled by the scheduler/],
  ])('maps %o to %s with an explaining error, dependents dep_failed', async (behaviour, state, error) => {
    const { engine, store, fake, drive } = await setup();
    fake.script('a', behaviour);
    const run = adhoc(engine, specs({ id: 'a' }, { id: 'b', deps: ['a'] }));
    await drive();
    const a = store.getTask(run.id, 'a')!;
    expect(a.state).toBe(state);
    expect(a.error).toMatch(error);
    expect(store.getTask(run.id, 'b')).toMatchObject({ state: 'dep_failed', error: 'dependency "a" failed' });
    expect(fake.jobsOf('b')).toHaveLength(0);
    expect(store.summarizeRun(run.id)!.status).toBe('failed');
  });

  it('treats a job unknown for longer than the grace period as lost', async () => {
    const { engine, store, fake, clock } = await setup({ engine: { lostJobGraceMs: 60_000 } });
    fake.script('a', { kind: 'vanish' });
    const run = adhoc(engine, specs({ id: 'a' }));
    await engine.tick('fake');
    clock.advance(30_000);
    await engine.tick('fake');
    expect(store.getTask(run.id, 'a')!.state).toBe('submitted');
    clock.advance(31_000);
    await engine.tick('fake');
    clock.advance(61_000);
    await engine.tick('fake');
    const a = store.getTask(run.id, 'a')!;
    expect(a.state).toBe('failed');
    expect(a.error).toMatch(/^job lost: the scheduler has no record of job/);
  });

  it('waits for a final verdict before acting on a provisional completion', async () => {
    const { engine, store, fake } = await setup();
    fake.script('a', { kind: 'provisional', polls: 2, finalState: 'failed', exitCode: 1 });
    const run = adhoc(engine, specs({ id: 'a' }, { id: 'b', deps: ['a'] }));
    await engine.tick('fake'); // submit
    await engine.tick('fake'); // provisional completed
    expect(store.getTask(run.id, 'a')!.state).toBe('submitted');
    expect(fake.jobsOf('b')).toHaveLength(0);
    for (let i = 0; i < 4; i++) await engine.tick('fake');
    expect(store.getTask(run.id, 'a')!.state).toBe('failed');
    expect(store.getTask(run.id, 'b')!.state).toBe('dep_failed');
    expect(fake.jobsOf('b')).toHaveLength(0);
  });
});

describe('engine: concurrency caps and fairness', () => {
  it('never exceeds the backend cap and submits each wave in one call', async () => {
    const { engine, fake, drive, store } = await setup({ backend: { maxConcurrent: 5, pollsToComplete: 2 } });
    const run = adhoc(engine, independent(47));
    await drive();
    expect(fake.maxAlive).toBe(5);
    expect(fake.maxBatch).toBe(5);
    expect(fake.submittedJobs).toBe(47);
    expect(store.summarizeRun(run.id)!.counts.completed).toBe(47);
  });

  it('shares the backend cap across runs and one status call covers every run', async () => {
    const { engine, fake, drive, store } = await setup({ backend: { maxConcurrent: 6, pollsToComplete: 2 } });
    const r1 = adhoc(engine, independent(20, 'a'));
    const r2 = adhoc(engine, independent(20, 'b'));
    await engine.tick('fake');
    const first = fake.submitCalls[0]!;
    expect(first).toHaveLength(6);
    expect(first.filter((r) => r.runId === r1.id)).toHaveLength(3);
    expect(first.filter((r) => r.runId === r2.id)).toHaveLength(3);
    await engine.tick('fake');
    expect(new Set(fake.statusCalls[0]!.map((j) => j.runId))).toEqual(new Set([r1.id, r2.id]));
    await drive();
    expect(fake.maxAlive).toBeLessThanOrEqual(6);
    expect(fake.statusCalls.every((c) => c.length <= 6)).toBe(true);
    expect(store.summarizeRun(r1.id)!.status).toBe('completed');
    expect(store.summarizeRun(r2.id)!.status).toBe('completed');
  });

  it('honours the per-run cap and leaves no slot idle', async () => {
    const { engine, fake, drive, store } = await setup({
      backend: { maxConcurrent: 10, pollsToComplete: 3 },
    });
    const capped = adhoc(engine, independent(12, 'c'), { maxConcurrent: 2 });
    const free = adhoc(engine, independent(30, 'f'));
    let maxCapped = 0;
    engine.events.on('run', ({ runId, summary }) => {
      if (runId !== capped.id) return;
      const c = summary.counts;
      maxCapped = Math.max(maxCapped, c.submitting + c.submitted + c.queued + c.running);
    });
    await engine.tick('fake');
    expect(fake.submitCalls[0]!.filter((r) => r.runId === capped.id)).toHaveLength(2);
    expect(fake.submitCalls[0]!.filter((r) => r.runId === free.id)).toHaveLength(8);
    await drive();
    expect(maxCapped).toBe(2);
    expect(fake.maxAlive).toBe(10);
    expect(store.summarizeRun(capped.id)!.status).toBe('completed');
  });

  it('does not let a huge run starve a small one', async () => {
    const { engine, fake, store } = await setup({ backend: { maxConcurrent: 10, pollsToComplete: 1 } });
    const huge = adhoc(engine, independent(10_000, 'h'));
    await engine.tick('fake'); // huge takes every slot
    expect(fake.submitCalls[0]).toHaveLength(10);
    const small = adhoc(engine, independent(3, 's'));
    await engine.tick('fake'); // 10 complete; the small run gets its 3 first, the huge one the rest
    const batch = fake.submitCalls[1]!;
    expect(batch).toHaveLength(10);
    expect(batch.filter((r) => r.runId === small.id)).toHaveLength(3);
    await engine.tick('fake');
    expect(store.summarizeRun(small.id)!.status).toBe('completed');
    expect(store.summarizeRun(huge.id)!.status).toBe('running');
    await engine.cancelRun(huge.id);
  });
});

describe('engine: failures', () => {
  it('propagates dep_failed transitively while an independent branch goes on', async () => {
    const { engine, fake, drive, store } = await setup();
    fake.script('a', { kind: 'fail', exitCode: 2 });
    const run = adhoc(
      engine,
      specs(
        { id: 'a' },
        { id: 'b', deps: ['a'] },
        { id: 'c', deps: ['b'] },
        { id: 'x' },
        { id: 'y', deps: ['x'] },
      ),
    );
    await drive();
    expect(store.getTask(run.id, 'a')).toMatchObject({ state: 'failed', exitCode: 2, error: 'exit code 2' });
    expect(store.getTask(run.id, 'b')).toMatchObject({ state: 'dep_failed', error: 'dependency "a" failed' });
    expect(store.getTask(run.id, 'c')!.error).toBe('dependency "b" failed (root cause: "a")');
    expect(store.getTask(run.id, 'c')!.state).toBe('dep_failed');
    expect(store.getTask(run.id, 'y')!.state).toBe('completed');
    expect(fake.jobsOf('b').length + fake.jobsOf('c').length).toBe(0);
    expect(store.summarizeRun(run.id)!.status).toBe('failed');
  });

  it('a rejected submission fails only that task', async () => {
    const { engine, fake, drive, store } = await setup();
    fake.script('b', { kind: 'reject', error: 'invalid partition' });
    const run = adhoc(engine, specs({ id: 'a' }, { id: 'b' }, { id: 'c' }, { id: 'd', deps: ['b'] }));
    await drive();
    expect(fake.submitCalls[0]!.map((r) => r.taskId)).toEqual(['a', 'b', 'c']);
    expect(store.getTask(run.id, 'b')).toMatchObject({
      state: 'failed',
      error: 'submission failed: invalid partition',
    });
    expect(store.getTask(run.id, 'a')!.state).toBe('completed');
    expect(store.getTask(run.id, 'c')!.state).toBe('completed');
    expect(store.getTask(run.id, 'd')!.state).toBe('dep_failed');
  });

  it('transient per-task errors never fail the task: it goes back to pending and is retried with backoff', async () => {
    const { engine, fake, drive, store, clock } = await setup();
    fake.script('a', { kind: 'transient', times: 3 });
    const run = adhoc(engine, specs({ id: 'a' }, { id: 'b' }));
    await engine.tick('fake');
    expect(store.getTask(run.id, 'a')!.state).toBe('pending');
    expect(store.getTask(run.id, 'b')!.state).toBe('submitted');
    await engine.tick('fake'); // retry not due yet (no clock advance)
    expect(fake.submitCalls).toHaveLength(1);
    clock.advance(5_000);
    await drive(100, 10_000);
    const states = store.transitions(run.id, 'a').map((t) => t.to);
    expect(states).not.toContain('failed');
    expect(states.filter((s) => s === 'pending')).toHaveLength(3);
    expect(store.getTask(run.id, 'a')!.state).toBe('completed');
    expect(fake.jobsOf('a')).toHaveLength(1);
    // each attempt carries its own tag
    const tags = fake.submitCalls
      .flat()
      .filter((r) => r.taskId === 'a')
      .map((r) => r.tag);
    expect(new Set(tags).size).toBe(4);
    expect(tags.map((t) => parseSubmitTag(t)!.attempt)).toEqual([1, 2, 3, 4]);
  });

  it('a thrown transient submit error keeps the tasks and never submits twice', async () => {
    const { engine, fake, drive, store } = await setup();
    fake.failNextSubmit();
    const run = adhoc(engine, specs({ id: 'a' }, { id: 'b' }));
    await engine.tick('fake');
    expect(engine.backendState('fake')).toMatchObject({
      consecutiveErrors: 1,
      lastError: 'connection reset',
    });
    expect(store.getTask(run.id, 'a')!.state).toBe('submitting');
    await drive();
    expect(fake.findByTagsCalls).toHaveLength(1);
    expect(store.transitions(run.id).some((t) => t.to === 'failed')).toBe(false);
    expect(fake.jobsOf('a')).toHaveLength(1);
    expect(store.summarizeRun(run.id)!.status).toBe('completed');
    expect(engine.backendState('fake').consecutiveErrors).toBe(0);
  });

  it('adopts jobs created by a submit whose answer was lost', async () => {
    const { engine, fake, drive, store } = await setup();
    fake.loseNextSubmitAnswer();
    const run = adhoc(engine, specs({ id: 'a' }, { id: 'b' }));
    await engine.tick('fake');
    await engine.tick('fake');
    const a = store.getTask(run.id, 'a')!;
    expect(a.jobId).toBe(fake.jobsOf('a')[0]!.jobId);
    await drive();
    expect(fake.jobsOf('a')).toHaveLength(1);
    expect(fake.jobsOf('b')).toHaveLength(1);
    expect(store.summarizeRun(run.id)!.status).toBe('completed');
  });

  it('a failing status call counts as a backend error, never as a task failure', async () => {
    const { engine, fake, drive, store } = await setup();
    const run = adhoc(engine, specs({ id: 'a' }));
    await engine.tick('fake');
    fake.failNextStatus();
    await engine.tick('fake');
    expect(engine.backendState('fake')).toMatchObject({
      consecutiveErrors: 1,
      lastError: 'squeue timed out',
    });
    expect(store.getTask(run.id, 'a')!.state).toBe('submitted');
    await drive();
    expect(store.getTask(run.id, 'a')!.state).toBe('completed');
  });

  it('a permanent thrown submit error fails the batch with the error', async () => {
    const { engine, fake, store } = await setup();
    fake.failNextSubmit(new BackendError('sbatch: command not found', { transient: false }));
    const run = adhoc(engine, specs({ id: 'a' }));
    await engine.tick('fake');
    expect(store.getTask(run.id, 'a')).toMatchObject({
      state: 'failed',
      error: 'submission failed: sbatch: command not found',
    });
  });
});
