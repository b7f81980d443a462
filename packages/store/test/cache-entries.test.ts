import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CacheEntry } from '@scripthut/core';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrate, openSqliteStore, SCHEMA_VERSION, type SqliteRunStore } from '../src/index.js';
import { makeRun, makeTasks } from './fixtures.js';

let dir: string;
let store: SqliteRunStore;
const path = () => join(dir, 'scripthut.db');

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'scripthut-cache-'));
  store = openSqliteStore(path());
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const parts = { command: 'c', environment: 'e', workingDir: 'w', image: 'i', commit: 'g', inputs: 'n' };
function entry(runId: string, taskId: string, key: string, at: string): CacheEntry {
  return {
    scope: 'slurm\u0000wf',
    key,
    runId,
    taskId,
    parts,
    outputs: ['out/x'],
    completedAt: at,
    sourceRunId: runId,
    sourceTaskId: taskId,
  };
}

describe('cache entries (migration 4)', () => {
  it('keeps the resume flag of a run across a reopen', () => {
    store.insertRun(makeRun('aaaa0001', { resume: true }), makeTasks('aaaa0001', 1));
    store.insertRun(makeRun('aaaa0002'), makeTasks('aaaa0002', 1));
    store.close();
    store = openSqliteStore(path());
    expect(store.getRun('aaaa0001')!.resume).toBe(true);
    expect(store.getRun('aaaa0002')!.resume).toBeUndefined();
  });

  it('finds the latest entry by key and by task, replaces per run+task, and forgets deleted runs', () => {
    store.insertRun(makeRun('aaaa0001'), makeTasks('aaaa0001', 2));
    store.insertRun(makeRun('aaaa0002'), makeTasks('aaaa0002', 2));
    store.recordCacheEntries([
      entry('aaaa0001', 't0', 'k1', '2030-01-01T00:00:00.000Z'),
      entry('aaaa0002', 't0', 'k1', '2030-01-02T00:00:00.000Z'),
    ]);
    expect(store.findCacheEntry('slurm\u0000wf', 'k1')).toMatchObject({ runId: 'aaaa0002', parts });
    expect(store.findCacheEntry('pbs\u0000wf', 'k1')).toBeNull();
    store.recordCacheEntries([entry('aaaa0002', 't0', 'k2', '2030-01-03T00:00:00.000Z')]);
    expect(store.findCacheEntry('slurm\u0000wf', 'k1')).toMatchObject({ runId: 'aaaa0001' });
    expect(store.lastCacheEntryOfTask('slurm\u0000wf', 't0')).toMatchObject({
      key: 'k2',
      outputs: ['out/x'],
    });
    store.deleteRun('aaaa0001');
    expect(store.findCacheEntry('slurm\u0000wf', 'k1')).toBeNull();
    // an entry of a run that no longer exists is not written
    store.recordCacheEntries([entry('gone0001', 't0', 'k3', '2030-01-04T00:00:00.000Z')]);
    expect(store.findCacheEntry('slurm\u0000wf', 'k3')).toBeNull();
  });

  it('upgrades a version 3 file, keeping its runs (resume off)', () => {
    store.close();
    rmSync(path());
    const db = new Database(path());
    migrate(db, 3);
    db.prepare(
      `INSERT INTO runs (id, workflow_name, backend_name, origin, created_at, log_dir) VALUES ('old00001', 'wf', 'b', '{"kind":"adhoc"}', '2030-01-01T00:00:00Z', '/tmp')`,
    ).run();
    db.close();
    store = openSqliteStore(path());
    expect(store.schemaVersion()).toBe(SCHEMA_VERSION);
    expect(store.getRun('old00001')).toMatchObject({ id: 'old00001' });
    expect(store.getRun('old00001')!.resume).toBeUndefined();
  });
});
