/**
 * `TaskUpdate.expectedState`: the engine says which state it believes a task is in, and the store
 * writes without reading the row first. The stored row still decides: a wrong expectation changes
 * nothing about what is recorded (transition `from`, counts), and versions stay store-wide
 * increasing even above rows inserted with high versions.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteStore, type SqliteRunStore } from '../src/index.js';
import { makeRun, makeTask } from './fixtures.js';

let dir: string;
let store: SqliteRunStore;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'scripthut-expected-state-'));
  store = openSqliteStore(join(dir, 'scripthut.db'));
  store.insertRun(makeRun('run00001'), [
    makeTask('run00001', 'a', 0, 'pending'),
    makeTask('run00001', 'b', 1, 'running', { version: 7 }),
  ]);
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const at = '2025-01-01T00:00:01.000Z';

describe('updateTasks with expectedState', () => {
  it('a right expectation: the row is written, `from` and the counts are the stored state', () => {
    store.updateTasks([
      {
        runId: 'run00001',
        taskId: 'a',
        patch: { submitTag: 'tag-1' },
        transition: { to: 'submitting', at, reason: null },
        expectedState: 'pending',
      },
    ]);
    expect(store.getTask('run00001', 'a')).toMatchObject({ state: 'submitting', submitTag: 'tag-1' });
    expect(store.transitions('run00001', 'a').map((t) => `${t.from}>${t.to}`)).toEqual([
      'pending>submitting',
    ]);
    expect(store.summarizeRun('run00001')!.counts).toMatchObject({ pending: 0, submitting: 1, running: 1 });
  });

  it('a wrong expectation: the update still applies, and what is recorded comes from the stored row', () => {
    store.updateTasks([
      {
        runId: 'run00001',
        taskId: 'b',
        patch: { exitCode: 0 },
        transition: { to: 'completed', at, reason: null },
        expectedState: 'queued',
      },
    ]);
    expect(store.getTask('run00001', 'b')).toMatchObject({ state: 'completed', exitCode: 0 });
    expect(store.transitions('run00001', 'b').map((t) => `${t.from}>${t.to}`)).toEqual(['running>completed']);
    expect(store.summarizeRun('run00001')!.counts).toMatchObject({
      pending: 1,
      running: 0,
      completed: 1,
      queued: 0,
    });
  });

  it('an unknown task fails the whole call and writes nothing', () => {
    expect(() =>
      store.updateTasks([
        { runId: 'run00001', taskId: 'a', patch: { error: 'x' }, expectedState: 'pending' },
        { runId: 'run00001', taskId: 'zz', patch: { error: 'x' }, expectedState: 'pending' },
      ]),
    ).toThrow(/task zz of run run00001 does not exist/);
    expect(store.getTask('run00001', 'a')!.error).toBeNull();
  });

  it('versions keep increasing past a row inserted with a higher version than any written before', () => {
    expect(store.taskVersion()).toBe(7);
    store.updateTasks([
      { runId: 'run00001', taskId: 'a', patch: { error: 'x' }, expectedState: 'pending' },
      { runId: 'run00001', taskId: 'b', patch: { error: 'y' }, expectedState: 'running' },
    ]);
    expect(store.getTask('run00001', 'a')!.version).toBe(8);
    expect(store.getTask('run00001', 'b')!.version).toBe(9);
    expect(store.taskVersion()).toBe(9);
  });
});
