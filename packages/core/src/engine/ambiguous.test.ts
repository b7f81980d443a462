/**
 * Ambiguous submissions (the scheduler may have created a job although the answer says otherwise):
 * the task stays `submitting`, is looked up by tag every tick (one batched findByTags), adopted when
 * its job appears, and submitted again — once, with a new tag — only after the backend's
 * `submitRetryWindowMs` has passed without a job.
 */
import { describe, expect, it } from 'vitest';
import { adhoc, setup, specs } from '../../test/helpers.js';
import { FakeBackend, MemoryRunStore } from '../testing/index.js';
import { parseSubmitTag } from './tags.js';

const WINDOW = 120_000;

function submittedTags(fake: FakeBackend, taskId: string): string[] {
  return fake.submitCalls
    .flat()
    .filter((r) => r.taskId === taskId)
    .map((r) => r.tag);
}

describe('engine: ambiguous submissions', () => {
  it('adopts a job that appears late inside the window: one job, never resubmitted', async () => {
    const { engine, store, fake, clock, drive } = await setup({ backend: { submitRetryWindowMs: WINDOW } });
    fake.script('a', { kind: 'ambiguous', job: 'later' });
    const run = adhoc(engine, specs({ id: 'a' }, { id: 'b', deps: ['a'] }));
    await engine.tick('fake');
    const tag = store.getTask(run.id, 'a')!.submitTag!;
    expect(store.getTask(run.id, 'a')).toMatchObject({ state: 'submitting', jobId: null });
    expect(store.getTask(run.id, 'a')!.error).toMatch(
      /^ambiguous submission \(Socket timed out.*\): looking for a job with tag/,
    );
    for (let i = 0; i < 3; i++) {
      clock.advance(30_000);
      await engine.tick('fake');
    }
    // One lookup per tick, all of them for the same tag; no second submission.
    expect(fake.findByTagsCalls).toEqual([[tag], [tag], [tag]]);
    expect(submittedTags(fake, 'a')).toEqual([tag]);
    expect(store.getTask(run.id, 'a')!.state).toBe('submitting');
    expect(engine.summary(run.id)!.status).toBe('running');

    fake.reveal('a');
    await engine.tick('fake');
    const job = fake.jobsOf('a')[0]!;
    // Adopted at the start of the tick, then polled in the same tick.
    expect(store.getTask(run.id, 'a')).toMatchObject({ jobId: job.jobId, error: null });
    const adopted = store.transitions(run.id, 'a')[1]!;
    expect(adopted).toMatchObject({ from: 'submitting', to: 'submitted' });
    expect(adopted.reason).toBe(`adopted job ${job.jobId} found by tag ${tag}`);
    await drive();
    expect(fake.jobsOf('a')).toHaveLength(1);
    expect(submittedTags(fake, 'a')).toEqual([tag]);
    expect(store.summarizeRun(run.id)!.status).toBe('completed');
  });

  it('submits again once, with a new tag, only after the window has passed without a job', async () => {
    const { engine, store, fake, clock, drive } = await setup({ backend: { submitRetryWindowMs: WINDOW } });
    fake.script('a', { kind: 'ambiguous', job: 'never' });
    const run = adhoc(engine, specs({ id: 'a' }));
    await engine.tick('fake');
    for (const step of [60_000, 59_000]) {
      clock.advance(step);
      await engine.tick('fake');
      expect(store.getTask(run.id, 'a')!.state).toBe('submitting');
      expect(fake.submitCalls).toHaveLength(1);
    }
    clock.advance(2_000); // 121 s after the ambiguous answer: this lookup gives up, the same tick resubmits
    await engine.tick('fake');
    const tags = submittedTags(fake, 'a');
    expect(tags.map((t) => parseSubmitTag(t)!.attempt)).toEqual([1, 2]);
    expect(store.getTask(run.id, 'a')).toMatchObject({ state: 'submitted', submitTag: tags[1] });
    const path = store.transitions(run.id, 'a').map((t) => `${t.from}>${t.to}`);
    expect(path).toEqual([
      'pending>submitting',
      'submitting>pending',
      'pending>submitting',
      'submitting>submitted',
    ]);
    expect(store.transitions(run.id, 'a')[1]!.reason).toBe(
      `no job found with tag ${tags[0]} within 120 s: not submitted`,
    );
    await drive();
    expect(submittedTags(fake, 'a')).toHaveLength(2);
    expect(fake.jobsOf('a')).toHaveLength(1);
    expect(store.summarizeRun(run.id)!.status).toBe('completed');
  });

  it('cancel while ambiguous: a job that appears is adopted and cancelled; without one the task is cancelled after the window, never resubmitted', async () => {
    const { engine, store, fake, clock } = await setup({ backend: { submitRetryWindowMs: WINDOW } });
    fake.script('a', { kind: 'ambiguous', job: 'later' });
    fake.script('c', { kind: 'ambiguous', job: 'never' });
    const run = adhoc(engine, specs({ id: 'a' }, { id: 'c' }, { id: 'd', deps: ['a'] }));
    await engine.tick('fake');
    const summary = await engine.cancelRun(run.id);
    // The jobs may exist: the run is not cancelled until both are settled.
    expect(summary.status).toBe('running');
    expect(summary.counts).toMatchObject({ submitting: 2, cancelled: 1 });

    fake.reveal('a');
    clock.advance(10_000);
    await engine.tick('fake');
    expect(store.getTask(run.id, 'a')).toMatchObject({
      state: 'cancelled',
      jobId: fake.jobsOf('a')[0]!.jobId,
    });
    expect(fake.jobsOf('a')[0]!.state).toBe('cancelled');
    expect(fake.cancelCalls.flat().map((j) => j.taskId)).toEqual(['a']);
    expect(store.getTask(run.id, 'c')!.state).toBe('submitting');

    clock.advance(WINDOW);
    await engine.tick('fake');
    expect(store.getTask(run.id, 'c')).toMatchObject({ state: 'cancelled', jobId: null });
    expect(store.transitions(run.id, 'c').at(-1)!.reason).toMatch(/^no job found with tag \w+ within 120 s/);
    expect(fake.submitCalls).toHaveLength(1);
    expect(store.summarizeRun(run.id)!.status).toBe('cancelled');
    expect(engine.activeRunIds()).toEqual([]);
  });

  it('a submit call that throws: the whole batch is looked up with one call per tick and resubmitted once after the window', async () => {
    const { engine, store, fake, clock, drive } = await setup({ backend: { submitRetryWindowMs: 60_000 } });
    fake.failNextSubmit();
    const run = adhoc(engine, specs({ id: 'a' }, { id: 'b' }));
    await engine.tick('fake');
    expect(engine.backendState('fake').consecutiveErrors).toBe(1);
    clock.advance(30_000);
    await engine.tick('fake');
    expect(fake.findByTagsCalls).toHaveLength(1);
    expect(fake.findByTagsCalls[0]).toHaveLength(2);
    expect(store.summarizeRun(run.id)!.counts.submitting).toBe(2);
    expect(fake.submitCalls).toHaveLength(1);
    clock.advance(31_000);
    await engine.tick('fake');
    expect(fake.submitCalls).toHaveLength(2);
    await drive();
    expect(fake.jobsOf('a')).toHaveLength(1);
    expect(fake.jobsOf('b')).toHaveLength(1);
    expect(store.summarizeRun(run.id)!.status).toBe('completed');
  });

  it('after a restart, a task left submitting is looked up until the window has passed since the restart', async () => {
    const store = new MemoryRunStore();
    const fake = new FakeBackend({ maxConcurrent: 10, pollsToComplete: 1, submitRetryWindowMs: 60_000 });
    const first = await setup({ store, fake });
    const run = adhoc(first.engine, specs({ id: 'a' }));
    await first.engine.stop();
    const tag = `sh${run.id}01`;
    store.updateTasks([
      {
        runId: run.id,
        taskId: 'a',
        patch: { submitTag: tag },
        transition: { to: 'submitting', at: '2020-01-01T00:00:00.000Z', reason: 'x' },
      },
    ]);
    const second = await setup({ store, fake });
    expect(fake.findByTagsCalls).toEqual([[tag]]);
    expect(store.getTask(run.id, 'a')!.state).toBe('submitting');
    second.clock.advance(59_000);
    await second.engine.tick('fake');
    expect(fake.submitCalls).toHaveLength(0);
    second.clock.advance(2_000);
    await second.engine.tick('fake');
    expect(fake.findByTagsCalls).toHaveLength(3);
    expect(fake.submitCalls.flat().map((r) => parseSubmitTag(r.tag)!.attempt)).toEqual([2]);
    await second.drive();
    expect(fake.jobsOf('a')).toHaveLength(1);
    expect(store.summarizeRun(run.id)!.status).toBe('completed');
  });

  it('a failing lookup never resubmits, even after the window', async () => {
    const { engine, store, fake, clock } = await setup({ backend: { submitRetryWindowMs: 10_000 } });
    fake.script('a', { kind: 'ambiguous', job: 'never' });
    const run = adhoc(engine, specs({ id: 'a' }));
    await engine.tick('fake');
    clock.advance(20_000);
    fake.failNextFindByTags();
    await engine.tick('fake');
    expect(engine.backendState('fake')).toMatchObject({ consecutiveErrors: 1, lastError: 'ssh down' });
    expect(store.getTask(run.id, 'a')!.state).toBe('submitting');
    expect(fake.submitCalls).toHaveLength(1);
    await engine.tick('fake');
    expect(fake.submitCalls).toHaveLength(2);
    expect(store.getTask(run.id, 'a')!.state).toBe('submitted');
  });
});
