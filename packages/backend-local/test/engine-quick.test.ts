import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine, MemoryRunStore, parseTaskDocument } from '@scripthut/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createLocalBackend } from '../src/index.js';

let engine: Engine | null = null;
afterEach(async () => {
  await engine?.stop();
  engine = null;
});

describe('engine + local backend: completion through exit markers', () => {
  it('records a finished task and submits its dependent long before the next poll', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sh-quick-'));
    const backend = createLocalBackend({ name: 'local', maxConcurrent: 2, spoolDir: join(dir, 'spool') });
    const store = new MemoryRunStore();
    // A poll interval of one hour: the run can only finish through quickStatus (exit markers), and
    // the scheduler-side status() is never needed for a job.
    let statusCalls = 0;
    const status = backend.status.bind(backend);
    backend.status = (jobs) => {
      if (jobs.length) statusCalls++;
      return status(jobs);
    };
    engine = new Engine({ store, backends: [backend], pollIntervalMs: 3_600_000 });
    await engine.start();
    const { tasks } = parseTaskDocument(
      {
        tasks: [
          { id: 'a', name: 'a', command: 'sleep 0.3; exit 0', working_dir: dir },
          { id: 'b', name: 'b', command: 'echo done', working_dir: dir, deps: ['a'] },
          { id: 'c', name: 'c', command: 'exit 7', working_dir: dir, deps: ['b'] },
        ],
      },
      { knownEnvironments: [] },
    );
    const deadline = Date.now() + 120_000;
    const run = engine.createRun({
      workflowName: 'quick',
      backendName: 'local',
      origin: { kind: 'adhoc' },
      tasks,
      maxConcurrent: null,
      logDir: join(dir, 'logs'),
    });
    for (;;) {
      const s = store.summarizeRun(run.id)!;
      if (s.status === 'failed' || s.status === 'completed') break;
      if (Date.now() > deadline) throw new Error(`run did not finish: ${JSON.stringify(s.counts)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(statusCalls).toBe(0);
    const byId = Object.fromEntries(store.allTasks(run.id).map((t) => [t.spec.id, t]));
    expect(byId.a!.state).toBe('completed');
    expect(byId.b!.state).toBe('completed');
    expect(byId.c!.state).toBe('failed');
    expect(byId.c!.exitCode).toBe(7);
  });
});
