/**
 * Schema v11: task transitions are stored as one row per run per write (`task_transition_batches`),
 * and read back in the order they were recorded, per run or per task. A v10 file's single rows move
 * into batches in id order.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TaskUpdate } from '@scripthut/core';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrate, openSqliteStore, type SqliteRunStore } from '../src/index.js';
import { TRANSITION_BATCH_SIZE } from '../src/transition-batches-schema.js';
import { makeRun, makeTasks } from './fixtures.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'scripthut-transition-batches-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const batchRows = (store: SqliteRunStore, runId: string) =>
  (
    store.sqlite
      .prepare('SELECT entries FROM task_transition_batches WHERE run_id = ? ORDER BY id')
      .pluck()
      .all(runId) as string[]
  ).map((text) => (JSON.parse(text) as unknown[]).length);

const move = (runId: string, taskId: string, to: 'submitting' | 'running' | 'completed', at: string) =>
  ({
    runId,
    taskId,
    patch: {},
    transition: { to, at, reason: `${taskId} to ${to}` },
  }) satisfies TaskUpdate;

describe('transition batches (schema v11)', () => {
  it('one write stores one row per run, and the reads give back every transition in write order', () => {
    const store = openSqliteStore(join(dir, 'a.db'));
    try {
      store.insertRun(makeRun('run00001'), makeTasks('run00001', 3));
      store.insertRun(makeRun('run00002'), makeTasks('run00002', 1));
      store.updateTasks([
        move('run00001', 't00002', 'submitting', '2025-01-01T00:00:03.000Z'),
        move('run00002', 't00000', 'submitting', '2025-01-01T00:00:01.000Z'),
        move('run00001', 't00000', 'submitting', '2025-01-01T00:00:02.000Z'),
        move('run00001', 't00002', 'running', '2025-01-01T00:00:04.000Z'),
      ]);
      store.updateTasks([move('run00001', 't00000', 'running', '2025-01-01T00:00:05.000Z')]);
      expect(batchRows(store, 'run00001')).toEqual([3, 1]);
      expect(batchRows(store, 'run00002')).toEqual([1]);
      // Write order (not time order, not task order), with `from` as stored before each update.
      expect(
        store.transitions('run00001').map((t) => `${t.taskId}:${t.from}>${t.to}@${t.at.slice(17, 19)}`),
      ).toEqual([
        't00002:pending>submitting@03',
        't00000:pending>submitting@02',
        't00002:submitting>running@04',
        't00000:submitting>running@05',
      ]);
      expect(store.transitions('run00001', 't00000')).toEqual([
        {
          runId: 'run00001',
          taskId: 't00000',
          from: 'pending',
          to: 'submitting',
          at: '2025-01-01T00:00:02.000Z',
          reason: 't00000 to submitting',
        },
        {
          runId: 'run00001',
          taskId: 't00000',
          from: 'submitting',
          to: 'running',
          at: '2025-01-01T00:00:05.000Z',
          reason: 't00000 to running',
        },
      ]);
      expect(store.transitions('run00001', 't00001')).toEqual([]);
      expect(store.transitions('nope0001')).toEqual([]);
      expect(store.activityTransitions('run00001')).toEqual(
        store.transitions('run00001').map(({ taskId, to, at }) => ({ taskId, to, at })),
      );
    } finally {
      store.close();
    }
  });

  it("a task's reads are exact: ids that prefix others or appear in reasons do not match", () => {
    const store = openSqliteStore(join(dir, 'b.db'));
    try {
      const tasks = makeTasks('run00001', 3);
      const ids = ['a', 'ab', 'x"y'];
      tasks.forEach((t, i) => {
        t.spec = { ...t.spec, id: ids[i]! };
      });
      store.insertRun(makeRun('run00001'), tasks);
      store.updateTasks([
        {
          ...move('run00001', 'ab', 'submitting', '2025-01-01T00:00:01.000Z'),
          transition: { to: 'submitting', at: 'x', reason: '["a", blocked' },
        },
        move('run00001', 'x"y', 'submitting', '2025-01-01T00:00:02.000Z'),
      ]);
      expect(store.transitions('run00001', 'a')).toEqual([]);
      expect(store.transitions('run00001', 'ab').map((t) => t.reason)).toEqual(['["a", blocked']);
      expect(store.transitions('run00001', 'x"y').map((t) => t.to)).toEqual(['submitting']);
    } finally {
      store.close();
    }
  });

  it(`a write of more than ${TRANSITION_BATCH_SIZE} transitions of a run is split into rows of at most that many`, () => {
    const store = openSqliteStore(join(dir, 'c.db'));
    try {
      const n = TRANSITION_BATCH_SIZE * 2 + 5;
      const tasks = makeTasks('run00001', n);
      store.insertRun(makeRun('run00001'), tasks);
      store.updateTasks(
        tasks.map((t) => move('run00001', t.spec.id, 'submitting', '2025-01-01T00:00:01.000Z')),
      );
      expect(batchRows(store, 'run00001')).toEqual([TRANSITION_BATCH_SIZE, TRANSITION_BATCH_SIZE, 5]);
      expect(store.transitions('run00001').map((t) => t.taskId)).toEqual(tasks.map((t) => t.spec.id));
      expect(store.transitions('run00001', tasks[n - 1]!.spec.id)).toHaveLength(1);
    } finally {
      store.close();
    }
  });

  it('a v10 file: its transition rows move into batches per run, in id order, chunked', () => {
    const file = join(dir, 'v10.db');
    const db = new Database(file);
    expect(migrate(db, 10)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const insertRun = db.prepare(
      `INSERT INTO runs (id, workflow_name, backend_name, origin, created_at, log_dir, environments)
       VALUES (?, 'wf', 'local', '{"kind":"adhoc"}', '2025-01-01T00:00:00.000Z', '/logs', '{}')`,
    );
    insertRun.run('old00001');
    insertRun.run('old00002');
    const insert = db.prepare(
      'INSERT INTO task_transitions (run_id, task_id, from_state, to_state, at, reason) VALUES (?, ?, ?, ?, ?, ?)',
    );
    const n = TRANSITION_BATCH_SIZE + 2;
    db.transaction(() => {
      for (let i = 0; i < n; i++) {
        insert.run('old00001', `t${i}`, 'pending', 'submitting', `at${i}`, i === 1 ? 'why' : null);
        if (i === 0) insert.run('old00002', 'only', null, 'failed', 'at-x', 'exit 3');
      }
    })();
    db.close();

    const store = openSqliteStore(file);
    try {
      expect(store.schemaVersion()).toBeGreaterThanOrEqual(11);
      expect(batchRows(store, 'old00001')).toEqual([TRANSITION_BATCH_SIZE, 2]);
      const all = store.transitions('old00001');
      expect(all.map((t) => t.taskId)).toEqual(Array.from({ length: n }, (_, i) => `t${i}`));
      expect(all[1]).toEqual({
        runId: 'old00001',
        taskId: 't1',
        from: 'pending',
        to: 'submitting',
        at: 'at1',
        reason: 'why',
      });
      expect(store.transitions('old00002')).toEqual([
        { runId: 'old00002', taskId: 'only', from: null, to: 'failed', at: 'at-x', reason: 'exit 3' },
      ]);
      const tables = store.sqlite
        .prepare("SELECT name FROM sqlite_master WHERE name = 'task_transitions'")
        .all();
      expect(tables).toEqual([]);
    } finally {
      store.close();
    }
  });
});
