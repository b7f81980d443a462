/**
 * The run activity series over the real runtime and its SQLite store: `GET /api/v1/runs/:id/activity`
 * and the run page's timeline tab (chart for a large run, rows for a small one). The runs are written
 * straight into the store with known transition times.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunActivity, RunRecord, TaskRecord, TaskState, TaskUpdate } from '@scripthut/core';
import { taskSpec } from '@scripthut/core/testing';
import { createRuntime, loadOrCreateAuthToken, type Runtime } from '@scripthut/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/index.js';
import { ACTIVITY_CHART_MIN_TASKS } from '../src/ui/activity-chart.js';
import { tokenClient } from './with-token.js';

const T0 = Date.parse('2026-03-01T10:00:00.000Z');
const iso = (sec: number) => new Date(T0 + sec * 1000).toISOString();

let dir: string;
let runtime: Runtime;
let app: ReturnType<typeof tokenClient<ReturnType<typeof createApp>>>;

function runRecord(id: string): RunRecord {
  return {
    id,
    workflowName: `activity-${id}`,
    backendName: 'local',
    origin: { kind: 'adhoc' },
    createdAt: iso(0),
    maxConcurrent: null,
    logDir: join(dir, 'logs', id),
    baseDir: null,
    git: null,
    cancelRequestedAt: null,
    environments: {},
  } as RunRecord;
}

function taskRecord(runId: string, seq: number): TaskRecord {
  return {
    runId,
    seq,
    spec: taskSpec(`t${String(seq).padStart(3, '0')}`),
    state: 'pending',
    submitTag: null,
    jobId: null,
    pendingReason: null,
    exitCode: null,
    error: null,
    script: null,
    stdoutPath: null,
    stderrPath: null,
    submittedAt: null,
    startedAt: null,
    finishedAt: null,
    node: null,
    meta: {},
    version: 0,
  };
}

/**
 * A finished run of `n` tasks written through the store: every task submitting at 0 s and submitted
 * at 1 s; `runs(i)` gives the task's [start, end] seconds, and `observed(i)` false when the engine never
 * saw it running (the marker path: submitted → completed, the real start recorded on the task only).
 */
function seedRun(
  id: string,
  n: number,
  runs: (i: number) => [number, number],
  observed: (i: number) => boolean = () => true,
): void {
  const tasks = Array.from({ length: n }, (_, i) => taskRecord(id, i));
  runtime.store.insertRun(runRecord(id), tasks);
  const step = (to: TaskState, sec: number, patch: TaskUpdate['patch'] = {}) =>
    tasks.map((t) => ({
      runId: id,
      taskId: t.spec.id,
      patch: { state: to, ...patch },
      transition: { to, at: iso(sec), reason: null },
    }));
  runtime.store.updateTasks(step('submitting', 0));
  runtime.store.updateTasks(step('submitted', 1, { submittedAt: iso(1), jobId: '1' }));
  const updates: TaskUpdate[] = [];
  tasks.forEach((t, i) => {
    const [start, end] = runs(i);
    const taskId = t.spec.id;
    if (observed(i))
      updates.push({
        runId: id,
        taskId,
        patch: { state: 'running', startedAt: iso(start) },
        transition: { to: 'running', at: iso(start), reason: null },
      });
    updates.push({
      runId: id,
      taskId,
      patch: { state: 'completed', startedAt: iso(start), finishedAt: iso(end), exitCode: 0 },
      transition: { to: 'completed', at: iso(end), reason: 'marker' },
    });
  });
  runtime.store.updateTasks(updates);
}

const LARGE = 'a0000001';
const SMALL = 'a0000002';
const LARGE_N = 250;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'scripthut-activity-'));
  runtime = await createRuntime({ dataDir: dir, cwd: dir, logger: { info() {}, warn() {}, error() {} } });
  app = tokenClient(createApp(runtime, { env: {} }), loadOrCreateAuthToken(dir));
  // tasks 0..99 run 2..12 s; 100..249 run 12..22 s, of which 240..249 were never seen running
  seedRun(
    LARGE,
    LARGE_N,
    (i) => (i < 100 ? [2, 12] : [12, 22]),
    (i) => i < 240,
  );
  seedRun(SMALL, 3, (i) => [2 + i, 5 + i]);
});
afterAll(async () => {
  await runtime?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('GET /api/v1/runs/:id/activity (real runtime, SQLite store)', () => {
  it('needs a credential', async () => {
    const res = await app.app.request(`/api/v1/runs/${LARGE}/activity`);
    expect(res.status).toBe(401);
  });

  it('counts queued and running tasks at their recorded times, real starts included', async () => {
    const res = await app.request(`/api/v1/runs/${LARGE}/activity`);
    expect(res.status).toBe(200);
    const a = (await res.json()) as RunActivity;
    expect(a.startedAt).toBe(iso(0));
    expect(a.bucketMs).toBeNull();
    expect(a.points).toEqual([
      { t: 0, queued: 0, running: 0 },
      { t: 1000, queued: 250, running: 0 },
      { t: 2000, queued: 150, running: 100 },
      // 140 seen running + 10 completed through the marker with a recorded start at 12 s
      { t: 12_000, queued: 0, running: 150 },
      { t: 22_000, queued: 0, running: 0 },
    ]);
    expect(a).toMatchObject({
      spanMs: 22_000,
      peakQueued: 250,
      peakQueuedAt: 1000,
      peakRunning: 150,
      peakRunningAt: 12_000,
      queuedNow: 0,
      runningNow: 0,
      tasks: 250,
    });
  });

  it('an unknown run is a 404', async () => {
    const res = await app.request('/api/v1/runs/ffffffff/activity');
    expect(res.status).toBe(404);
  });
});

describe('run page timeline tab', () => {
  it('a large run shows the activity chart instead of one row per task', async () => {
    expect(LARGE_N).toBeGreaterThan(ACTIVITY_CHART_MIN_TASKS);
    const res = await app.request(`/runs/${LARGE}?view=timeline`);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('data-activity="chart"');
    expect(html).toMatch(/<svg[^>]*role="img"[^>]*aria-labelledby="run-activity-title run-activity-desc"/);
    expect(html).toContain('<title id="run-activity-title">Tasks queued and running over time</title>');
    expect(html).toContain('Peak running: 150 at +12s; peak queued: 250 at +1s; over 22s and 250 tasks.');
    expect(html).toContain('data-series="running"');
    expect(html).toContain('+20s'); // a time axis label
    expect(html).not.toContain('class="gantt"');
    // the tasks tab of the same run keeps its table
    const tasks = await (await app.request(`/runs/${LARGE}`)).text();
    expect(tasks).toContain('data-task="t000"');
    expect(tasks).not.toContain('data-activity=');
  });

  it('the live fragment of the timeline tab carries the chart too', async () => {
    const stream = await app.request(`/live/runs/${LARGE}?view=timeline`);
    expect(stream.status).toBe(200);
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
    const dec = new TextDecoder();
    let text = '';
    while (!text.includes('event: swap')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += dec.decode(value);
    }
    // read up to the end of the event's data line
    while (!/event: swap\ndata: .*\n/.test(text)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += dec.decode(value);
    }
    await reader.cancel();
    const data = JSON.parse(/event: swap\ndata: (.*)\n/.exec(text)?.[1] ?? '{}') as Record<string, string>;
    expect(data['run-tasks']).toContain('data-activity="chart"');
    expect(data['run-tasks']).toContain('Peak running: 150 at +12s');
  });

  it('a small run keeps one timeline row per task', async () => {
    const res = await app.request(`/runs/${SMALL}?view=timeline`);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('class="gantt"');
    expect(html).toContain('title="t002: completed"');
    expect(html).not.toContain('data-activity=');
  });
});
