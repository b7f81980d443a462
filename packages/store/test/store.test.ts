import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deriveRunStatus, emptyStateCounts, TASK_STATES, type TaskRecord } from '@scripthut/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrations, openSqliteStore, SCHEMA_VERSION, type SqliteRunStore } from '../src/index.js';
import { makeRun, makeTask, makeTasks } from './fixtures.js';

let dir: string;
let store: SqliteRunStore;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'scripthut-store-'));
  store = openSqliteStore(join(dir, 'data', 'scripthut.db'));
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('opening', () => {
  it('creates the data directory and sets WAL, busy timeout, synchronous and foreign keys', () => {
    expect(store.path).toBe(join(dir, 'data', 'scripthut.db'));
    expect(store.sqlite.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.sqlite.pragma('busy_timeout', { simple: true })).toBe(5000);
    expect(store.sqlite.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
    expect(store.sqlite.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(store.schemaVersion()).toBe(SCHEMA_VERSION);
  });

  it('reopens an existing file without re-running migrations', () => {
    store.insertRun(makeRun('aaaa0001'), makeTasks('aaaa0001', 3));
    store.close();
    store = openSqliteStore(join(dir, 'data', 'scripthut.db'));
    expect(store.getRun('aaaa0001')?.id).toBe('aaaa0001');
    const rows = store.sqlite.prepare('SELECT version FROM schema_migrations ORDER BY version').all();
    expect(rows).toEqual(migrations.map((m) => ({ version: m.version })));
  });
});

describe('runs and tasks', () => {
  it('round-trips a run with all its fields', () => {
    const run = makeRun('abcd1234', {
      origin: { kind: 'rerun', fromRunId: 'ffff0000', mode: 'failed' },
      maxConcurrent: 7,
      baseDir: '/repos/x',
      git: { repo: 'git@host:x.git', branch: 'main', sha: 'a'.repeat(40), cloneDir: '~/c' },
      environments: { py: { variables: { A: '1' }, extraInit: 'module load x' } },
    });
    store.insertRun(run, []);
    expect(store.getRun('abcd1234')).toEqual(run);
    expect(store.getRun('nope')).toBeNull();
  });

  it('round-trips tasks with every field', () => {
    const t = makeTask('r0000001', 'build.a', 0, 'failed', {
      submitTag: 'sh1a2b3c0',
      jobId: '12345',
      pendingReason: 'Resources',
      exitCode: 3,
      error: 'boom',
      script: '#!/bin/bash\necho hi',
      stdoutPath: '/l/o',
      stderrPath: '/l/e',
      submittedAt: '2025-01-01T00:00:01.000Z',
      startedAt: '2025-01-01T00:00:02.000Z',
      finishedAt: '2025-01-01T00:00:03.000Z',
      node: 'n1',
      meta: { instanceType: 'c5.large', n: [1, 2] },
      version: 4,
    });
    t.spec.envVars = { X: "it's $(x)" };
    t.spec.deps = ['a', 'b'];
    store.insertRun(makeRun('r0000001'), [t]);
    expect(store.getTask('r0000001', 'build.a')).toEqual(t);
    expect(store.getTask('r0000001', 'missing')).toBeNull();
    expect(store.allTasks('r0000001')).toEqual([t]);
  });

  it('rejects a duplicate run id as a conflict and keeps the original', () => {
    store.insertRun(makeRun('dup00001', { workflowName: 'first' }), makeTasks('dup00001', 2));
    expect(() => store.insertRun(makeRun('dup00001', { workflowName: 'second' }), [])).toThrow(
      expect.objectContaining({ code: 'conflict' }),
    );
    expect(store.getRun('dup00001')?.workflowName).toBe('first');
    expect(store.allTasks('dup00001')).toHaveLength(2);
  });

  it('updateRun patches fields and a cancel request changes the derived status', () => {
    store.insertRun(makeRun('c0000001'), [
      makeTask('c0000001', 'a', 0, 'completed'),
      makeTask('c0000001', 'b', 1, 'cancelled'),
    ]);
    expect(store.summarizeRun('c0000001')?.status).toBe('failed');
    expect(store.listRuns({ status: 'failed' }).total).toBe(1);
    store.updateRun('c0000001', { cancelRequestedAt: '2025-01-01T01:00:00.000Z', baseDir: '/b' });
    const s = store.summarizeRun('c0000001');
    expect(s?.run.cancelRequestedAt).toBe('2025-01-01T01:00:00.000Z');
    expect(s?.run.baseDir).toBe('/b');
    expect(s?.status).toBe('cancelled');
    expect(store.listRuns({ status: 'cancelled' }).items.map((i) => i.run.id)).toEqual(['c0000001']);
    expect(() => store.updateRun('nope', { baseDir: 'x' })).toThrow(
      expect.objectContaining({ code: 'not_found' }),
    );
  });
});

describe('updateTasks', () => {
  it('patches, bumps version, records transitions with from filled, all in one transaction', () => {
    store.insertRun(makeRun('u0000001'), makeTasks('u0000001', 3));
    store.updateTasks([
      {
        runId: 'u0000001',
        taskId: 't00000',
        patch: { state: 'submitted', jobId: '77', submittedAt: '2025-01-01T00:00:10.000Z', meta: { q: 1 } },
        transition: { to: 'submitted', at: '2025-01-01T00:00:10.000Z', reason: 'submitted as 77' },
      },
      {
        runId: 'u0000001',
        taskId: 't00001',
        patch: { pendingReason: 'Priority' },
      },
    ]);
    store.updateTasks([
      {
        runId: 'u0000001',
        taskId: 't00000',
        patch: { exitCode: 0, finishedAt: '2025-01-01T00:01:10.000Z' },
        transition: { to: 'completed', at: '2025-01-01T00:01:10.000Z', reason: null },
      },
    ]);
    const t0 = store.getTask('u0000001', 't00000')!;
    expect(t0).toMatchObject({ state: 'completed', jobId: '77', exitCode: 0, meta: { q: 1 } });
    const t1 = store.getTask('u0000001', 't00001')!;
    expect(t1).toMatchObject({ state: 'pending', pendingReason: 'Priority' });
    // versions are store-wide and monotonic: 1 and 2 in the first batch, 3 in the second
    expect(t1.version).toBe(2);
    expect(t0.version).toBe(3);
    expect(store.taskVersion()).toBe(3);
    expect(store.getTask('u0000001', 't00002')?.version).toBe(0);
    expect(store.transitions('u0000001', 't00000')).toEqual([
      {
        runId: 'u0000001',
        taskId: 't00000',
        from: 'pending',
        to: 'submitted',
        at: '2025-01-01T00:00:10.000Z',
        reason: 'submitted as 77',
      },
      {
        runId: 'u0000001',
        taskId: 't00000',
        from: 'submitted',
        to: 'completed',
        at: '2025-01-01T00:01:10.000Z',
        reason: null,
      },
    ]);
    expect(store.transitions('u0000001')).toHaveLength(2);
    expect(store.transitions('u0000001', 't00001')).toEqual([]);
    // the run-wide reads of the activity chart: the same rows in the same order, and every start time
    expect(store.activityTransitions('u0000001')).toEqual(
      store.transitions('u0000001').map(({ taskId, to, at }) => ({ taskId, to, at })),
    );
    expect(store.activityTransitions('nope0001')).toEqual([]);
    store.updateTasks([
      { runId: 'u0000001', taskId: 't00002', patch: { startedAt: '2025-01-01T00:00:20.000Z' } },
    ]);
    const starts = store.taskStartTimes('u0000001');
    expect([...starts.keys()].sort()).toEqual(['t00000', 't00001', 't00002']);
    expect(starts.get('t00001')).toBeNull();
    expect(starts.get('t00002')).toBe('2025-01-01T00:00:20.000Z');
  });

  it('clears nullable fields when the patch sets null', () => {
    store.insertRun(makeRun('n0000001'), [
      makeTask('n0000001', 'a', 0, 'queued', { pendingReason: 'Resources', jobId: '5' }),
    ]);
    store.updateTasks([{ runId: 'n0000001', taskId: 'a', patch: { pendingReason: null } }]);
    expect(store.getTask('n0000001', 'a')).toMatchObject({ pendingReason: null, jobId: '5' });
  });

  it('rolls back the whole batch when one update names an unknown task', () => {
    store.insertRun(makeRun('x0000001'), makeTasks('x0000001', 2));
    expect(() =>
      store.updateTasks([
        {
          runId: 'x0000001',
          taskId: 't00000',
          patch: { state: 'running' },
          transition: { to: 'running', at: 'now', reason: null },
        },
        { runId: 'x0000001', taskId: 'ghost', patch: { state: 'running' } },
      ]),
    ).toThrow(expect.objectContaining({ code: 'not_found' }));
    expect(store.getTask('x0000001', 't00000')).toMatchObject({ state: 'pending', version: 0 });
    expect(store.transitions('x0000001')).toEqual([]);
    expect(store.summarizeRun('x0000001')?.counts.pending).toBe(2);
  });

  it('transaction() groups several writes and rolls all back on error', () => {
    store.insertRun(makeRun('tx000001'), makeTasks('tx000001', 1));
    expect(() =>
      store.transaction(() => {
        store.updateTasks([{ runId: 'tx000001', taskId: 't00000', patch: { state: 'running' } }]);
        store.updateRun('tx000001', { cancelRequestedAt: 'x' });
        throw new Error('abort');
      }),
    ).toThrow('abort');
    expect(store.getTask('tx000001', 't00000')?.state).toBe('pending');
    expect(store.getRun('tx000001')?.cancelRequestedAt).toBeNull();
    expect(store.transaction(() => 42)).toBe(42);
  });
});

describe('counts and summaries', () => {
  it('keeps per-state counts exact through inserts, updates and appends', () => {
    const tasks = makeTasks('k0000001', 10);
    store.insertRun(makeRun('k0000001'), tasks);
    const updates = [0, 1, 2, 3].map((i) => ({
      runId: 'k0000001',
      taskId: tasks[i]!.spec.id,
      patch: { state: (i < 2 ? 'running' : 'failed') as 'running' | 'failed' },
    }));
    store.updateTasks(updates);
    store.updateTasks([{ runId: 'k0000001', taskId: tasks[0]!.spec.id, patch: { state: 'completed' } }]);
    store.appendTasks('k0000001', [
      makeTask('k0000001', 'gen.1', 10, 'pending'),
      makeTask('k0000001', 'gen.2', 11, 'queued'),
    ]);
    const summary = store.summarizeRun('k0000001')!;
    // recount from the task rows and compare
    const recount = emptyStateCounts();
    for (const t of store.allTasks('k0000001')) recount[t.state] += 1;
    expect(summary.counts).toEqual(recount);
    expect(summary.counts).toMatchObject({ pending: 7, running: 1, completed: 1, failed: 2, queued: 1 });
    expect(summary.total).toBe(12);
    expect(summary.status).toBe(deriveRunStatus(recount, false));
    expect(summary.status).toBe('running');
  });

  it('summarizeRun reports the earliest submission and the latest finish', () => {
    store.insertRun(makeRun('d0000001'), [
      makeTask('d0000001', 'a', 0, 'completed', {
        submittedAt: '2025-01-01T00:00:05.000Z',
        finishedAt: '2025-01-01T00:00:20.000Z',
      }),
      makeTask('d0000001', 'b', 1, 'pending'),
    ]);
    let s = store.summarizeRun('d0000001')!;
    expect(s.firstSubmittedAt).toBe('2025-01-01T00:00:05.000Z');
    expect(s.lastFinishedAt).toBe('2025-01-01T00:00:20.000Z');
    store.updateTasks([
      {
        runId: 'd0000001',
        taskId: 'b',
        patch: { state: 'submitted', submittedAt: '2025-01-01T00:00:01.000Z' },
      },
    ]);
    store.updateTasks([
      {
        runId: 'd0000001',
        taskId: 'b',
        patch: { state: 'completed', finishedAt: '2025-01-01T00:05:00.000Z' },
      },
    ]);
    s = store.summarizeRun('d0000001')!;
    expect(s.firstSubmittedAt).toBe('2025-01-01T00:00:01.000Z');
    expect(s.lastFinishedAt).toBe('2025-01-01T00:05:00.000Z');
    expect(s.status).toBe('completed');
    expect(store.summarizeRun('missing')).toBeNull();
  });

  it('derived status in the store always matches deriveRunStatus', () => {
    const states = TASK_STATES;
    let n = 0;
    for (const a of states) {
      for (const b of states) {
        for (const cancel of [false, true]) {
          const id = `s${String(n++).padStart(7, '0')}`;
          store.insertRun(makeRun(id, { cancelRequestedAt: cancel ? 'x' : null }), [
            makeTask(id, 'a', 0, a),
            makeTask(id, 'b', 1, b),
          ]);
          const counts = emptyStateCounts();
          counts[a] += 1;
          counts[b] += 1;
          const expected = deriveRunStatus(counts, cancel);
          expect(store.summarizeRun(id)?.status).toBe(expected);
          expect(store.listRuns({ status: expected, limit: 10_000 }).items.some((i) => i.run.id === id)).toBe(
            true,
          );
        }
      }
    }
  });
});

describe('listing', () => {
  it('pages runs newest first with filters and totals', () => {
    for (let i = 0; i < 25; i++) {
      const id = `p${String(i).padStart(7, '0')}`;
      store.insertRun(
        makeRun(id, {
          createdAt: `2025-01-01T00:00:${String(i).padStart(2, '0')}.000Z`,
          workflowName: i % 2 ? 'odd' : 'even',
          backendName: i % 5 === 0 ? 'slurm' : 'local',
        }),
        [makeTask(id, 'a', 0, i % 3 === 0 ? 'completed' : 'pending')],
      );
    }
    const page1 = store.listRuns({ limit: 10 });
    expect(page1.total).toBe(25);
    expect(page1.items.map((i) => i.run.id)[0]).toBe('p0000024');
    expect(page1.items).toHaveLength(10);
    const page3 = store.listRuns({ limit: 10, offset: 20 });
    expect(page3.items.map((i) => i.run.id)).toEqual([
      'p0000004',
      'p0000003',
      'p0000002',
      'p0000001',
      'p0000000',
    ]);
    expect(store.listRuns({ workflow: 'odd' }).total).toBe(12);
    expect(store.listRuns({ backend: 'slurm' }).items.map((i) => i.run.id)).toEqual([
      'p0000020',
      'p0000015',
      'p0000010',
      'p0000005',
      'p0000000',
    ]);
    const completed = store.listRuns({ status: 'completed', workflow: 'even' });
    expect(completed.items.every((i) => i.status === 'completed' && i.run.workflowName === 'even')).toBe(
      true,
    );
    expect(completed.total).toBe(5); // 0, 6, 12, 18, 24
  });

  it('pages tasks by seq with state and id-prefix filters', () => {
    const tasks: TaskRecord[] = [];
    for (let i = 0; i < 30; i++) {
      tasks.push(
        makeTask(
          'l0000001',
          `${i < 10 ? 'build' : 'test'}.${String(i).padStart(2, '0')}`,
          i,
          i % 2 ? 'running' : 'pending',
        ),
      );
    }
    store.insertRun(makeRun('l0000001'), tasks.slice().reverse());
    const all = store.listTasks('l0000001');
    expect(all.total).toBe(30);
    expect(all.items.map((t) => t.seq)).toEqual([...Array(30).keys()]);
    const page = store.listTasks('l0000001', { offset: 5, limit: 5 });
    expect(page.items.map((t) => t.seq)).toEqual([5, 6, 7, 8, 9]);
    expect(page.total).toBe(30);
    expect(store.listTasks('l0000001', { offset: 28 }).items.map((t) => t.seq)).toEqual([28, 29]);
    const running = store.listTasks('l0000001', { states: ['running'], limit: 3 });
    expect(running.total).toBe(15);
    expect(running.items.map((t) => t.seq)).toEqual([1, 3, 5]);
    const build = store.listTasks('l0000001', { idPrefix: 'build.' });
    expect(build.total).toBe(10);
    const both = store.listTasks('l0000001', { idPrefix: 'test.', states: ['pending'] });
    expect(both.total).toBe(10);
    expect(both.items.every((t) => t.spec.id.startsWith('test.') && t.state === 'pending')).toBe(true);
    expect(store.listTasks('l0000001', { idPrefix: 'b%' }).total).toBe(0);
    expect(store.listTasks('l0000001', { states: [] }).total).toBe(0);
  });

  it('listUnfinishedRunIds returns runs with a non-terminal task', () => {
    store.insertRun(makeRun('f0000001'), [makeTask('f0000001', 'a', 0, 'completed')]);
    store.insertRun(makeRun('f0000002'), [
      makeTask('f0000002', 'a', 0, 'completed'),
      makeTask('f0000002', 'b', 1, 'running'),
    ]);
    store.insertRun(makeRun('f0000003'), [makeTask('f0000003', 'a', 0, 'pending')]);
    store.insertRun(makeRun('f0000004'), []);
    expect(store.listUnfinishedRunIds().sort()).toEqual(['f0000002', 'f0000003']);
    store.updateTasks([{ runId: 'f0000002', taskId: 'b', patch: { state: 'failed' } }]);
    expect(store.listUnfinishedRunIds()).toEqual(['f0000003']);
  });
});

describe('appendTasks and deleteRun', () => {
  it('appends atomically and refuses duplicates without partial writes', () => {
    store.insertRun(makeRun('g0000001'), makeTasks('g0000001', 2));
    store.appendTasks('g0000001', [makeTask('g0000001', 'new.1', 2)]);
    expect(store.allTasks('g0000001').map((t) => t.spec.id)).toEqual(['t00000', 't00001', 'new.1']);
    expect(() =>
      store.appendTasks('g0000001', [makeTask('g0000001', 'new.2', 3), makeTask('g0000001', 't00000', 4)]),
    ).toThrow(expect.objectContaining({ code: 'conflict' }));
    expect(store.allTasks('g0000001')).toHaveLength(3);
    expect(store.summarizeRun('g0000001')?.total).toBe(3);
    expect(() => store.appendTasks('missing', [makeTask('missing', 'x', 0)])).toThrow(
      expect.objectContaining({ code: 'not_found' }),
    );
  });

  it('deleteRun cascades to tasks, transitions and counts', () => {
    store.insertRun(makeRun('h0000001'), makeTasks('h0000001', 3));
    store.insertRun(makeRun('h0000002'), makeTasks('h0000002', 1));
    store.updateTasks([
      {
        runId: 'h0000001',
        taskId: 't00000',
        patch: { state: 'running' },
        transition: { to: 'running', at: 'x', reason: null },
      },
    ]);
    const count = (table: string) =>
      (
        store.sqlite.prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE run_id = ?`).get('h0000001') as {
          n: number;
        }
      ).n;
    expect(count('task_transition_batches')).toBe(1);
    store.deleteRun('h0000001');
    expect(store.getRun('h0000001')).toBeNull();
    expect(count('tasks')).toBe(0);
    expect(count('task_details')).toBe(0);
    expect(count('task_transition_batches')).toBe(0);
    expect(count('run_stats')).toBe(0);
    expect(store.listRuns().total).toBe(1);
    expect(store.allTasks('h0000002')).toHaveLength(1);
  });
});

describe('scale', () => {
  it('inserts a 10,000-task run in one transaction; summaries and run lists read the per-run counters, never the task rows', () => {
    let txCount = 0;
    const original = store.sqlite.transaction.bind(store.sqlite);
    store.sqlite.transaction = ((fn: (...a: unknown[]) => unknown) => {
      txCount += 1;
      return original(fn);
    }) as typeof store.sqlite.transaction;
    store.insertRun(makeRun('big00001'), makeTasks('big00001', 10_000));
    expect(txCount).toBe(1);
    store.sqlite.transaction = original;
    expect(store.summarizeRun('big00001')?.counts.pending).toBe(10_000);

    store.updateTasks(
      Array.from({ length: 2_000 }, (_, i) => ({
        runId: 'big00001',
        taskId: `t${String(i).padStart(5, '0')}`,
        patch: { state: 'running' as const },
        transition: { to: 'running' as const, at: 'now', reason: null },
      })),
    );
    store.transaction(() => {
      for (let i = 0; i < 1_000; i++) {
        const id = `m${String(i).padStart(7, '0')}`;
        store.insertRun(makeRun(id), makeTasks(id, 3));
      }
    });
    const list = store.listRuns({ limit: 1_000 });
    expect(list.total).toBe(1_001);
    expect(list.items).toHaveLength(1_000);

    // Remove the task rows behind the store's back: summaries and filtered lists must still be
    // right, which proves they come from the per-run counters (O(1) per run), not from a scan of
    // the tasks table (the cost that made the original slow on big runs).
    store.sqlite.prepare('DELETE FROM task_transition_batches').run();
    store.sqlite.prepare('DELETE FROM tasks').run();
    expect(store.summarizeRun('big00001')!.counts).toMatchObject({ pending: 8_000, running: 2_000 });
    const running = store.listRuns({ status: 'running', limit: 50 });
    expect(running.items.map((r) => r.run.id)).toEqual(['big00001']);
    expect(store.listRuns({ status: 'pending', limit: 50 }).total).toBe(1_000);
  });
});
