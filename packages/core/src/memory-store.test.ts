import { describe, expect, it } from 'vitest';
import type { RunRecord } from './domain.js';
import { MemoryRunStore } from './memory-store.js';
import type { CacheEntry } from './store.js';

const run = (id: string): RunRecord => ({
  id,
  workflowName: 'wf',
  backendName: 'fake',
  origin: { kind: 'demo' },
  createdAt: '2030-01-01T00:00:00.000Z',
  maxConcurrent: null,
  logDir: '/tmp/logs',
  baseDir: null,
  git: null,
  cancelRequestedAt: null,
  environments: {},
});

const parts = { command: 'c', environment: 'e', workingDir: 'w', image: 'i', commit: 'g', inputs: 'n' };
const entry = (runId: string, taskId: string, key: string, completedAt: string): CacheEntry => ({
  scope: 'fake\u0000wf',
  key,
  runId,
  taskId,
  parts,
  outputs: [],
  completedAt,
  sourceRunId: runId,
  sourceTaskId: taskId,
});

describe('MemoryRunStore cache entries', () => {
  it('keeps one entry per run and task (the last recorded), finds the latest, forgets deleted runs', () => {
    const store = new MemoryRunStore();
    store.insertRun(run('r1'), []);
    store.insertRun(run('r2'), []);
    store.recordCacheEntries([
      entry('r1', 'a', 'k1', '2030-01-01T00:00:01.000Z'),
      entry('r2', 'a', 'k1', '2030-01-01T00:00:02.000Z'),
    ]);
    expect(store.findCacheEntry('fake\u0000wf', 'k1')).toMatchObject({ runId: 'r2' });
    // r2/a recorded again with another key: it replaces r2's entry, k1 is left to r1.
    store.recordCacheEntries([entry('r2', 'a', 'k2', '2030-01-01T00:00:03.000Z')]);
    expect(store.findCacheEntry('fake\u0000wf', 'k1')).toMatchObject({ runId: 'r1' });
    expect(store.lastCacheEntryOfTask('fake\u0000wf', 'a')).toMatchObject({ runId: 'r2', key: 'k2' });
    store.deleteRun('r2');
    expect(store.findCacheEntry('fake\u0000wf', 'k2')).toBeNull();
    expect(store.lastCacheEntryOfTask('fake\u0000wf', 'a')).toMatchObject({ runId: 'r1', key: 'k1' });
  });
});
