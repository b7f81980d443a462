/**
 * Exactly one Slurm job per task when submitting a large run spans many poll ticks (the original
 * created 160–190 jobs for a 100-task run and ~960 for 500): 160 tasks (four times the cap), a 5 s poll, a cap of 40.
 */
import { Engine, parseTaskDocument, tagOfJobName } from '@scripthut/core';
import { MemoryRunStore } from '@scripthut/core/testing';
import type { SshConnection } from '@scripthut/ssh';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, makeBackend, RUN, sleep } from './helpers.js';

const N = 160;
const MAX = 40;
const LOGS = `~/scripthut-test-logs/${RUN}-scale`;
let ssh: SshConnection;
let observer: SshConnection;
let store: MemoryRunStore;
let engine: Engine;

beforeAll(async () => {
  ssh = connect();
  observer = connect();
  store = new MemoryRunStore();
  engine = new Engine({
    store,
    backends: [makeBackend(ssh, MAX)],
    pollIntervalMs: 5000,
    clusterInfoIntervalMs: 0,
    // One job per task is what this file checks (job arrays: arrays.test.ts).
    arrays: { local: { mode: 'off' } },
  });
  await engine.start();
});

afterAll(async () => {
  await engine?.stop();
  await ssh?.exec(`rm -rf "$HOME"/scripthut-test-logs/${RUN}-scale`).catch(() => undefined);
  await ssh?.close();
  await observer?.close();
});

describe('a 160-task run on the real Slurm', () => {
  it('creates exactly 160 Slurm jobs, one per task, and never more than max_concurrent in flight', async () => {
    const { tasks } = parseTaskDocument(
      Array.from({ length: N }, (_, i) => ({
        id: `t.${i}`,
        name: `t${i}`,
        command: 'true',
        memory: '20M',
        time_limit: '0:05:00',
      })),
      { knownEnvironments: [] },
    );
    const run = engine.createRun({
      workflowName: 'scale',
      backendName: 'local',
      origin: { kind: 'adhoc' },
      tasks,
      maxConcurrent: null,
      logDir: LOGS,
    });
    let maxSeen = 0;
    const deadline = Date.now() + 540_000;
    for (;;) {
      const s = engine.summary(run.id)!;
      if (s.status !== 'running' && s.status !== 'pending') break;
      if (Date.now() > deadline) throw new Error(`run did not finish: ${JSON.stringify(s.counts)}`);
      const r = await observer.exec(`squeue -h -t PD,CF,R -u hut -o '%j'`);
      maxSeen = Math.max(maxSeen, r.stdout.split('\n').filter((l) => l.startsWith(`sh${run.id}`)).length);
      await sleep(1000);
    }
    const records = store.allTasks(run.id);
    expect(engine.summary(run.id)!.status).toBe('completed');
    expect(records.every((t) => t.state === 'completed')).toBe(true);
    expect(maxSeen).toBeGreaterThan(0);
    expect(maxSeen).toBeLessThanOrEqual(MAX);

    // Accounting: the run's job names (`<submit tag>-<task name>`), each tag exactly once, N in all.
    const tags = new Set(records.map((t) => t.submitTag!));
    expect(tags.size).toBe(N);
    let names: string[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await observer.exec(
        `sacct -n -P -X -u hut --format=JobName --starttime now-2hours | grep '^sh${run.id}' || true`,
      );
      names = r.stdout.split('\n').filter(Boolean);
      if (names.length >= N) break;
      await sleep(1000); // accounting lags behind a burst
    }
    expect(names.length).toBe(N);
    expect(new Set(names).size).toBe(N);
    const named = names.map((n) => tagOfJobName(n));
    expect(new Set(named).size).toBe(N);
    for (const t of named) expect(tags.has(t ?? '')).toBe(true);
  }, 600_000);
});
