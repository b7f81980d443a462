/**
 * The real run engine (`@scripthut/core`, in-memory store) driving the Slurm backend on the local
 * cluster: a 20-task DAG with wildcard deps, the in-flight cap as seen by squeue, and failure
 * propagation.
 */
import { Engine, parseTaskDocument, type RunStatus, type TaskRecord, tagOfJobName } from '@scripthut/core';
import { MemoryRunStore } from '@scripthut/core/testing';
import type { SshConnection } from '@scripthut/ssh';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, makeBackend, RUN, sleep } from './helpers.js';

const MAX = 3;
const LOGS = `~/scripthut-test-logs/${RUN}-engine`;
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
    pollIntervalMs: 1000,
    clusterInfoIntervalMs: 0,
    // One job per task is what this file checks (job arrays: arrays.test.ts).
    arrays: { local: { mode: 'off' } },
  });
  await engine.start();
});

afterAll(async () => {
  await engine?.stop();
  await ssh?.exec(`rm -rf "$HOME"/scripthut-test-logs/${RUN}-engine`).catch(() => undefined);
  await ssh?.close();
  await observer?.close();
});

const TERMINAL_RUN: RunStatus[] = ['completed', 'failed', 'cancelled'];

async function waitRun(runId: string, timeoutMs: number, onTick?: () => Promise<void>): Promise<RunStatus> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const s = engine.summary(runId)?.status;
    if (s && TERMINAL_RUN.includes(s)) return s;
    if (onTick) await onTick();
    await sleep(500);
  }
  throw new Error(
    `run ${runId} did not finish in ${timeoutMs} ms: ${JSON.stringify(engine.summary(runId)?.counts)}`,
  );
}

function tasksOf(runId: string): TaskRecord[] {
  return store.allTasks(runId);
}

describe('engine over the Slurm backend (real cluster)', () => {
  it('a 20-task DAG with wildcard deps completes with exactly 20 Slurm jobs, never more than max_concurrent in flight', async () => {
    const doc = {
      tasks: [
        { id: 'prep', name: 'prep', command: 'sleep 1', memory: '50M', time_limit: '0:05:00' },
        ...Array.from({ length: 16 }, (_, i) => ({
          id: `work.${i}`,
          name: `work ${i}`,
          command: 'sleep 1; echo done',
          deps: ['prep'],
          memory: '50M',
          time_limit: '0:05:00',
        })),
        {
          id: 'merge',
          name: 'merge',
          command: 'true',
          deps: ['work.*'],
          memory: '50M',
          time_limit: '0:05:00',
        },
        {
          id: 'report',
          name: 'report',
          command: 'true',
          deps: ['merge'],
          memory: '50M',
          time_limit: '0:05:00',
        },
        {
          id: 'final',
          name: 'final',
          command: 'true',
          deps: ['report', 'work.1*'],
          memory: '50M',
          time_limit: '0:05:00',
        },
      ],
    };
    const { tasks } = parseTaskDocument(doc, { knownEnvironments: [] });
    expect(tasks).toHaveLength(20);
    expect(tasks.find((t) => t.id === 'merge')!.deps).toHaveLength(16);

    const run = engine.createRun({
      workflowName: 'engine-dag',
      backendName: 'local',
      origin: { kind: 'adhoc' },
      tasks,
      maxConcurrent: null,
      logDir: LOGS,
    });
    let maxSeen = 0;
    const observe = async () => {
      const r = await observer.exec(`squeue -h -t PD,CF,R -u hut -o '%j'`);
      const n = r.stdout.split('\n').filter((l) => l.startsWith(`sh${run.id}`)).length;
      maxSeen = Math.max(maxSeen, n);
    };
    const status = await waitRun(run.id, 240_000, observe);
    expect(status).toBe('completed');
    const records = tasksOf(run.id);
    expect(records.every((t) => t.state === 'completed')).toBe(true);
    expect(maxSeen).toBeGreaterThan(0);
    expect(maxSeen).toBeLessThanOrEqual(MAX);

    // Exactly 20 jobs carry this run's tags in accounting, one per task, with the recorded ids.
    const tags = records.map((t) => t.submitTag!);
    const ids = new Set(records.map((t) => t.jobId!));
    let rows: string[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await observer.exec(`sacct -n -P -X -u hut --format=JobIDRaw,JobName --starttime now-1hours`);
      const wanted = new Set(tags);
      rows = r.stdout.split('\n').filter((l) => wanted.has(tagOfJobName(l.split('|')[1] ?? '') ?? ''));
      if (rows.length >= 20) break;
      await sleep(500);
    }
    expect(rows).toHaveLength(20);
    expect(new Set(rows.map((l) => l.split('|')[0]))).toEqual(ids);
  });

  it('a failing task fails with its exit code and dep_fails its dependents', async () => {
    const { tasks } = parseTaskDocument(
      {
        tasks: [
          { id: 'a', name: 'a', command: 'exit 3', memory: '50M', time_limit: '0:05:00' },
          { id: 'b', name: 'b', command: 'true', deps: ['a'], memory: '50M', time_limit: '0:05:00' },
          { id: 'c', name: 'c', command: 'true', deps: ['b'], memory: '50M', time_limit: '0:05:00' },
          { id: 'd', name: 'd', command: 'true', memory: '50M', time_limit: '0:05:00' },
        ],
      },
      { knownEnvironments: [] },
    );
    const run = engine.createRun({
      workflowName: 'engine-fail',
      backendName: 'local',
      origin: { kind: 'adhoc' },
      tasks,
      maxConcurrent: null,
      logDir: LOGS,
    });
    expect(await waitRun(run.id, 120_000)).toBe('failed');
    const byId = new Map(tasksOf(run.id).map((t) => [t.spec.id, t]));
    expect(byId.get('a')).toMatchObject({ state: 'failed', exitCode: 3 });
    expect(byId.get('b')?.state).toBe('dep_failed');
    expect(byId.get('c')?.state).toBe('dep_failed');
    expect(byId.get('d')?.state).toBe('completed');
    expect(byId.get('b')?.jobId).toBeNull();
  });
});
