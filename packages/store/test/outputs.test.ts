import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StoredOutputListing } from '@scripthut/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteStore, type SqliteRunStore } from '../src/index.js';
import { makeRun, makeTask } from './fixtures.js';

let dir: string;
let store: SqliteRunStore;
const path = () => join(dir, 'scripthut.db');
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'scripthut-store-out-'));
  store = openSqliteStore(path());
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const now = () => new Date().toISOString();
function finish(runId: string, taskId: string, state: 'completed' | 'failed') {
  store.updateTasks([
    {
      runId,
      taskId,
      patch: { state, jobId: `job-${taskId}`, finishedAt: now() },
      transition: { to: state, at: now(), reason: null },
    },
  ]);
}
const listing = (runId: string, taskId: string): StoredOutputListing => ({
  runId,
  taskId,
  listedAt: now(),
  missing: false,
  files: [{ path: 'plot.png', size: 3, mtime: now() }],
  truncated: false,
  skipped: 0,
  taskSummary: { text: '# t', truncated: false },
  runSummary: { text: `part ${taskId}`, truncated: false },
  error: null,
});

describe('task outputs', () => {
  it('stores, replaces and reads back a listing; fragments come in task order; deleted with the run', () => {
    store.insertRun(makeRun('r1'), [makeTask('r1', 'b', 1, 'running'), makeTask('r1', 'a', 0, 'running')]);
    store.saveTaskOutputs(listing('r1', 'b'));
    store.saveTaskOutputs(listing('r1', 'a'));
    store.saveTaskOutputs({ ...listing('r1', 'a'), files: [] });
    expect(store.getTaskOutputs('r1', 'a')?.files).toEqual([]);
    expect(store.getTaskOutputs('r1', 'b')).toMatchObject({
      taskId: 'b',
      files: [{ path: 'plot.png', size: 3 }],
      taskSummary: { text: '# t' },
    });
    expect(store.runSummaryFragments('r1').map((f) => f.summary.text)).toEqual(['part a', 'part b']);
    store.deleteRun('r1');
    expect(store.getTaskOutputs('r1', 'a')).toBeNull();
  });

  it('finds ended tasks without a listing on the given backends, not kept ones', () => {
    store.insertRun(makeRun('r2', { backendName: 'hpc' }), [
      makeTask('r2', 'a', 0, 'running'),
      makeTask('r2', 'b', 1, 'running'),
      makeTask('r2', 'c', 2, 'running'),
      makeTask('r2', 'k', 3, 'completed', { jobId: 'j', finishedAt: now(), meta: { keptFrom: 'r0' } }),
    ]);
    finish('r2', 'a', 'completed');
    finish('r2', 'b', 'failed');
    store.saveTaskOutputs(listing('r2', 'b'));
    expect(store.tasksAwaitingOutputs(['hpc'], 10)).toEqual([{ runId: 'r2', taskId: 'a' }]);
    expect(store.tasksAwaitingOutputs(['other'], 10)).toEqual([]);
  });
});

describe('run notification outbox', () => {
  it('gets one pending row when a run finishes (same transaction), none while it runs, kept across reopen', () => {
    store.insertRun(makeRun('r3'), [makeTask('r3', 'a', 0, 'running'), makeTask('r3', 'b', 1, 'running')]);
    finish('r3', 'a', 'completed');
    expect(store.getRunNotification('r3')).toBeNull();
    finish('r3', 'b', 'failed');
    const row = store.getRunNotification('r3');
    expect(row).toMatchObject({ runId: 'r3', state: 'pending', attempts: 0 });
    expect(
      store.dueRunNotifications(new Date(Date.now() + 1000).toISOString(), 10).map((r) => r.runId),
    ).toEqual(['r3']);
    store.updateRunNotification('r3', { state: 'delivered', attempts: 1, deliveredAt: now() });
    expect(store.dueRunNotifications(new Date(Date.now() + 1000).toISOString(), 10)).toEqual([]);
    store.close();
    store = openSqliteStore(path());
    expect(store.getRunNotification('r3')).toMatchObject({ state: 'delivered', attempts: 1 });
  });

  it('a run that finishes again after a rerun in place gets a new pending row (its task writes do not fail)', () => {
    store.insertRun(makeRun('r5'), [makeTask('r5', 'a', 0, 'running')]);
    finish('r5', 'a', 'failed');
    store.updateRunNotification('r5', { state: 'delivered', attempts: 1, deliveredAt: now() });
    // rerun in place: the task goes back to pending (run active again), then finishes again
    store.updateTasks([
      {
        runId: 'r5',
        taskId: 'a',
        patch: { jobId: null },
        transition: { to: 'pending', at: now(), reason: 'rerun' },
      },
    ]);
    expect(store.summarizeRun('r5')!.status).toBe('pending');
    expect(store.getRunNotification('r5')).toMatchObject({ state: 'delivered' });
    finish('r5', 'a', 'completed');
    expect(store.summarizeRun('r5')!.status).toBe('completed');
    expect(store.getRunNotification('r5')).toMatchObject({
      state: 'pending',
      attempts: 0,
      deliveredAt: null,
    });
  });

  it('a retry waits for its time', () => {
    store.insertRun(makeRun('r4'), [makeTask('r4', 'a', 0, 'running')]);
    finish('r4', 'a', 'completed');
    const later = new Date(Date.now() + 60_000).toISOString();
    store.updateRunNotification('r4', { attempts: 1, nextAttemptAt: later, lastError: 'HTTP 500' });
    expect(store.dueRunNotifications(now(), 10)).toEqual([]);
    expect(store.dueRunNotifications(new Date(Date.now() + 61_000).toISOString(), 10)).toHaveLength(1);
  });
});
