/** `runs.array_mode` (schema v9): a run's own job-array mode survives a reopen; old files upgrade to NULL. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrate, openSqliteStore } from '../src/index.js';
import { makeRun, makeTasks } from './fixtures.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'scripthut-array-mode-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('runs.array_mode', () => {
  it('stores auto, off and unset, and reads them back after a reopen (unset stays absent)', () => {
    const file = join(dir, 'scripthut.db');
    let store = openSqliteStore(file);
    store.insertRun(makeRun('aaaa0001', { arrayMode: 'off' }), makeTasks('aaaa0001', 2));
    store.insertRun(makeRun('aaaa0002', { arrayMode: 'auto' }), makeTasks('aaaa0002', 2));
    store.insertRun(makeRun('aaaa0003'), makeTasks('aaaa0003', 2));
    store.close();
    store = openSqliteStore(file);
    try {
      expect(store.getRun('aaaa0001')!.arrayMode).toBe('off');
      expect(store.getRun('aaaa0002')!.arrayMode).toBe('auto');
      expect('arrayMode' in store.getRun('aaaa0003')!).toBe(false);
      expect(store.summarizeRun('aaaa0001')!.run.arrayMode).toBe('off');
    } finally {
      store.close();
    }
  });

  it('a file of version 8 upgrades with NULL for existing runs; the column refuses other values', () => {
    const file = join(dir, 'v8.db');
    const db = new Database(file);
    expect(migrate(db, 8)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    db.prepare(
      `INSERT INTO runs (id, workflow_name, backend_name, origin, created_at, log_dir, environments)
       VALUES ('old00001', 'wf', 'hpc', '{"kind":"adhoc"}', '2024-01-01T00:00:00.000Z', '/logs', '{}')`,
    ).run();
    db.close();
    const store = openSqliteStore(file);
    try {
      expect(store.getRun('old00001')).toMatchObject({ id: 'old00001', backendName: 'hpc' });
      expect('arrayMode' in store.getRun('old00001')!).toBe(false);
      expect(() =>
        store.sqlite.prepare("UPDATE runs SET array_mode = 'sometimes' WHERE id = 'old00001'").run(),
      ).toThrow(/CHECK constraint failed/);
    } finally {
      store.close();
    }
  });
});
