/**
 * Job arrays in the engine: grouping (pure), array submissions on a backend with the capability,
 * per-element state, failures, retries and cancel, and crash safety (adoption of an array by its
 * tag, element by element, never submitted twice).
 */
import { describe, expect, it } from 'vitest';
import { adhoc, setup, specs } from '../../test/helpers.js';
import { BackendError } from '../errors.js';
import { arrayKeyOf, groupForArrays, placementOf } from './arrays.js';
import { Engine } from './engine.js';

const fan = (n: number, extra: Record<string, unknown> = {}) =>
  Array.from({ length: n }, (_, i) => ({ id: `t${i}`, ...extra }));

describe('groupForArrays', () => {
  it('groups equal keys in order, cuts into the fewest equal chunks within maxSize, leaves chunks below minSize and null keys alone', () => {
    expect(groupForArrays(['a', 'b', 'a', null, 'a'], 2, 2)).toEqual([[0, 2]]);
    expect(groupForArrays(['a', 'b', 'a', 'b', 'a'], 2, 10)).toEqual([
      [0, 2, 4],
      [1, 3],
    ]);
    expect(groupForArrays(['a', 'a', 'a', 'a', 'a'], 2, 2)).toEqual([
      [0, 1],
      [2, 3],
    ]);
    expect(groupForArrays(['a', 'a', 'a'], 4, 100)).toEqual([]);
    // Equal chunks, not full ones and a straggler: 7 with a limit of 3 is 3 + 2 + 2 (not 3 + 3 + 1,
    // whose last task would go alone), 1,001 with a limit of 1,000 is 501 + 500.
    expect(groupForArrays(Array(7).fill('a'), 2, 3)).toEqual([
      [0, 1, 2],
      [3, 4],
      [5, 6],
    ]);
    expect(groupForArrays(Array(1001).fill('a'), 2, 1000).map((g) => g.length)).toEqual([501, 500]);
    expect(groupForArrays(Array(600).fill('a'), 2, 253).map((g) => g.length)).toEqual([200, 200, 200]);
    expect(groupForArrays(Array(1000).fill('a'), 2, 1000).map((g) => g.length)).toEqual([1000]);
    expect(groupForArrays([null, null], 2, 100)).toEqual([]);
    // A minimum below 2 means 2; a limit below the minimum means no arrays.
    expect(groupForArrays(['a', 'b'], 1, 100)).toEqual([]);
    expect(groupForArrays(['a', 'a'], 2, 1)).toEqual([]);
  });

  it('keys differ by every field the scheduler sees and by run', () => {
    const [a, b, c, d] = specs({ id: 'a' }, { id: 'b', cpus: 2 }, { id: 'c', memory: '8G' }, { id: 'd' });
    const req = (task: typeof a, runId = 'r1') =>
      ({ runId, task }) as unknown as Parameters<typeof arrayKeyOf>[0];
    const k = (t: typeof a, backendKey: string | null = 'x', runId = 'r1') =>
      arrayKeyOf(req(t, runId), backendKey);
    expect(k(a!)).toBe(k(d!));
    expect(k(a!)).not.toBe(k(b!));
    expect(k(a!)).not.toBe(k(c!));
    expect(k(a!)).not.toBe(k(d!, 'y'));
    expect(k(a!)).not.toBe(k(d!, 'x', 'r2'));
    expect(k(a!, null)).toBeNull();
  });
});

describe('engine: job arrays', () => {
  it('submits a homogeneous fan-out as one array: every element has its own job id, state and verdict', async () => {
    const { engine, store, fake, drive } = await setup({
      backend: { maxConcurrent: 100, arrays: { maxSize: 1000 } },
    });
    const run = adhoc(engine, specs(...fan(20), { id: 'join', deps: ['t*'] }));
    await engine.tick('fake');
    expect(fake.arrayCalls).toHaveLength(1);
    expect(fake.submitCalls).toHaveLength(0);
    const call = fake.arrayCalls[0]!;
    expect(call.requests.map((r) => r.taskId)).toEqual(fan(20).map((t) => t.id));
    const arrayTag = call.requests[0]!.tag;
    const base = store.getTask(run.id, 't0')!.jobId!.split('_')[0];
    for (let i = 0; i < 20; i++) {
      const t = store.getTask(run.id, `t${i}`)!;
      expect(t.jobId).toBe(`${base}_${i}`);
      expect(t.state).toBe('submitted');
      expect(placementOf(t)).toEqual({ tag: arrayTag, index: i, size: 20 });
      expect(t.submitTag).toBe(call.requests[i]!.tag);
    }
    fake.script('t7', { kind: 'fail', exitCode: 3 });
    await drive();
    // A single dependent goes alone; one failing element fails only its task.
    expect(store.getTask(run.id, 't7')).toMatchObject({ state: 'failed', exitCode: 3 });
    expect(store.getTask(run.id, 't6')).toMatchObject({ state: 'completed', exitCode: 0 });
    expect(store.getTask(run.id, 'join')!.state).toBe('dep_failed');
    expect(store.summarizeRun(run.id)!.counts.completed).toBe(19);
  });

  it('a 10,000-task homogeneous sweep is ten submissions of 1,000 (Slurm MaxArraySize 1001), no job alone', async () => {
    // 1,000 is what the Slurm backend answers for the default MaxArraySize = 1001 (its script-size
    // cap; backend-slurm backend.test.ts): ceil(10,000 / 1,001) = 10 submissions are the fewest.
    const { engine, store, fake } = await setup({
      backend: { maxConcurrent: 20_000, arrays: { maxSize: 1000 } },
    });
    const run = adhoc(engine, specs(...fan(10_000)));
    await engine.tick('fake');
    expect(fake.submitCalls).toHaveLength(0);
    expect(fake.arrayCalls.map((c) => c.requests.length)).toEqual(Array(10).fill(1000));
    expect(new Set(fake.arrayCalls.flatMap((c) => c.requests.map((r) => r.taskId))).size).toBe(10_000);
    expect(store.getTask(run.id, 't9999')!.jobId).toMatch(/_999$/);
  });

  it('a mixed fan-out becomes arrays per shape, cut into equal sizes within the limit; a lone task goes alone', async () => {
    const { engine, store, fake, drive } = await setup({
      backend: { maxConcurrent: 100, arrays: { maxSize: 4 } },
    });
    const run = adhoc(
      engine,
      specs(...fan(5), ...fan(3, { cpus: 2 }).map((t) => ({ ...t, id: `c${t.id}` })), {
        id: 'big',
        memory: '64G',
      }),
    );
    await engine.tick('fake');
    // Five of one shape with a limit of 4: 3 + 2 (not 4 and a straggler that would go alone).
    expect(fake.arrayCalls.map((c) => c.requests.map((r) => r.taskId))).toEqual([
      ['t0', 't1', 't2'],
      ['t3', 't4'],
      ['ct0', 'ct1', 'ct2'],
    ]);
    expect(fake.submitCalls.map((c) => c.map((r) => r.taskId))).toEqual([['big']]);
    expect(placementOf(store.getTask(run.id, 'big')!)).toBeNull();
    expect(placementOf(store.getTask(run.id, 't4')!)).toMatchObject({ index: 1, size: 2 });
    expect(fake.submitCalls[0]![0]!.array).toBeUndefined();
    await drive();
    expect(store.summarizeRun(run.id)!.status).toBe('completed');
  });

  it('stays within the backend and run caps, and submits no array with mode off or below minSize', async () => {
    const capped = await setup({ backend: { maxConcurrent: 6, arrays: { maxSize: 1000 } } });
    const run = adhoc(capped.engine, specs(...fan(20)), { maxConcurrent: 4 });
    await capped.engine.tick('fake');
    expect(capped.fake.arrayCalls.map((c) => c.requests.length)).toEqual([4]);
    expect(capped.engine.summary(run.id)!.counts.submitted).toBe(4);
    await capped.drive();
    expect(capped.fake.maxAlive).toBeLessThanOrEqual(4);

    const off = await setup({
      backend: { maxConcurrent: 100, arrays: { maxSize: 1000 } },
      engine: { arrays: { fake: { mode: 'off' } } },
    });
    adhoc(off.engine, specs(...fan(5)));
    await off.engine.tick('fake');
    expect(off.fake.arrayCalls).toHaveLength(0);
    expect(off.fake.submitCalls.map((c) => c.length)).toEqual([5]);

    const min = await setup({
      backend: { maxConcurrent: 100, arrays: { maxSize: 1000 } },
      engine: { arrays: { fake: { minSize: 6 } } },
    });
    adhoc(min.engine, specs(...fan(5)));
    await min.engine.tick('fake');
    expect(min.fake.arrayCalls).toHaveLength(0);
  });

  it('cancels elements one by one, by element id', async () => {
    const { engine, store, fake } = await setup({
      backend: { maxConcurrent: 100, arrays: { maxSize: 1000 } },
    });
    for (let i = 0; i < 3; i++) fake.script(`t${i}`, { kind: 'hold' });
    const run = adhoc(engine, specs(...fan(3)));
    await engine.tick('fake');
    await engine.cancelRun(run.id);
    const ids = fake.cancelCalls.flat().map((j) => j.jobId);
    expect(ids).toEqual([0, 1, 2].map((i) => store.getTask(run.id, `t${i}`)!.jobId));
    expect(ids.every((id) => /^\d+_\d$/.test(id))).toBe(true);
    expect(store.summarizeRun(run.id)!.counts.cancelled).toBe(3);
  });

  it('a transient error of one element sends it back alone, with a new tag and no array placement', async () => {
    const { engine, store, fake, drive, clock } = await setup({
      backend: { maxConcurrent: 100, arrays: { maxSize: 1000 } },
    });
    fake.script('t1', { kind: 'transient', times: 1 });
    const run = adhoc(engine, specs(...fan(3)));
    await engine.tick('fake');
    expect(store.getTask(run.id, 't1')!.state).toBe('pending');
    clock.advance(60_000);
    await drive();
    const t1 = store.getTask(run.id, 't1')!;
    expect(t1.state).toBe('completed');
    expect(placementOf(t1)).toBeNull();
    expect(t1.jobId).toMatch(/^\d+$/);
    expect(fake.submitCalls.flat().map((r) => r.taskId)).toEqual(['t1']);
  });

  it('an array refused as a whole (transient) comes back as one array: one jittered delay per array', async () => {
    const { engine, store, fake, clock } = await setup({
      backend: { maxConcurrent: 100, arrays: { maxSize: 1000 } },
    });
    for (const t of fan(6)) fake.script(t.id, { kind: 'transient', times: 1 });
    const run = adhoc(engine, specs(...fan(6)));
    await engine.tick('fake');
    expect(store.allTasks(run.id).every((t) => t.state === 'pending')).toBe(true);
    // Small steps through the retry delay (1 s ± 20%): per-task jitter would release the tasks
    // over several ticks, in small groups and alone.
    for (let i = 0; i < 60; i++) {
      clock.advance(25);
      await engine.tick('fake');
    }
    expect(fake.arrayCalls.map((c) => c.requests.length)).toEqual([6, 6]);
    expect(fake.submitCalls).toHaveLength(0);
    expect(store.allTasks(run.id).every((t) => t.state !== 'pending')).toBe(true);
  });

  it('a lost answer: the array is found by its tag and adopted element by element, never submitted twice', async () => {
    const { engine, store, fake, drive } = await setup({
      backend: { maxConcurrent: 100, arrays: { maxSize: 1000 } },
    });
    fake.loseNextSubmitAnswer();
    const run = adhoc(engine, specs(...fan(5)));
    await engine.tick('fake');
    expect(engine.backendState('fake').lastError).toMatch(/connection lost/);
    expect(store.allTasks(run.id).every((t) => t.state === 'submitting' && t.jobId === null)).toBe(true);
    await engine.tick('fake');
    const arrayTag = fake.arrayCalls[0]!.requests[0]!.tag;
    expect(fake.findByTagsCalls).toEqual([[arrayTag]]);
    const base = [...fake.jobs.keys()].find((id) => id.endsWith('_0'))!.split('_')[0];
    for (let i = 0; i < 5; i++) expect(store.getTask(run.id, `t${i}`)!.jobId).toBe(`${base}_${i}`);
    await drive();
    expect(fake.arrayCalls).toHaveLength(1);
    expect(fake.submitCalls).toHaveLength(0);
    expect(fake.jobs.size).toBe(5);
    expect(store.summarizeRun(run.id)!.status).toBe('completed');
  });

  it('after a crash between intent and answer, a new engine adopts the array by its tag', async () => {
    const first = await setup({ backend: { maxConcurrent: 100, arrays: { maxSize: 1000 } } });
    first.fake.loseNextSubmitAnswer(new Error('control plane killed'));
    const run = adhoc(first.engine, specs(...fan(4)));
    await first.engine.tick('fake');
    expect(first.engine.backendState('fake').lastError).toMatch(/control plane killed/);
    await first.engine.stop();
    const engine = new Engine({
      store: first.store,
      backends: [first.fake],
      pollIntervalMs: 1000,
      autoLoop: false,
      clusterInfoIntervalMs: 0,
      now: first.clock.now,
    });
    await engine.start(); // adoption at start
    const tasks = first.store.allTasks(run.id);
    expect(tasks.map((t) => t.state)).toEqual(['submitted', 'submitted', 'submitted', 'submitted']);
    expect(new Set(tasks.map((t) => t.jobId)).size).toBe(4);
    for (let i = 0; i < 8 && engine.activeRunIds().length; i++) await engine.tick('fake');
    expect(first.fake.arrayCalls).toHaveLength(1);
    expect(first.fake.jobs.size).toBe(4);
    expect(first.store.summarizeRun(run.id)!.status).toBe('completed');
  });

  it('an unreachable backend when asking the array limit fails the tick and stores no intent', async () => {
    const { engine, store, fake } = await setup({
      backend: { maxConcurrent: 100, arrays: { maxSize: 1000 } },
    });
    fake.unreachable = new BackendError('ssh down', { transient: true });
    const run = adhoc(engine, specs(...fan(3)));
    await engine.tick('fake');
    expect(engine.backendState('fake').lastError).toMatch(/ssh down/);
    expect(store.allTasks(run.id).every((t) => t.state === 'pending')).toBe(true);
  });
});

describe('previewRun: array grouping of a dry run', () => {
  it('groups tasks of one shape and the same deps, within the caps; others go alone', async () => {
    const { previewRun } = await import('./preview.js');
    const fake = new (await import('../testing/index.js')).FakeBackend({
      maxConcurrent: 3,
      arrays: { maxSize: 1000 },
    });
    const tasks = specs(
      ...fan(4),
      { id: 'big', memory: '64G' },
      { id: 'm1', deps: ['t0'] },
      { id: 'm2', deps: ['t0'] },
      { id: 'm3', deps: ['t1'] },
    );
    const input = {
      workflowName: 'wf',
      backendName: 'fake',
      origin: { kind: 'adhoc' as const },
      tasks,
      maxConcurrent: null,
    };
    const preview = previewRun(fake, input, { minSize: 2, maxSize: 1000 });
    const arrays = Object.fromEntries(preview.tasks.map((t) => [t.task.id, t.array ?? null]));
    // The backend cap (3) bounds an array: t0…t2 together, t3 alone (a group of one).
    expect(arrays).toEqual({
      t0: { group: 1, index: 0, size: 3 },
      t1: { group: 1, index: 1, size: 3 },
      t2: { group: 1, index: 2, size: 3 },
      t3: null,
      big: null,
      m1: { group: 2, index: 0, size: 2 },
      m2: { group: 2, index: 1, size: 2 },
      m3: null,
    });
    expect(previewRun(fake, input).tasks.every((t) => t.array === undefined)).toBe(true);
    // Chosen in one tick (a larger cap), five of one shape with an array limit of 4 are 3 + 2.
    const roomy = new (await import('../testing/index.js')).FakeBackend({
      maxConcurrent: 100,
      arrays: { maxSize: 4 },
    });
    const five = previewRun(roomy, { ...input, tasks: specs(...fan(5)) }, { minSize: 2, maxSize: 4 });
    expect(five.tasks.map((t) => t.array && `${t.array.group}:${t.array.index}/${t.array.size}`)).toEqual([
      '1:0/3',
      '1:1/3',
      '1:2/3',
      '2:0/2',
      '2:1/2',
    ]);
  });
});
