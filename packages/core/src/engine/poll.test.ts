/** The marker fast path (`quickStatus`) keeps what the backend reports about where and when a job ran. */
import { describe, expect, it } from 'vitest';
import { adhoc, setup, specs } from '../../test/helpers.js';
import type { JobStatus, TrackedJob } from '../backend.js';
import { FakeBackend } from '../testing/index.js';

/** A fake whose jobs leave exit markers (set by the test, keyed by tag). */
class MarkerFake extends FakeBackend {
  readonly markers = new Map<string, Omit<JobStatus, 'jobId'>>();
  quickCalls = 0;
  async quickStatus(jobs: TrackedJob[]): Promise<Map<string, JobStatus>> {
    this.quickCalls++;
    const out = new Map<string, JobStatus>();
    for (const j of jobs) {
      const m = this.markers.get(j.tag);
      if (m) out.set(j.jobId, { ...m, jobId: j.jobId });
    }
    return out;
  }
}

async function runningTask() {
  const fake = new MarkerFake({ maxConcurrent: 10, pollsToComplete: 1 });
  fake.script('a', { kind: 'hold' });
  const env = await setup({ fake });
  const run = adhoc(env.engine, specs({ id: 'a' }, { id: 'b', deps: ['a'] }));
  await env.engine.tick('fake'); // submit
  await env.engine.tick('fake'); // running (observed by the engine at its clock)
  const a = env.store.getTask(run.id, 'a')!;
  expect(a).toMatchObject({ state: 'running', node: 'fake-node-1' });
  return { ...env, fake, run, a };
}

describe('engine: marker fast path', () => {
  it('keeps node, start and end as the backend reports them', async () => {
    const { engine, store, fake, run, a } = await runningTask();
    expect(a.startedAt).toBe('2030-01-01T00:00:00.000Z');
    fake.markers.set(a.submitTag!, {
      state: 'completed',
      exitCode: 0,
      startedAt: '2029-12-31T23:59:30.000Z',
      finishedAt: '2030-01-01T00:00:01.500Z',
      node: 'node07',
      final: false,
    });
    expect(await engine.quickTick('fake')).toBe(1);
    expect(store.getTask(run.id, 'a')).toMatchObject({
      state: 'completed',
      exitCode: 0,
      startedAt: '2029-12-31T23:59:30.000Z',
      finishedAt: '2030-01-01T00:00:01.500Z',
      node: 'node07',
    });
    // The marker is final evidence: no status poll was needed, the dependent goes next.
    expect(fake.statusCount).toBe(1);
    await engine.tick('fake');
    expect(fake.jobsOf('b')).toHaveLength(1);
  });

  it('fills what the marker does not say from what the engine observed', async () => {
    const { engine, store, fake, run, a } = await runningTask();
    fake.markers.set(a.submitTag!, { state: 'failed', exitCode: 3 });
    expect(await engine.quickTick('fake')).toBe(1);
    const done = store.getTask(run.id, 'a')!;
    expect(done).toMatchObject({ state: 'failed', exitCode: 3, node: 'fake-node-1', startedAt: a.startedAt });
    expect(done.finishedAt).not.toBeNull();
    expect(store.getTask(run.id, 'b')!.state).toBe('dep_failed');
  });

  it('ignores markers of runs being cancelled and non-terminal marker states', async () => {
    const { engine, store, fake, run, a } = await runningTask();
    fake.markers.set(a.submitTag!, { state: 'running' });
    expect(await engine.quickTick('fake')).toBe(0);
    expect(store.getTask(run.id, 'a')!.state).toBe('running');
    fake.failNextCancel();
    await engine.cancelRun(run.id);
    fake.markers.set(a.submitTag!, { state: 'completed', exitCode: 0 });
    const calls = fake.quickCalls;
    expect(await engine.quickTick('fake')).toBe(0);
    expect(fake.quickCalls).toBe(calls);
    expect(store.getTask(run.id, 'a')!.state).toBe('running');
  });
});
