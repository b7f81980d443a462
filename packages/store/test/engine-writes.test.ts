/**
 * The engine's write path on the real SQLite store: what a scheduling pass writes, and that a
 * completion and its cache entry are one transaction.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine, parseTaskDocument } from '@scripthut/core';
import { FakeBackend } from '@scripthut/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteStore, type SqliteRunStore } from '../src/index.js';

let dir: string;
let store: SqliteRunStore;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'scripthut-engine-writes-'));
  store = openSqliteStore(join(dir, 'scripthut.db'));
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function startEngine({ instant = true } = {}) {
  const backend = new FakeBackend({ name: 'fake', maxConcurrent: 10, instant });
  const engine = new Engine({
    store,
    backends: [backend],
    pollIntervalMs: 0,
    autoLoop: false,
    clusterInfoIntervalMs: 0,
  });
  await engine.start();
  const { tasks } = parseTaskDocument(
    JSON.stringify({
      tasks: [
        { id: 'a', name: 'a', command: 'echo a' },
        { id: 'b', name: 'b', command: 'echo b', deps: ['a'] },
      ],
    }),
    { knownEnvironments: [] },
  );
  const run = engine.createRun({
    workflowName: 'wf',
    backendName: 'fake',
    origin: { kind: 'demo' },
    tasks,
    maxConcurrent: null,
  });
  return { engine, backend, run };
}

describe('engine writes on the SQLite store', () => {
  it('stores a completion and its cache entry together: a failed entry write leaves neither, and the engine retries', async () => {
    const { engine, run } = await startEngine();
    await engine.tick('fake'); // a: submitting → submitted
    expect(store.getTask(run.id, 'a')).toMatchObject({ state: 'submitted' });
    const key = store.getTask(run.id, 'a')!.meta.cacheKey as string;
    expect(key).toMatch(/^[0-9a-f]{64}$/);

    const record = store.recordCacheEntries.bind(store);
    let failures = 0;
    store.recordCacheEntries = () => {
      failures++;
      throw new Error('disk full (test)');
    };
    await engine.tick('fake'); // the poll sees a's job done; the write fails
    expect(failures).toBe(1);
    expect(engine.backendState('fake').lastError).toContain('disk full (test)');
    // Rolled back: the completion is not stored, and the engine did not act on it (b not submitted).
    expect(store.getTask(run.id, 'a')).toMatchObject({ state: 'submitted' });
    expect(store.transitions(run.id, 'a').map((t) => t.to)).toEqual(['submitting', 'submitted']);
    expect(store.getTask(run.id, 'b')).toMatchObject({ state: 'pending' });
    expect(store.summarizeRun(run.id)!.counts).toMatchObject({ submitted: 1, pending: 1, completed: 0 });
    expect(store.findCacheEntry('fake\u0000wf', key)).toBeNull();

    store.recordCacheEntries = record;
    await engine.tick('fake'); // the next poll sees a's job done again: completed + entry, b submitted
    expect(engine.backendState('fake').lastError).toBeNull();
    expect(store.getTask(run.id, 'a')).toMatchObject({ state: 'completed', exitCode: 0 });
    expect(store.findCacheEntry('fake\u0000wf', key)).toMatchObject({ runId: run.id, taskId: 'a', key });
    expect(store.getTask(run.id, 'b')).toMatchObject({ state: 'submitted' });
    while (engine.activeRunIds().length) await engine.tick('fake');
    expect(store.summarizeRun(run.id)).toMatchObject({ status: 'completed', counts: { completed: 2 } });
    await engine.stop();
  });

  it('records every transition, stats and a store-wide version on the way through a run', async () => {
    const { engine, run } = await startEngine();
    const v0 = store.taskVersion();
    while (engine.activeRunIds().length) await engine.tick('fake');
    await engine.stop();
    for (const id of ['a', 'b'])
      expect(store.transitions(run.id, id).map((t) => `${t.from}>${t.to}`)).toEqual([
        'pending>submitting',
        'submitting>submitted',
        'submitted>completed',
      ]);
    const summary = store.summarizeRun(run.id)!;
    expect(summary.counts).toMatchObject({ completed: 2, pending: 0, submitted: 0 });
    expect(summary.firstSubmittedAt).toBe(store.getTask(run.id, 'a')!.submittedAt);
    expect(summary.lastFinishedAt).toBe(store.getTask(run.id, 'b')!.finishedAt);
    // Three writes per task, each with its own version above every earlier one.
    expect(store.taskVersion()).toBe(v0 + 6);
    const versions = ['a', 'b'].map((id) => store.getTask(run.id, id)!.version);
    expect(new Set(versions).size).toBe(2);
    expect(Math.max(...versions)).toBe(v0 + 6);
  });

  it('stores the rendered script with the intent; an outcome rewrites it only when the backend submitted another', async () => {
    const { engine, backend, run } = await startEngine({ instant: false });
    // What the store holds at the moment the backend is called (after the intent's commit).
    const atSubmit = new Map<string, string | null>();
    const submit = backend.submit.bind(backend);
    backend.submit = async (requests) => {
      for (const r of requests) atSubmit.set(r.taskId, store.getTask(run.id, r.taskId)!.script);
      const outcomes = await submit(requests);
      // b's job runs a wrapper of the backend's own (as an array element or a site wrapper would).
      return outcomes.map((o) =>
        o.taskId === 'b' && o.ok ? { ...o, script: '#!/bin/bash\n# wrapper\n' } : o,
      );
    };
    while (engine.activeRunIds().length) await engine.tick('fake');
    await engine.stop();
    const a = store.getTask(run.id, 'a')!;
    // The script of this attempt's request (the fake renders the tag into it), kept as submitted.
    expect(atSubmit.get('a')).toContain(`# fake job ${a.submitTag}`);
    expect(atSubmit.get('a')).toContain('echo a');
    expect(a.script).toBe(atSubmit.get('a'));
    expect(atSubmit.get('b')).toContain('echo b');
    expect(store.getTask(run.id, 'b')!.script).toBe('#!/bin/bash\n# wrapper\n');
  });
});
