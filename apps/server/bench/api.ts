/**
 * API benchmark (not a test): a 10,000-task run in a temp SQLite store, served by the real runtime
 * through `app.request`. Measures run detail, a task page, the groups endpoint and the UI run page.
 *
 *   pnpm tsx apps/server/bench/api.ts      → prints a table, writes apps/server/bench/results/api.json
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunRecord, TaskRecord, TaskState } from '@scripthut/core';
import { createRuntime } from '@scripthut/runtime';
import { openSqliteStore } from '@scripthut/store';
import { createApp } from '../src/index.js';

const TASKS = Number(process.env.BENCH_TASKS ?? 10_000);
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 60);
const RUN_ID = 'bench001';

function seed(dataDir: string): void {
  const store = openSqliteStore(join(dataDir, 'scripthut.db'));
  const now = Date.now();
  const run: RunRecord = {
    id: RUN_ID,
    workflowName: 'bench',
    backendName: 'local',
    origin: { kind: 'workflow', name: 'bench' },
    createdAt: new Date(now - 3600_000).toISOString(),
    maxConcurrent: null,
    logDir: join(dataDir, 'logs'),
    baseDir: null,
    git: null,
    cancelRequestedAt: null,
    environments: {},
  };
  // Terminal states only, so the engine has nothing to submit or poll while we measure.
  const states: TaskState[] = ['completed', 'completed', 'completed', 'failed', 'dep_failed'];
  const tasks: TaskRecord[] = Array.from({ length: TASKS }, (_, seq) => {
    const group = `stage${seq % 20}`;
    const id = `${group}.task${String(seq).padStart(5, '0')}`;
    const state = states[seq % states.length] as TaskState;
    const submitted = now - 3000_000 + seq * 100;
    return {
      runId: RUN_ID,
      seq,
      spec: {
        id,
        name: `Task ${seq}`,
        command: `echo ${seq}`,
        workingDir: '~',
        partition: 'normal',
        cpus: 1,
        memory: '1G',
        memoryMiB: 1024,
        timeLimit: '1:00:00',
        timeLimitSeconds: 3600,
        gres: null,
        image: null,
        deps: seq >= 20 ? [`stage${(seq - 20) % 20}.task${String(seq - 20).padStart(5, '0')}`] : [],
        depPatterns: [],
        outputFile: null,
        errorFile: null,
        environment: null,
        envVars: {},
        generatesSource: null,
      },
      state,
      submitTag: `b${seq}`,
      jobId: String(100000 + seq),
      pendingReason: null,
      exitCode: state === 'completed' ? 0 : state === 'failed' ? 1 : null,
      error: state === 'failed' ? 'exit code 1' : state === 'dep_failed' ? 'a dependency failed' : null,
      script: `#!/bin/bash\necho ${seq}\n`,
      stdoutPath: null,
      stderrPath: null,
      submittedAt: new Date(submitted).toISOString(),
      startedAt: new Date(submitted + 1000).toISOString(),
      finishedAt: new Date(submitted + 5000).toISOString(),
      node: 'localhost',
      meta: {},
      version: 1,
    };
  });
  // Inserted pending, then moved to their states through the store, so the run has the transitions
  // a real one would (submitting → submitted → running → final; dep_failed straight from pending).
  store.insertRun(
    run,
    tasks.map((t) => ({ ...t, state: 'pending' as TaskState })),
  );
  const step = (pick: (t: TaskRecord) => [TaskState, string] | null) =>
    store.updateTasks(
      tasks.flatMap((t) => {
        const next = pick(t);
        if (!next) return [];
        const [to, at] = next;
        return [
          { runId: RUN_ID, taskId: t.spec.id, patch: { state: to }, transition: { to, at, reason: null } },
        ];
      }),
    );
  const live = (t: TaskRecord) => t.state !== 'dep_failed';
  step((t) => (live(t) ? ['submitting', t.submittedAt as string] : null));
  step((t) => (live(t) ? ['submitted', t.submittedAt as string] : null));
  step((t) => (live(t) ? ['running', t.startedAt as string] : null));
  step((t) => [t.state, t.finishedAt as string]);
  store.close();
}

function stats(samples: number[]) {
  const s = [...samples].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))] as number;
  const round = (n: number) => Math.round(n * 100) / 100;
  return {
    median: round(q(0.5)),
    p95: round(q(0.95)),
    min: round(s[0] as number),
    max: round(s[s.length - 1] as number),
    n: s.length,
  };
}

const BENCH_TOKEN = 'bench-token';

async function measure(app: ReturnType<typeof createApp>, path: string) {
  const samples: number[] = [];
  for (let i = 0; i < ITERATIONS + 5; i++) {
    const t0 = performance.now();
    const res = await app.request(path, { headers: { authorization: `Bearer ${BENCH_TOKEN}` } });
    await res.text();
    const dt = performance.now() - t0;
    if (res.status !== 200) throw new Error(`${path} → ${res.status}`);
    if (i >= 5) samples.push(dt); // warm-up
  }
  return stats(samples);
}

const dataDir = mkdtempSync(join(tmpdir(), 'scripthut-bench-'));
try {
  seed(dataDir);
  const runtime = await createRuntime({ dataDir, cwd: dataDir, lock: false });
  await runtime.start();
  const app = createApp(runtime, { authToken: BENCH_TOKEN });
  const results = {
    tasks: TASKS,
    iterations: ITERATIONS,
    node: process.version,
    at: new Date().toISOString(),
    targetMedianMs: 100,
    endpoints: {
      'GET /api/v1/runs/:id (detail + first 100 tasks)': await measure(app, `/api/v1/runs/${RUN_ID}`),
      'GET /api/v1/runs/:id/tasks?limit=100&offset=5000': await measure(
        app,
        `/api/v1/runs/${RUN_ID}/tasks?limit=100&offset=5000`,
      ),
      'GET /api/v1/runs/:id/tasks?state=failed&limit=100': await measure(
        app,
        `/api/v1/runs/${RUN_ID}/tasks?state=failed&limit=100`,
      ),
      'GET /api/v1/runs/:id/groups (cached until counts change)': await measure(
        app,
        `/api/v1/runs/${RUN_ID}/groups`,
      ),
      'GET /runs/:id (UI page)': await measure(app, `/runs/${RUN_ID}`),
      'GET /api/v1/runs': await measure(app, '/api/v1/runs'),
      'GET /api/v1/runs/:id/activity (all transitions → ≤ 300 points)': await measure(
        app,
        `/api/v1/runs/${RUN_ID}/activity`,
      ),
      'GET /runs/:id?view=timeline (UI page, activity chart)': await measure(
        app,
        `/runs/${RUN_ID}?view=timeline`,
      ),
    },
  };
  await runtime.close();
  const out = join(import.meta.dirname, 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'api.json'), `${JSON.stringify(results, null, 2)}\n`);
  console.table(
    Object.fromEntries(
      Object.entries(results.endpoints).map(([k, v]) => [k, { 'median ms': v.median, 'p95 ms': v.p95 }]),
    ),
  );
  const detail = results.endpoints['GET /api/v1/runs/:id (detail + first 100 tasks)'];
  console.log(
    `run detail median ${detail.median} ms (target < 100 ms): ${detail.median < 100 ? 'OK' : 'TOO SLOW'}`,
  );
  const activity = results.endpoints['GET /api/v1/runs/:id/activity (all transitions → ≤ 300 points)'];
  console.log(`activity median / run detail median: ${(activity.median / detail.median).toFixed(1)}×`);
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
