import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bashRunner } from '../../test/bash-runner.js';
import { adhoc, setup, specs } from '../../test/helpers.js';
import type { TaskSpec } from '../domain.js';
import { MemoryRunStore } from '../testing/index.js';
import { computeCacheKeys, reuseVerdict } from './resume.js';

const dir = mkdtempSync(join(tmpdir(), 'sh-resume-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** a → b, each declaring one output in `dir`; b hashes a's output as its input. */
function dag(bCommand = 'echo b'): TaskSpec[] {
  return specs(
    { id: 'a', working_dir: dir, outputs: ['a.out'] },
    { id: 'b', working_dir: dir, deps: ['a'], command: bCommand, inputs: ['a.out'], outputs: ['b.out'] },
  );
}

/** The fake backend runs nothing: write the outputs a job would write, when it is submitted. */
async function world(store = new MemoryRunStore()) {
  const s = await setup({ store, engine: { outputsGraceMs: 0 } });
  const runner = bashRunner();
  s.fake.commandRunner = () => runner;
  const submit = s.fake.submit.bind(s.fake);
  s.fake.submit = async (requests) => {
    for (const r of requests)
      for (const o of r.task.outputs ?? []) writeFileSync(join(dir, o), `${r.task.command}\n`);
    return submit(requests);
  };
  const submitted = () => s.fake.submitCalls.flat().map((r) => r.taskId);
  return { ...s, runner, submitted };
}

describe('engine: resume', () => {
  it('reuses completed tasks (no job), reruns what changed and its dependents, fails on missing outputs', async () => {
    const store = new MemoryRunStore();
    const w = await world(store);
    const first = adhoc(w.engine, dag());
    await w.drive();
    expect(w.submitted()).toEqual(['a', 'b']);
    expect(store.summarizeRun(first.id)!.status).toBe('completed');
    const keyA = store.getTask(first.id, 'a')!.meta.cacheKey;
    expect(keyA).toMatch(/^[0-9a-f]{64}$/);

    // Unchanged, with resume: nothing submitted, both cached with their source.
    const second = adhoc(w.engine, dag(), { resume: true });
    await w.drive();
    expect(w.submitted()).toEqual(['a', 'b']);
    for (const id of ['a', 'b']) {
      const t = store.getTask(second.id, id)!;
      expect(t).toMatchObject({ state: 'completed', jobId: null, exitCode: 0 });
      expect(t.meta.cached).toEqual({ runId: first.id, taskId: id, key: t.meta.cacheKey });
    }
    expect(store.transitions(second.id, 'a').map((t) => `${t.from}>${t.to}`)).toEqual(['pending>completed']);

    // Without resume: everything runs again.
    adhoc(w.engine, dag());
    await w.drive();
    expect(w.submitted()).toEqual(['a', 'b', 'a', 'b']);

    // b's command changed: only b runs.
    const third = adhoc(w.engine, dag('echo B'), { resume: true });
    await w.drive();
    expect(w.submitted().slice(4)).toEqual(['b']);
    expect(store.getTask(third.id, 'a')!.meta.cached).toBeDefined();

    // a's output deleted: a runs again; b's input (a.out) is rewritten with the same content: reused.
    unlinkSync(join(dir, 'a.out'));
    const fourth = adhoc(w.engine, dag('echo B'), { resume: true });
    await w.drive();
    expect(w.submitted().slice(5)).toEqual(['a']);
    expect(store.getTask(fourth.id, 'b')!.meta.cached).toMatchObject({ runId: third.id });
  });

  it('fails a task that exited 0 without its declared outputs, naming them; dependents dep_failed', async () => {
    const w = await world();
    const run = adhoc(
      w.engine,
      specs({ id: 'x', working_dir: dir, outputs: ['never-written.txt', 'x.out'] }, { id: 'y', deps: ['x'] }),
    );
    const submit = w.fake.submit;
    w.fake.submit = (requests) => {
      for (const r of requests) r.task = { ...r.task, outputs: r.task.outputs?.filter((o) => o === 'x.out') };
      return submit(requests); // writes x.out only
    };
    await w.drive();
    const x = w.store.getTask(run.id, 'x')!;
    expect(x.state).toBe('failed');
    expect(x.error).toBe('exited 0 but its declared outputs are missing: never-written.txt');
    expect(w.store.getTask(run.id, 'y')!.state).toBe('dep_failed');
  });

  it('explains why a task would not be reused (dry run): which key part changed', async () => {
    const w = await world();
    const first = adhoc(w.engine, dag());
    await w.drive();
    const run = { ...w.store.getRun(first.id)!, id: 'other000' };
    const [a, b] = dag('echo changed');
    const keys = await computeCacheKeys(w.fake, [
      { run, task: { spec: a!, seq: 0 } },
      { run, task: { spec: b!, seq: 1 } },
    ]);
    expect(reuseVerdict(w.store, run, a!, keys[0]!)).toMatchObject({
      entry: { runId: first.id, taskId: 'a' },
    });
    expect(reuseVerdict(w.store, run, b!, keys[1]!)).toEqual({
      reason: `key changed since run ${first.id}: command`,
    });
  });

  it('a resume run created while a tick awaits the cache check is checked before any of its tasks is submitted', async () => {
    const w = await world();
    adhoc(w.engine, dag());
    await w.drive();
    expect(w.submitted()).toEqual(['a', 'b']);

    // The next command (run x's input hashing, in the tick's cache step) waits for a gate.
    let entered!: () => void;
    const blocked = new Promise<void>((r) => {
      entered = r;
    });
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const exec = w.runner.exec.bind(w.runner);
    let gated = true;
    w.runner.exec = async (command, options) => {
      if (gated) {
        gated = false;
        entered();
        await gate;
      }
      return exec(command, options);
    };
    const x = specs({ id: 'x', working_dir: dir, inputs: ['a.out'], outputs: ['x.out'], command: 'echo x' });
    adhoc(w.engine, x, { resume: true });
    const tick = w.engine.tick(w.fake.name);
    await blocked;
    // Created in the middle of that tick: its tasks are ready, but the cache has not seen them.
    const late = adhoc(w.engine, dag(), { resume: true });
    release();
    await tick;
    expect(w.submitted()).toEqual(['a', 'b', 'x']);
    await w.drive();
    expect(w.submitted()).toEqual(['a', 'b', 'x']);
    for (const id of ['a', 'b'])
      expect(w.store.getTask(late.id, id)).toMatchObject({ state: 'completed', jobId: null });
  });

  it('refuses resume on backends without a shared filesystem', async () => {
    const w = await world();
    Object.defineProperty(w.fake, 'type', { value: 'batch' });
    expect(() => adhoc(w.engine, dag(), { resume: true })).toThrow(/unavailable on batch backend/);
  });
});
