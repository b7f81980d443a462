/**
 * Schema v10: a task's spec, meta and script live in `task_details`, out of the `tasks` row that
 * every state change rewrites; `task_transitions` has no AUTOINCREMENT. A v9 file upgrades in place
 * and reads back the same records and histories.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TaskRecord } from '@scripthut/core';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrate, openSqliteStore } from '../src/index.js';
import { makeRun, makeSpec, makeTask } from './fixtures.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'scripthut-hot-rows-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const columnsOf = (db: Database.Database, table: string) =>
  (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name);

/** Tasks of every shape the old row held: spec, meta with cache key parts, script, usage. */
function oldTasks(): TaskRecord[] {
  return [
    makeTask('old00001', 'a', 0, 'completed', {
      spec: makeSpec('a', { deps: [], inputs: ['data/*.csv'], outputs: ['out.txt'] }),
      submitTag: 'sh-old00001-0-1',
      jobId: '1001',
      exitCode: 0,
      script: '#!/bin/bash\necho a\n',
      stdoutPath: '/logs/a.out',
      stderrPath: '/logs/a.err',
      submittedAt: '2024-01-01T00:00:01.000Z',
      startedAt: '2024-01-01T00:00:02.000Z',
      finishedAt: '2024-01-01T00:00:09.000Z',
      node: 'n1',
      meta: { cacheKey: 'k'.repeat(64), cacheParts: { command: 'c', inputs: 'i' }, array: { index: 3 } },
      version: 4,
      usage: { status: 'pending', attempts: 0 } as unknown as TaskRecord['usage'],
    }),
    makeTask('old00001', 'b', 1, 'failed', {
      spec: makeSpec('b', { deps: ['a'] }),
      error: 'exit 3',
      exitCode: 3,
      script: null,
      meta: { cacheNote: 'cache: false' },
      version: 5,
    }),
    makeTask('old00001', 'c', 2, 'pending', { spec: makeSpec('c', { deps: ['b'] }) }),
  ];
}

const HEX_KEY = 'ab'.repeat(32);

/** A file left by schema v9 holding {@link oldTasks} and a history, as v9's code wrote them. */
function writeV9File(file: string): void {
  const db = new Database(file);
  expect(migrate(db, 9)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  db.prepare(
    `INSERT INTO runs (id, workflow_name, backend_name, origin, created_at, log_dir, environments)
     VALUES ('old00001', 'wf', 'local', '{"kind":"workflow","name":"wf"}', '2025-01-01T00:00:00.000Z', '~/.cache/scripthut/logs', '{}')`,
  ).run();
  const insert = db.prepare(
    `INSERT INTO tasks (run_id, task_id, seq, spec, state, submit_tag, job_id, pending_reason, exit_code, error,
       script, stdout_path, stderr_path, submitted_at, started_at, finished_at, node, meta, version, usage)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  for (const t of oldTasks())
    insert.run(
      t.runId,
      t.spec.id,
      t.seq,
      JSON.stringify(t.spec),
      t.state,
      t.submitTag,
      t.jobId,
      t.pendingReason,
      t.exitCode,
      t.error,
      t.script,
      t.stdoutPath,
      t.stderrPath,
      t.submittedAt,
      t.startedAt,
      t.finishedAt,
      t.node,
      JSON.stringify(t.meta),
      t.version,
      t.usage ? JSON.stringify(t.usage) : null,
    );
  const transition = db.prepare(
    `INSERT INTO task_transitions (run_id, task_id, from_state, to_state, at, reason) VALUES ('old00001', ?, ?, ?, ?, ?)`,
  );
  transition.run('a', 'pending', 'submitting', '2024-01-01T00:00:00.500Z', 'submitting (attempt 1)');
  transition.run('b', 'pending', 'failed', '2024-01-01T00:00:00.600Z', 'exit 3');
  transition.run('a', 'submitting', 'completed', '2024-01-01T00:00:09.000Z', null);
  const entry = db.prepare(
    `INSERT INTO task_cache_keys (run_id, task_id, scope, cache_key, parts, outputs, completed_at, source_run_id, source_task_id)
     VALUES ('old00001', ?, ?, ?, '{"command":"c"}', '[]', ?, 'old00001', ?)`,
  );
  entry.run('a', 'local\u0000wf', HEX_KEY, '2024-01-01T00:00:09.000Z', 'a');
  entry.run('b', 'local\u0000wf', 'not-hex', '2024-01-01T00:00:10.000Z', 'b');
  db.prepare(
    `INSERT INTO run_stats (run_id, pending, completed, failed, total, status) VALUES ('old00001', 1, 1, 1, 3, 'failed')`,
  ).run();
  db.close();
}

describe('hot task rows (schema v10)', () => {
  it('a v9 file upgrades in place: the same task records, histories and counts read back', () => {
    const file = join(dir, 'v9.db');
    writeV9File(file);
    const store = openSqliteStore(file);
    try {
      const expected = oldTasks();
      expect(store.allTasks('old00001')).toEqual(expected);
      expect(store.getTask('old00001', 'a')).toEqual(expected[0]);
      expect(store.listTasks('old00001', { states: ['failed'] }).items).toEqual([expected[1]]);
      expect(store.tasksAwaitingUsage()).toEqual([expected[0]]);
      expect(store.transitions('old00001').map((t) => `${t.taskId}:${t.from}>${t.to}`)).toEqual([
        'a:pending>submitting',
        'b:pending>failed',
        'a:submitting>completed',
      ]);
      expect(store.transitions('old00001', 'a')).toEqual([
        {
          runId: 'old00001',
          taskId: 'a',
          from: 'pending',
          to: 'submitting',
          at: '2024-01-01T00:00:00.500Z',
          reason: 'submitting (attempt 1)',
        },
        {
          runId: 'old00001',
          taskId: 'a',
          from: 'submitting',
          to: 'completed',
          at: '2024-01-01T00:00:09.000Z',
          reason: null,
        },
      ]);
      // The upgraded file keeps working: a new transition sorts after the migrated ones, and a
      // patch of the detail columns reads back.
      store.updateTasks([
        {
          runId: 'old00001',
          taskId: 'c',
          patch: { submitTag: 'sh-old00001-2-1', meta: { cacheKey: 'x' } },
          transition: { to: 'submitting', at: '2024-01-02T00:00:00.000Z', reason: 'again' },
        },
      ]);
      expect(store.transitions('old00001').map((t) => t.reason)).toEqual([
        'submitting (attempt 1)',
        'exit 3',
        null,
        'again',
      ]);
      expect(store.getTask('old00001', 'c')).toMatchObject({
        state: 'submitting',
        submitTag: 'sh-old00001-2-1',
        meta: { cacheKey: 'x' },
        spec: expected[2]!.spec,
      });
      expect(store.summarizeRun('old00001')!.counts).toMatchObject({ pending: 0, submitting: 1 });
      // Cache entries are found by key through the new prefix index (hex keys and others alike).
      expect(store.findCacheEntry!('local\u0000wf', HEX_KEY)).toMatchObject({
        taskId: 'a',
        parts: { command: 'c' },
      });
      expect(store.findCacheEntry!('local\u0000wf', 'not-hex')).toMatchObject({ taskId: 'b' });
      expect(store.findCacheEntry!('local\u0000wf', `${HEX_KEY.slice(0, 12)}${'0'.repeat(52)}`)).toBeNull();
      expect(store.findCacheEntry!('other\u0000wf', HEX_KEY)).toBeNull();
    } finally {
      store.close();
    }
    const raw = new Database(file, { readonly: true });
    try {
      for (const gone of ['spec', 'meta', 'script']) expect(columnsOf(raw, 'tasks')).not.toContain(gone);
      expect(columnsOf(raw, 'task_details')).toEqual(['run_id', 'task_id', 'spec', 'meta', 'script']);
      // v10 took AUTOINCREMENT off task_transitions; v11 moved its rows into batches.
      const tables = (
        raw.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as {
          name: string;
        }[]
      ).map((r) => r.name);
      expect(tables).not.toContain('task_transitions');
      expect(tables).toContain('task_transition_batches');
    } finally {
      raw.close();
    }
  });

  it('a task update rewrites only the columns of its patch, in tasks or task_details', () => {
    const store = openSqliteStore(join(dir, 'new.db'));
    try {
      const run = makeRun('new00001');
      const task = makeTask('new00001', 'a', 0, 'pending', { meta: { generatedBy: 'g' } });
      store.insertRun(run, [task]);
      const at = '2025-01-01T00:00:01.000Z';
      store.updateTasks([
        {
          runId: 'new00001',
          taskId: 'a',
          patch: { jobId: '7', script: '#!/bin/sh\n' },
          transition: { to: 'submitting', at, reason: null },
        },
      ]);
      store.updateTasks([
        { runId: 'new00001', taskId: 'a', patch: { meta: { generatedBy: 'g', cacheKey: 'k' } } },
      ]);
      store.updateTasks([
        {
          runId: 'new00001',
          taskId: 'a',
          patch: { exitCode: 0 },
          transition: { to: 'completed', at, reason: null },
        },
      ]);
      expect(store.getTask('new00001', 'a')).toEqual({
        ...task,
        state: 'completed',
        jobId: '7',
        script: '#!/bin/sh\n',
        exitCode: 0,
        meta: { generatedBy: 'g', cacheKey: 'k' },
        version: 3,
      });
      // One UPDATE gives the replaced state (transition `from`, counts) and a version above the
      // store-wide counter and above the row's own (a task inserted with a higher version).
      expect(store.transitions('new00001', 'a').map((t) => `${t.from}>${t.to}`)).toEqual([
        'pending>submitting',
        'submitting>completed',
      ]);
      store.appendTasks('new00001', [makeTask('new00001', 'z', 1, 'pending', { version: 50 })]);
      store.updateTasks([
        { runId: 'new00001', taskId: 'z', patch: {}, transition: { to: 'running', at, reason: null } },
        { runId: 'new00001', taskId: 'a', patch: { node: 'n2' } },
      ]);
      expect(store.getTask('new00001', 'z')!.version).toBe(51);
      expect(store.getTask('new00001', 'a')!.version).toBe(52);
      expect(store.taskVersion()).toBe(52);
      expect(store.summarizeRun('new00001')!.counts).toMatchObject({ pending: 0, running: 1, completed: 1 });
      expect(() =>
        store.updateTasks([
          { runId: 'new00001', taskId: 'a', patch: { node: 'n3' } },
          { runId: 'new00001', taskId: 'nope', patch: { node: 'x' } },
        ]),
      ).toThrow(/task nope of run new00001 does not exist/);
      expect(store.getTask('new00001', 'a')!.node).toBe('n2'); // rolled back with the batch
      store.deleteRun('new00001');
      const n = store.sqlite.prepare('SELECT COUNT(*) AS n FROM task_details').get() as { n: number };
      expect(n.n).toBe(0);
    } finally {
      store.close();
    }
  });
  it('one batch of updates writing different column sets stores each row with its own columns', () => {
    const store = openSqliteStore(join(dir, 'mixed.db'));
    try {
      const ids = ['a', 'b', 'c', 'd'];
      const tasks = ids.map((id, i) => makeTask('mix00001', id, i, 'pending'));
      store.insertRun(makeRun('mix00001'), tasks);
      const at = '2025-01-01T00:00:01.000Z';
      const usage = { cpuSeconds: 2 } as unknown as NonNullable<TaskRecord['usage']>;
      store.updateTasks([
        {
          runId: 'mix00001',
          taskId: 'a',
          patch: { submitTag: 'sh-a', stdoutPath: '/l/a.out', meta: { cacheKey: 'ka' } },
          transition: { to: 'submitting', at, reason: null },
        },
        { runId: 'mix00001', taskId: 'b', patch: { usage, node: 'n1' } },
        {
          runId: 'mix00001',
          taskId: 'c',
          patch: { submitTag: 'sh-c', stdoutPath: '/l/c.out', meta: { cacheKey: 'kc' } },
          transition: { to: 'submitting', at, reason: null },
        },
        { runId: 'mix00001', taskId: 'd', patch: { usage: null, script: 'echo d', error: 'e' } },
      ]);
      const row = (id: string) => store.getTask('mix00001', id)!;
      const base = (i: number) => tasks[i]!;
      expect(row('a')).toEqual({
        ...base(0),
        state: 'submitting',
        submitTag: 'sh-a',
        stdoutPath: '/l/a.out',
        meta: { cacheKey: 'ka' },
        version: 1,
      });
      expect(row('b')).toEqual({ ...base(1), usage, node: 'n1', version: 2 });
      expect(row('c')).toEqual({
        ...base(2),
        state: 'submitting',
        submitTag: 'sh-c',
        stdoutPath: '/l/c.out',
        meta: { cacheKey: 'kc' },
        version: 3,
      });
      const { usage: dUsage, ...d } = row('d');
      expect(dUsage ?? null).toBeNull();
      expect(d).toEqual({ ...base(3), script: 'echo d', error: 'e', version: 4 });
      expect(store.summarizeRun('mix00001')!.counts).toMatchObject({ pending: 2, submitting: 2 });
    } finally {
      store.close();
    }
  });
});
