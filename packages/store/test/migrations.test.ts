import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { currentSchemaVersion, migrate, migrations, openSqliteStore, SCHEMA_VERSION } from '../src/index.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'scripthut-migrate-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Build a file exactly as version 1 of the schema left it, with some data. */
function writeV1File(file: string): void {
  const db = new Database(file);
  expect(migrate(db, 1)).toEqual([1]);
  const insertRun = db.prepare(
    `INSERT INTO runs (id, workflow_name, backend_name, origin, created_at, log_dir, cancel_requested_at, environments)
     VALUES (?, 'wf', 'local', '{"kind":"adhoc"}', ?, '/logs', ?, '{}')`,
  );
  const insertTask = db.prepare(
    `INSERT INTO tasks (run_id, task_id, seq, spec, state, submitted_at, finished_at, meta, version)
     VALUES (?, ?, ?, ?, ?, ?, ?, '{}', 0)`,
  );
  const spec = (id: string) => JSON.stringify({ id, name: id, command: 'true' });
  insertRun.run('old00001', '2024-01-01T00:00:00.000Z', null);
  insertTask.run(
    'old00001',
    'a',
    0,
    spec('a'),
    'completed',
    '2024-01-01T00:00:01.000Z',
    '2024-01-01T00:00:09.000Z',
  );
  insertTask.run(
    'old00001',
    'b',
    1,
    spec('b'),
    'failed',
    '2024-01-01T00:00:02.000Z',
    '2024-01-01T00:00:05.000Z',
  );
  insertRun.run('old00002', '2024-01-02T00:00:00.000Z', null);
  insertTask.run('old00002', 'a', 0, spec('a'), 'running', '2024-01-02T00:00:01.000Z', null);
  insertTask.run('old00002', 'b', 1, spec('b'), 'pending', null, null);
  insertRun.run('old00003', '2024-01-03T00:00:00.000Z', '2024-01-03T00:10:00.000Z');
  insertTask.run('old00003', 'a', 0, spec('a'), 'cancelled', null, null);
  insertRun.run('old00004', '2024-01-04T00:00:00.000Z', null);
  db.prepare(
    "INSERT INTO task_transitions (run_id, task_id, from_state, to_state, at, reason) VALUES ('old00001', 'a', 'running', 'completed', 'x', NULL)",
  ).run();
  expect(currentSchemaVersion(db)).toBe(1);
  db.close();
}

describe('migrations', () => {
  it('are numbered 1..n in order', () => {
    expect(migrations.map((m) => m.version)).toEqual(migrations.map((_, i) => i + 1));
    expect(SCHEMA_VERSION).toBe(migrations.length);
  });

  it('upgrade a version-1 file in place, backfilling counts, durations and status', () => {
    const file = join(dir, 'scripthut.db');
    writeV1File(file);
    const store = openSqliteStore(file);
    try {
      expect(store.schemaVersion()).toBe(SCHEMA_VERSION);
      const s1 = store.summarizeRun('old00001')!;
      expect(s1.counts).toMatchObject({ completed: 1, failed: 1 });
      expect(s1.total).toBe(2);
      expect(s1.status).toBe('failed');
      expect(s1.firstSubmittedAt).toBe('2024-01-01T00:00:01.000Z');
      expect(s1.lastFinishedAt).toBe('2024-01-01T00:00:09.000Z');
      expect(store.summarizeRun('old00002')?.status).toBe('running');
      expect(store.summarizeRun('old00003')?.status).toBe('cancelled');
      expect(store.summarizeRun('old00004')).toMatchObject({ status: 'completed', total: 0 });
      expect(store.listRuns({ status: 'failed' }).items.map((i) => i.run.id)).toEqual(['old00001']);
      expect(store.listUnfinishedRunIds()).toEqual(['old00002']);
      expect(store.transitions('old00001', 'a')).toHaveLength(1);
      expect(store.taskVersion()).toBe(0);
      // the upgraded file keeps working: counts move with updates
      store.updateTasks([{ runId: 'old00002', taskId: 'a', patch: { state: 'completed' } }]);
      expect(store.getTask('old00002', 'a')?.version).toBe(1);
      expect(store.summarizeRun('old00002')?.counts).toMatchObject({ running: 0, completed: 1, pending: 1 });
    } finally {
      store.close();
    }
    const raw = new Database(file, { readonly: true });
    expect(raw.prepare('SELECT version FROM schema_migrations ORDER BY version').all()).toEqual(
      migrations.map((m) => ({ version: m.version })),
    );
    raw.close();
  });

  it('refuses a file written by a newer schema', () => {
    const file = join(dir, 'future.db');
    const db = new Database(file);
    migrate(db);
    db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 'x')").run();
    db.close();
    expect(() => openSqliteStore(file)).toThrow(/schema version 999 is newer/);
  });
});
