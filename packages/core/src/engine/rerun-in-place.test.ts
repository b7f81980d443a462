import { describe, expect, it } from 'vitest';
import { adhoc, setup, specs } from '../../test/helpers.js';
import type { ScriptHutError } from '../errors.js';
import { previousAttemptsOf } from './rerun-in-place.js';
import { parseSubmitTag } from './tags.js';

const chain = () => specs({ id: 'a' }, { id: 'b', deps: ['a'] }, { id: 'c', deps: ['b'] }, { id: 'd' });

describe('engine: rerun in place', () => {
  it('runs the failed tasks again under the same run id, recording both attempts', async () => {
    const { engine, fake, drive, store } = await setup();
    fake.script('b', { kind: 'fail', exitCode: 1 });
    const run = adhoc(engine, chain());
    expect(() => engine.rerunInPlace(run.id, 'failed')).toThrow(/still active/);
    await drive();
    expect(store.summarizeRun(run.id)!.status).toBe('failed');
    const firstB = store.getTask(run.id, 'b')!;
    const runsBefore = store.listRuns().total;

    fake.script('b', { kind: 'hold' });
    const again = engine.rerunInPlace(run.id, 'failed');
    expect(again.id).toBe(run.id);
    expect(store.listRuns().total).toBe(runsBefore);
    expect(engine.activeRunIds()).toEqual([run.id]);
    expect(store.allTasks(run.id).map((t) => `${t.spec.id}:${t.state}`)).toEqual([
      'a:completed',
      'b:pending',
      'c:pending',
      'd:completed',
    ]);
    expect(store.summarizeRun(run.id)!.counts).toMatchObject({ completed: 2, pending: 2, failed: 0 });
    // a second in-place rerun while this one is active is refused
    expect(() => engine.rerunInPlace(run.id, 'failed')).toThrow(
      expect.objectContaining({ code: 'conflict' }) as unknown as ScriptHutError,
    );

    await engine.tick('fake');
    fake.complete('b');
    await drive();
    expect(store.summarizeRun(run.id)!.status).toBe('completed');
    // completed tasks were not run again, b ran exactly twice, c once
    expect(fake.jobsOf('a')).toHaveLength(1);
    expect(fake.jobsOf('d')).toHaveLength(1);
    expect(fake.jobsOf('b')).toHaveLength(2);
    expect(fake.jobsOf('c')).toHaveLength(1);
    const b = store.getTask(run.id, 'b')!;
    expect(b.jobId).toBe(fake.jobsOf('b')[1]!.jobId);
    expect(b.jobId).not.toBe(firstB.jobId);
    // the new submission takes the next attempt number: never the first job's tag
    expect(parseSubmitTag(b.submitTag!)!.attempt).toBe(parseSubmitTag(firstB.submitTag!)!.attempt + 1);
    expect(b.stdoutPath).not.toBe(firstB.stdoutPath);
    expect(previousAttemptsOf(b)).toEqual([
      expect.objectContaining({ attempt: 1, state: 'failed', jobId: firstB.jobId, exitCode: 1 }),
    ]);
    const path = store.transitions(run.id, 'b').map((t) => `${t.from}>${t.to}`);
    const reset = path.indexOf('failed>pending');
    expect(reset).toBeGreaterThan(0);
    expect(path[reset - 1]).toMatch(/>failed$/); // attempt 1 ended failed
    expect(path[reset + 1]).toBe('pending>submitting'); // attempt 2 submitted
    expect(path.filter((p) => p === 'pending>submitting')).toHaveLength(2);
    expect(path.at(-1)).toMatch(/>completed$/);
    expect(
      store.transitions(run.id, 'b').find((t) => t.to === 'pending' && t.from === 'failed')!.reason,
    ).toBe('rerun in place (failed tasks)');
    expect(store.transitions(run.id, 'c').map((t) => `${t.from}>${t.to}`)).toContain('dep_failed>pending');
  });

  it('all: every task again (completed ones too); refused when every task completed and only failed asked', async () => {
    const { engine, fake, drive, store } = await setup();
    const run = adhoc(engine, chain());
    await drive();
    expect(() => engine.rerunInPlace(run.id, 'failed')).toThrow(/every task completed/);
    engine.rerunInPlace(run.id, 'all');
    expect(store.summarizeRun(run.id)!.counts.pending).toBe(4);
    // dependencies hold again: b waits for a
    await engine.tick('fake');
    expect(store.getTask(run.id, 'b')!.state).toBe('pending');
    await drive();
    expect(store.summarizeRun(run.id)!.status).toBe('completed');
    for (const id of ['a', 'b', 'c', 'd']) expect(fake.jobsOf(id)).toHaveLength(2);
  });

  it('a cancelled run runs again: its cancel request is cleared', async () => {
    const { engine, fake, drive, store } = await setup();
    fake.script('a', { kind: 'hold' });
    const run = adhoc(engine, chain());
    await engine.tick('fake');
    await engine.cancelRun(run.id);
    await drive();
    expect(store.summarizeRun(run.id)!.status).toBe('cancelled');
    engine.rerunInPlace(run.id, 'failed');
    expect(store.getRun(run.id)!.cancelRequestedAt).toBeNull();
    await engine.tick('fake');
    expect(store.getTask(run.id, 'a')!.state).toBe('submitted');
    fake.complete('a');
    await drive();
    expect(store.summarizeRun(run.id)!.status).toBe('completed');
  });

  it('refuses all in place for a run with generated tasks, and unknown runs', async () => {
    const { engine, drive, store } = await setup();
    const run = adhoc(engine, specs({ id: 'a' }));
    await drive();
    const t = store.getTask(run.id, 'a')!;
    store.updateTasks([{ runId: run.id, taskId: 'a', patch: { meta: { ...t.meta, generatedBy: 'g' } } }]);
    expect(() => engine.rerunInPlace(run.id, 'all')).toThrow(/add them twice/);
    expect(store.summarizeRun(run.id)!.status).toBe('completed');
    expect(() => engine.rerunInPlace('ffffffff', 'all')).toThrow(/not found/);
  });
});
