import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrate, openSqliteStore, SCHEMA_VERSION } from '../src/index.js';
import { makeRun, makeTask } from './fixtures.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'scripthut-forgotten-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('forgotten jobs in the SQLite store', () => {
  it('upgrades a v6 file to the forgotten_jobs table', () => {
    const file = join(dir, 'old.db');
    const db = new Database(file);
    migrate(db, 6);
    db.close();
    const store = openSqliteStore(file);
    expect(store.schemaVersion()).toBe(SCHEMA_VERSION);
    expect(SCHEMA_VERSION).toBeGreaterThanOrEqual(7);
    expect(store.forgottenJobs()).toEqual([]);
    store.close();
  });

  it('keeps entries across reopening the file; forgetting again re-dates one', () => {
    const file = join(dir, 'scripthut.db');
    let store = openSqliteStore(file);
    store.forgetJob('hpc', '101', '2030-01-01T00:00:00.000Z');
    store.forgetJob('hpc', '102', '2030-01-02T00:00:00.000Z');
    store.forgetJob('pbs', '101', '2030-01-03T00:00:00.000Z');
    store.forgetJob('hpc', '101', '2030-01-04T00:00:00.000Z');
    store.close();
    store = openSqliteStore(file);
    expect(store.forgottenJobs()).toEqual([
      { backend: 'hpc', jobId: '102', forgottenAt: '2030-01-02T00:00:00.000Z' },
      { backend: 'pbs', jobId: '101', forgottenAt: '2030-01-03T00:00:00.000Z' },
      { backend: 'hpc', jobId: '101', forgottenAt: '2030-01-04T00:00:00.000Z' },
    ]);
    store.close();
  });

  it('prunes by age', () => {
    const store = openSqliteStore(join(dir, 'scripthut.db'));
    store.forgetJob('hpc', '1', '2030-01-01T00:00:00.000Z');
    store.forgetJob('hpc', '2', '2030-01-05T00:00:00.000Z');
    expect(store.pruneForgottenJobsBefore('2030-01-03T00:00:00.000Z')).toEqual([
      { backend: 'hpc', jobId: '1', forgottenAt: '2030-01-01T00:00:00.000Z' },
    ]);
    expect(store.forgottenJobs().map((j) => j.jobId)).toEqual(['2']);
    store.close();
  });

  it('prunes the jobs of one backend the scheduler no longer lists, unless a stored task has the job or it was forgotten after the listing', () => {
    const store = openSqliteStore(join(dir, 'scripthut.db'));
    store.insertRun(makeRun('r0000001', { backendName: 'hpc' }), [
      makeTask('r0000001', 'a', 0, 'completed', { jobId: '7' }),
    ]);
    const at = '2030-01-01T00:00:00.000Z';
    for (const id of ['5', '6', '7']) store.forgetJob('hpc', id, at);
    store.forgetJob('hpc', '8', '2030-01-09T00:00:00.000Z'); // after the listing began
    store.forgetJob('other', '5', at);
    const pruned = store.pruneUnlistedForgottenJobs('hpc', ['6'], '2030-01-02T00:00:00.000Z');
    expect(pruned).toEqual([{ backend: 'hpc', jobId: '5', forgottenAt: at }]);
    expect(store.forgottenJobs().map((j) => `${j.backend}:${j.jobId}`)).toEqual([
      'hpc:6',
      'hpc:7',
      'other:5',
      'hpc:8',
    ]);
    store.close();
  });
});
