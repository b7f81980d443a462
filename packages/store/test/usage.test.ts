import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pendingUsage, type TaskUsage } from '@scripthut/core';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrate, openSqliteStore, SCHEMA_VERSION } from '../src/index.js';
import { makeRun, makeTask } from './fixtures.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'scripthut-usage-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const OK: TaskUsage = {
  status: 'ok',
  reason: null,
  source: 'sacct',
  requestedAt: '2030-01-01T00:00:10.000Z',
  elapsedSec: 40,
  allocCpus: 2,
  cpuTimeSec: 31.5,
  maxRssBytes: 209_715_200,
  reqMemBytes: 4_294_967_296,
};

describe('usage in the SQLite store', () => {
  it('upgrades a v3 file: tasks keep their data and get a null usage', () => {
    const file = join(dir, 'old.db');
    const db = new Database(file);
    migrate(db, 3);
    db.prepare(
      `INSERT INTO runs (id, workflow_name, backend_name, origin, created_at, log_dir, environments)
       VALUES ('old00001', 'wf', 'local', '{"kind":"adhoc"}', '2024-01-01T00:00:00.000Z', '/logs', '{}')`,
    ).run();
    db.prepare(
      `INSERT INTO tasks (run_id, task_id, seq, spec, state, meta, version)
       VALUES ('old00001', 'a', 0, '{"id":"a","name":"a","command":"true"}', 'completed', '{}', 1)`,
    ).run();
    db.close();
    const store = openSqliteStore(file);
    expect(store.schemaVersion()).toBe(SCHEMA_VERSION);
    const t = store.getTask('old00001', 'a')!;
    expect(t.state).toBe('completed');
    expect(t.usage ?? null).toBeNull();
    store.close();
  });

  it('round-trips usage, lists pending tasks, and writes null back', () => {
    const store = openSqliteStore(join(dir, 'x.db'));
    store.insertRun(makeRun('r0000001'), [
      makeTask('r0000001', 'a', 0, 'completed'),
      makeTask('r0000001', 'b', 1, 'completed'),
    ]);
    store.updateTasks([
      { runId: 'r0000001', taskId: 'a', patch: { usage: pendingUsage('2030-01-01T00:00:00.000Z') } },
      { runId: 'r0000001', taskId: 'b', patch: { usage: OK } },
    ]);
    expect(store.tasksAwaitingUsage().map((t) => t.spec.id)).toEqual(['a']);
    expect(store.getTask('r0000001', 'b')!.usage).toEqual(OK);
    store.updateTasks([{ runId: 'r0000001', taskId: 'a', patch: { usage: null } }]);
    expect(store.tasksAwaitingUsage()).toEqual([]);
    expect(store.getTask('r0000001', 'a')!.usage ?? null).toBeNull();
    store.close();
  });

  it('the usage ledger aggregates CPU-hours per day and hour and survives deleting the run', () => {
    const store = openSqliteStore(join(dir, 'y.db'));
    store.insertRun(makeRun('r0000001'), [makeTask('r0000001', 'a', 0, 'completed')]);
    const entry = (taskId: string, endedAt: string, cpus: number, elapsed: number, cpu: number | null) => ({
      runId: 'r0000001',
      taskId,
      backendName: 'slurm',
      workflowName: 'wf',
      startedAt: null,
      endedAt,
      allocCpus: cpus,
      elapsedSec: elapsed,
      cpuTimeSec: cpu,
      maxRssBytes: null,
    });
    store.recordUsage([
      entry('a', '2030-01-01T10:15:00.000Z', 4, 3600, 1800),
      entry('b', '2030-01-01T11:00:00.000Z', 1, 7200, null),
      entry('c', '2030-01-02T00:30:00.000Z', 2, 1800, 1800),
    ]);
    // replacing a row does not add it twice
    store.recordUsage([entry('a', '2030-01-01T10:15:00.000Z', 4, 3600, 3600)]);
    store.deleteRun('r0000001');
    expect(store.getRun('r0000001')).toBeNull();
    expect(store.usageBuckets('day', '2030-01-01')).toEqual([
      { bucket: '2030-01-01', cpuHoursAllocated: 6, cpuHoursUsed: 1, tasks: 2 },
      { bucket: '2030-01-02', cpuHoursAllocated: 1, cpuHoursUsed: 0.5, tasks: 1 },
    ]);
    expect(store.usageBuckets('hour', '2030-01-01T11')).toEqual([
      { bucket: '2030-01-01T11', cpuHoursAllocated: 2, cpuHoursUsed: 0, tasks: 1 },
      { bucket: '2030-01-02T00', cpuHoursAllocated: 1, cpuHoursUsed: 0.5, tasks: 1 },
    ]);
    store.close();
  });
});
