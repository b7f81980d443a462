/**
 * Engine behaviour, part 2: what a run's requests carry, generated tasks, cancel/rerun/delete,
 * restart and the timer loops (part 1, engine.test.ts: state paths, caps and fairness, failures).
 */
import { describe, expect, it } from 'vitest';
import { adhoc, independent, setup, specs } from '../../test/helpers.js';
import type { TaskState } from '../domain.js';
import { ScriptHutError } from '../errors.js';
import { FakeBackend, MemoryRunStore, waitFor } from '../testing/index.js';
import { Engine } from './engine.js';
import { parseSubmitTag } from './tags.js';

describe('engine: requests', () => {
  it('resolves working dirs, log paths and the environment with SCRIPTHUT_* last', async () => {
    const { engine, fake, store } = await setup();
    const run = engine.createRun({
      workflowName: 'src/my wf',
      backendName: 'fake',
      origin: { kind: 'source', source: 'src', file: 'my wf.json' },
      tasks: specs(
        { id: 'home', environment: 'env1', env_vars: { DATA: '/task' } },
        { id: 'rel', working_dir: 'sub/dir' },
        { id: 'abs', working_dir: '/abs' },
        { id: 'tilde', working_dir: '~/x', output_file: '/logs/o.txt' },
        { id: 'we/ird id' },
      ),
      maxConcurrent: null,
      baseDir: '/clone/abc',
      git: { repo: 'git@x:y.git', branch: 'main', sha: 'f'.repeat(40) },
      environments: {
        env1: {
          variables: { DATA: '/env', OTHER: '1', SCRIPTHUT_RUN_ID: 'evil' },
          extraInit: 'module load x',
        },
      },
    });
    expect(run.logDir).toBe('~/.cache/scripthut/logs/src__my_wf');
    expect(run.id).toMatch(/^[0-9a-f]{8}$/);
    await engine.tick('fake');
    const reqs = new Map(fake.submitCalls[0]!.map((r) => [r.taskId, r]));
    expect(reqs.get('home')!.workingDir).toBe('/clone/abc');
    expect(reqs.get('rel')!.workingDir).toBe('/clone/abc/sub/dir');
    expect(reqs.get('abs')!.workingDir).toBe('/abs');
    expect(reqs.get('tilde')!.workingDir).toBe('~/x');
    const home = reqs.get('home')!;
    expect(home.env).toMatchObject({
      DATA: '/task',
      OTHER: '1',
      SCRIPTHUT_RUN_ID: run.id,
      SCRIPTHUT_WORKFLOW: 'src/my wf',
      SCRIPTHUT_CREATED_AT: run.createdAt,
      SCRIPTHUT_GIT_REPO: 'git@x:y.git',
      SCRIPTHUT_GIT_BRANCH: 'main',
      SCRIPTHUT_GIT_SHA: 'f'.repeat(40),
    });
    expect(home.extraInit).toBe('module load x');
    expect(home.stdoutPath).toBe(`~/.cache/scripthut/logs/src__my_wf/scripthut_${run.id}_home.out`);
    expect(home.stderrPath).toBe(`~/.cache/scripthut/logs/src__my_wf/scripthut_${run.id}_home.err`);
    expect(reqs.get('tilde')!.stdoutPath).toBe('/logs/o.txt');
    expect(reqs.get('we/ird id')!.stdoutPath).toBe(
      `~/.cache/scripthut/logs/src__my_wf/scripthut_${run.id}_we_ird_id_4.out`,
    );
    for (const r of reqs.values()) {
      expect(r.tag.length).toBeLessThanOrEqual(15);
      expect(r.tag).toMatch(/^[a-z0-9]+$/);
      expect(parseSubmitTag(r.tag)).toMatchObject({ runId: run.id, attempt: 1 });
    }
    expect(store.getTask(run.id, 'home')!.script).toContain('export SCRIPTHUT_RUN_ID=');
    expect(store.getTask(run.id, 'home')!.script).not.toContain('evil');
  });

  it('rejects invalid input at createRun', async () => {
    const { engine } = await setup();
    expect(() => adhoc(engine, specs({ id: 'a' }), { backendName: 'nope' })).toThrow(/not configured/);
    const [a, b] = specs({ id: 'a' }, { id: 'b' });
    a!.deps = ['b'];
    b!.deps = ['a'];
    expect(() => adhoc(engine, [a!, b!])).toThrow(/circular dependency detected: a -> b -> a/);
    expect(() => adhoc(engine, specs({ id: 'a' }), { maxConcurrent: 0 })).toThrow(/maxConcurrent/);
  });
});

describe('engine: generates_source', () => {
  const generated = JSON.stringify({
    tasks: [
      { id: 'sim.1', name: 's1', command: 'x', deps: ['plan'] },
      { id: 'sim.2', name: 's2', command: 'x', deps: ['plan'], working_dir: 'sims' },
      { id: 'agg', name: 'agg', command: 'x', deps: ['sim.*', 'setup.*'] },
    ],
  });

  it('appends generated tasks (wildcard fan-in over generated and existing tasks) and runs them', async () => {
    const { engine, fake, drive, store } = await setup();
    fake.files.set('/clone/work/tasks.json', generated);
    const run = adhoc(
      engine,
      specs(
        { id: 'setup.a' },
        { id: 'plan', deps: ['setup.*'], working_dir: 'work', generates_source: 'tasks.json' },
      ),
      { baseDir: '/clone' },
    );
    await drive();
    expect(fake.readFileCalls).toEqual([{ path: 'tasks.json', cwd: '/clone/work' }]);
    const tasks = store.allTasks(run.id);
    expect(tasks.map((t) => [t.spec.id, t.seq, t.state])).toEqual([
      ['setup.a', 0, 'completed'],
      ['plan', 1, 'completed'],
      ['sim.1', 2, 'completed'],
      ['sim.2', 3, 'completed'],
      ['agg', 4, 'completed'],
    ]);
    expect(tasks[4]!.spec.deps.sort()).toEqual(['setup.a', 'sim.1', 'sim.2']);
    expect(tasks[3]!.spec.workingDir).toBe('/clone/work/sims');
    expect(tasks[2]!.meta.generatedBy).toBe('plan');
    // agg ran after both sims
    const aggCall = fake.submitCalls.findIndex((c) => c.some((r) => r.taskId === 'agg'));
    const simCall = fake.submitCalls.findIndex((c) => c.some((r) => r.taskId === 'sim.2'));
    expect(aggCall).toBeGreaterThan(simCall);
    expect(store.summarizeRun(run.id)!.status).toBe('completed');
  });

  it('an invalid generated file fails the generator and its dependents, never silently', async () => {
    const { engine, fake, drive, store } = await setup();
    fake.files.set('/g.json', JSON.stringify([{ id: 'n', name: 'n', command: 'x', deps: ['missing'] }]));
    const run = adhoc(
      engine,
      specs({ id: 'plan', generates_source: '/g.json' }, { id: 'after', deps: ['plan'] }),
    );
    await drive();
    const plan = store.getTask(run.id, 'plan')!;
    expect(plan.state).toBe('failed');
    expect(plan.error).toMatch(/generates_source: invalid task JSON in "\/g.json".*dependency "missing"/s);
    expect(store.getTask(run.id, 'after')!.state).toBe('dep_failed');
    expect(store.getTask(run.id, 'n')).toBeNull();
    expect(store.summarizeRun(run.id)!.status).toBe('failed');
  });

  it('a missing generated file fails the generator', async () => {
    const { engine, drive, store } = await setup();
    const run = adhoc(engine, specs({ id: 'plan', generates_source: '/nope.json' }));
    await drive();
    expect(store.getTask(run.id, 'plan')!.error).toMatch(/cannot read "\/nope.json".*No such file/);
  });
});

describe('engine: cancel, rerun, delete', () => {
  it('cancels a run: one batched scheduler cancel, pending tasks cancelled, status cancelled', async () => {
    const { engine, fake, store } = await setup({ backend: { maxConcurrent: 3 } });
    for (const id of ['t0', 't1', 't2']) fake.script(id, { kind: 'hold' });
    const run = adhoc(engine, independent(6));
    await engine.tick('fake');
    await engine.tick('fake');
    const summary = await engine.cancelRun(run.id);
    expect(summary.status).toBe('cancelled');
    expect(summary.counts.cancelled).toBe(6);
    expect(fake.cancelCalls).toHaveLength(1);
    expect(fake.cancelCalls[0]!.map((j) => j.taskId).sort()).toEqual(['t0', 't1', 't2']);
    expect(fake.alive).toBe(0);
    expect(store.summarizeRun(run.id)!.status).toBe('cancelled');
    expect(store.getTask(run.id, 't5')!.error).toBe('cancelled by user');
    expect(engine.activeRunIds()).toEqual([]);
  });

  it('retries a failed scheduler cancel on the next tick', async () => {
    const { engine, fake, store } = await setup();
    fake.script('a', { kind: 'hold' });
    const run = adhoc(engine, specs({ id: 'a' }));
    await engine.tick('fake');
    fake.failNextCancel();
    const s = await engine.cancelRun(run.id);
    expect(s.status).toBe('running');
    expect(store.getTask(run.id, 'a')!.state).toBe('submitted');
    await engine.tick('fake');
    expect(fake.cancelCalls).toHaveLength(2);
    expect(store.summarizeRun(run.id)!.status).toBe('cancelled');
  });

  it('cancels jobs whose submission was in flight when the user cancelled', async () => {
    const { engine, fake, store } = await setup({ backend: { submitDelayMs: 30 } });
    const run = adhoc(engine, specs({ id: 'a' }, { id: 'b', deps: ['a'] }));
    const tick = engine.tick('fake');
    await waitFor(() => store.getTask(run.id, 'a')!.state === 'submitting');
    await engine.cancelRun(run.id);
    await tick;
    expect(store.getTask(run.id, 'a')!.state).toBe('cancelled');
    expect(fake.jobsOf('a')[0]!.state).toBe('cancelled');
    expect(store.summarizeRun(run.id)!.status).toBe('cancelled');
  });

  it('reruns all tasks or only the failed ones', async () => {
    const { engine, fake, drive, store } = await setup();
    fake.script('b', { kind: 'fail', exitCode: 1 });
    const run = adhoc(engine, specs({ id: 'a' }, { id: 'b', deps: ['a'] }, { id: 'c', deps: ['b'] }));
    expect(() => engine.rerun(run.id, 'all')).toThrow(/still active/);
    await drive();
    const oldA = store.getTask(run.id, 'a')!;
    const again = engine.rerun(run.id, 'failed');
    expect(again.origin).toEqual({ kind: 'rerun', fromRunId: run.id, mode: 'failed' });
    expect(store.getTask(again.id, 'a')).toMatchObject({ state: 'completed', jobId: oldA.jobId });
    expect(store.getTask(again.id, 'b')!.state).toBe('pending');
    fake.script('b', { kind: 'hold' });
    fake.release('b');
    await drive();
    expect(fake.jobsOf('a')).toHaveLength(1); // a was not run again
    expect(store.summarizeRun(again.id)!.status).toBe('completed');
    const all = engine.rerun(again.id, 'all');
    expect(store.allTasks(all.id).map((t) => t.state)).toEqual(['pending', 'pending', 'pending']);
    await drive();
    expect(fake.jobsOf('a')).toHaveLength(2);
  });

  it('deletes only finished runs', async () => {
    const { engine, drive, store } = await setup();
    const run = adhoc(engine, specs({ id: 'a' }));
    const deleted: string[] = [];
    engine.events.on('run-deleted', ({ runId }) => deleted.push(runId));
    expect(() => engine.deleteRun(run.id)).toThrow(ScriptHutError);
    await drive();
    engine.deleteRun(run.id);
    expect(store.getRun(run.id)).toBeNull();
    expect(deleted).toEqual([run.id]);
    expect(() => engine.deleteRun(run.id)).toThrow(/not found/);
  });
});

describe('engine: restart', () => {
  it('adopts tasks left in submitting: found → submitted with its job, not found → pending, never twice', async () => {
    const store = new MemoryRunStore();
    const fake = new FakeBackend({ maxConcurrent: 10, pollsToComplete: 1 });
    const first = await setup({ store, fake });
    const run = adhoc(first.engine, specs({ id: 'a' }, { id: 'b' }, { id: 'c', deps: ['a', 'b'] }));
    await first.engine.stop();
    // Simulate a crash after the intent was stored: both in `submitting`, only a's job exists.
    const at = new Date().toISOString();
    const tagA = 'sh' + run.id + '01';
    const tagB = 'sh' + run.id + '11';
    store.updateTasks([
      {
        runId: run.id,
        taskId: 'a',
        patch: { submitTag: tagA },
        transition: { to: 'submitting', at, reason: 'x' },
      },
      {
        runId: run.id,
        taskId: 'b',
        patch: { submitTag: tagB },
        transition: { to: 'submitting', at, reason: 'x' },
      },
    ]);
    const job = fake.addJob({ tag: tagA, runId: run.id, taskId: 'a', state: 'running' });
    const second = await setup({ store, fake });
    expect(fake.findByTagsCalls).toEqual([[tagA, tagB]]);
    expect(store.getTask(run.id, 'a')).toMatchObject({ state: 'submitted', jobId: job.jobId });
    expect(store.getTask(run.id, 'b')!.state).toBe('pending');
    await second.drive();
    expect(fake.jobsOf('a')).toHaveLength(1);
    expect(fake.jobsOf('b')).toHaveLength(1);
    expect(parseSubmitTag(fake.jobsOf('b')[0]!.tag)!.attempt).toBe(2);
    expect(store.summarizeRun(run.id)!.status).toBe('completed');
  });

  it('a restored run continues where it stopped', async () => {
    const store = new MemoryRunStore();
    const fake = new FakeBackend({ maxConcurrent: 2, pollsToComplete: 3 });
    const first = await setup({ store, fake });
    const run = adhoc(first.engine, independent(6));
    await first.engine.tick('fake');
    await first.engine.tick('fake');
    await first.engine.stop();
    const before = store.summarizeRun(run.id)!;
    expect(before.counts.queued + before.counts.running).toBe(2);
    const second = await setup({ store, fake });
    expect(second.engine.activeRunIds()).toEqual([run.id]);
    await second.drive();
    expect(fake.submittedJobs).toBe(6);
    expect(fake.maxAlive).toBe(2);
    expect(store.summarizeRun(run.id)!.status).toBe('completed');
  });

  it('restores consistency: pending tasks below a failed task become dep_failed', async () => {
    const store = new MemoryRunStore();
    const first = await setup({ store });
    const run = adhoc(first.engine, specs({ id: 'a' }, { id: 'b', deps: ['a'] }));
    await first.engine.stop();
    store.updateTasks([
      {
        runId: run.id,
        taskId: 'a',
        patch: { error: 'x' },
        transition: { to: 'failed', at: 'now', reason: null },
      },
    ]);
    await setup({ store });
    expect(store.getTask(run.id, 'b')!.state).toBe('dep_failed');
  });
});

describe('engine: loops', () => {
  it('runs on its own with pulse and poll events, and stops cleanly', async () => {
    const store = new MemoryRunStore();
    const fake = new FakeBackend({ maxConcurrent: 4, pollsToComplete: 2 });
    const engine = new Engine({ store, backends: [fake], pollIntervalMs: 5, clusterInfoIntervalMs: 10 });
    await engine.start();
    const polls: string[] = [];
    const seen = new Map<string, TaskState[]>();
    engine.events.on('poll', (p) => polls.push(p.backend));
    engine.events.on('task', ({ task }) =>
      seen.set(task.spec.id, [...(seen.get(task.spec.id) ?? []), task.state]),
    );
    const done = new Promise<void>((resolve) =>
      engine.events.on('run', ({ summary }) => summary.status === 'completed' && resolve()),
    );
    const run = adhoc(engine, specs({ id: 'a' }, { id: 'b', deps: ['a'] }, { id: 'c', deps: ['a'] }));
    await done;
    await engine.stop();
    expect(store.summarizeRun(run.id)!.status).toBe('completed');
    expect(polls.length).toBeGreaterThan(0);
    expect(seen.get('a')).toEqual(['pending', 'submitting', 'submitted', 'running', 'completed']);
    expect(engine.backendState('fake').clusterInfo?.cpusTotal).toBe(4);
    const calls = fake.statusCount;
    await new Promise((r) => setTimeout(r, 30));
    expect(fake.statusCount).toBe(calls);
  });

  it('reads logs through the backend', async () => {
    const { engine, fake, drive, store } = await setup();
    const run = adhoc(engine, specs({ id: 'a' }));
    await drive();
    fake.logs.set(store.getTask(run.id, 'a')!.stdoutPath!, 'hello world');
    expect(await engine.readTaskLog(run.id, 'a', 'stdout', { offset: 6 })).toEqual({
      content: 'world',
      nextOffset: 11,
    });
    expect((await engine.readTaskLog(run.id, 'a', 'stderr', {})).missing).toBe(true);
    await expect(engine.readTaskLog(run.id, 'zz', 'stdout', {})).rejects.toThrow(/not found/);
  });
});
