/** An in-memory CliApi for unit tests of the command layer (no runtime, no server). */
import {
  emptyStateCounts,
  type RunSummary,
  ScriptHutError,
  type TaskRecord,
  type TaskState,
} from '@scripthut/core';
import { taskSpec } from '@scripthut/core/testing';
import type { BackendDetail, WorkflowView } from '@scripthut/runtime';
import type { CliApi } from '../src/api.js';

export function task(
  runId: string,
  seq: number,
  id: string,
  state: TaskState,
  extra: Partial<TaskRecord> = {},
): TaskRecord {
  return {
    runId,
    seq,
    spec: taskSpec(id, { name: id, command: `echo ${id}` }),
    state,
    submitTag: null,
    jobId: state === 'pending' ? null : `${1000 + seq}`,
    pendingReason: null,
    exitCode: state === 'completed' ? 0 : state === 'failed' ? 1 : null,
    error: state === 'failed' ? 'exit code 1' : null,
    script: null,
    stdoutPath: null,
    stderrPath: null,
    submittedAt: '2025-01-01T00:00:00.000Z',
    startedAt: '2025-01-01T00:00:01.000Z',
    finishedAt: state === 'completed' || state === 'failed' ? '2025-01-01T00:00:03.500Z' : null,
    node: 'localhost',
    meta: {},
    version: 1,
    ...extra,
  };
}

export function summarize(
  runId: string,
  tasks: TaskRecord[],
  workflowName = 'demo',
  cancel = false,
): RunSummary {
  const counts = emptyStateCounts();
  for (const t of tasks) counts[t.state]++;
  const active = counts.submitting + counts.submitted + counts.queued + counts.running + counts.pending;
  const failed = counts.failed + counts.dep_failed + counts.cancelled;
  const status = active > 0 ? 'running' : cancel ? 'cancelled' : failed > 0 ? 'failed' : 'completed';
  return {
    run: {
      id: runId,
      workflowName,
      backendName: 'local',
      origin: { kind: 'workflow', name: workflowName },
      createdAt: '2025-01-01T00:00:00.000Z',
      maxConcurrent: null,
      logDir: `/tmp/logs/${runId}`,
      baseDir: null,
      git: null,
      cancelRequestedAt: null,
      environments: {},
    },
    counts,
    status,
    total: tasks.length,
    firstSubmittedAt: '2025-01-01T00:00:00.000Z',
    lastFinishedAt: status === 'running' ? null : '2025-01-01T00:00:04.000Z',
  };
}

function notFound(what: string, name: string): never {
  throw new ScriptHutError('not_found', `unknown ${what} "${name}"`);
}

const notUsed = () => {
  throw new Error('not used in this test');
};

/**
 * A fake whose runs advance one step per `getRun` call through `script` (a list of task-state
 * snapshots per run).
 */
export function fakeApi(
  options: { script?: Record<string, TaskState[][]>; workflows?: WorkflowView[] } = {},
) {
  const script = options.script ?? { aaaa1111: [['completed', 'completed']] };
  const calls: { name: string; args: unknown[] }[] = [];
  const position: Record<string, number> = {};
  const tasksOf = (runId: string): TaskRecord[] => {
    const frames = script[runId] ?? notFound('run', runId);
    const frame = frames[Math.min(position[runId] ?? 0, frames.length - 1)] as TaskState[];
    return frame.map((s, i) => task(runId, i, `t${i}`, s));
  };
  const backend: BackendDetail = {
    name: 'local',
    type: 'local',
    maxConcurrent: 4,
    health: { connected: true, lastError: null, endpoint: 'localhost' },
    lastPollAt: null,
    lastPollDurationMs: null,
    lastError: null,
    inFlight: 0,
    clusterInfo: { cpusIdle: 3, cpusTotal: 4, partitions: [] },
    clusterInfoAt: null,
    commandLog: [],
  };
  const workflows: WorkflowView[] = options.workflows ?? [
    {
      kind: 'workflow',
      name: 'demo',
      backend: 'local',
      description: 'Demo DAG',
      maxConcurrent: null,
      git: null,
    },
  ];
  const api: CliApi = {
    health: async () => ({ status: 'ok' }),
    listBackends: async () => [backend],
    getBackend: async (name) => (name === 'local' ? backend : notFound('backend', name)),
    listWorkflows: async () => workflows,
    dryRunWorkflow: notUsed,
    runWorkflow: async (name, opts) => {
      calls.push({ name: 'runWorkflow', args: [name, opts] });
      if (!workflows.some((w) => w.name === name)) notFound('workflow', name);
      const id = Object.keys(script)[0] as string;
      position[id] = 0;
      return summarize(id, tasksOf(id), name);
    },
    listSources: async () => [],
    syncSource: async (name) => notFound('source', name),
    runSourceWorkflow: async (source, file, opts) => {
      calls.push({ name: 'runSourceWorkflow', args: [source, file, opts] });
      const id = Object.keys(script)[0] as string;
      return summarize(id, tasksOf(id), `${source}/${file}`);
    },
    listProjects: async () => [],
    listProjectWorkflows: notUsed,
    runProjectWorkflow: async (project, file, opts) => {
      calls.push({ name: 'runProjectWorkflow', args: [project, file, opts] });
      const id = Object.keys(script)[0] as string;
      return summarize(id, tasksOf(id), `${project}/${file}`);
    },
    runAdhocTask: async (input) => {
      calls.push({ name: 'runAdhocTask', args: [input] });
      const id = Object.keys(script)[0] as string;
      return summarize(id, tasksOf(id), '_adhoc/x');
    },
    listRuns: async (q) => {
      calls.push({ name: 'listRuns', args: [q] });
      const items = Object.keys(script).map((id) => summarize(id, tasksOf(id)));
      return { items, total: items.length };
    },
    getRun: async (id) => {
      const s = summarize(id, tasksOf(id));
      position[id] = (position[id] ?? 0) + 1;
      return s;
    },
    listTasks: async (id) => {
      const items = tasksOf(id);
      return { items, total: items.length };
    },
    getTask: async (id, taskId) => tasksOf(id).find((t) => t.spec.id === taskId) ?? notFound('task', taskId),
    taskTransitions: async () => [],
    cancelRun: async (id) => summarize(id, tasksOf(id), 'demo', true),
    rerunRun: async (id, mode) => {
      calls.push({ name: 'rerunRun', args: [id, mode] });
      return summarize(id, tasksOf(id));
    },
    readTaskLog: async (id, taskId, _stream, opts) => {
      calls.push({ name: 'readTaskLog', args: [id, taskId, opts] });
      const text = 'line1\nline2\nline3\n';
      const start = opts?.offset ?? 0;
      return { content: text.slice(start), nextOffset: text.length };
    },
    listJobs: async () => [],
    runCost: async () => ({
      available: false,
      reason: 'no pricing configured',
      total: null,
      costedTasks: 0,
      uncostedTasks: 2,
      currency: 'USD',
    }),
    estimateWorkflow: async () => ({
      available: true,
      reason: null,
      upperBound: 0.42,
      costedTasks: 2,
      uncostedTasks: 0,
      currency: 'USD',
    }),
    validateConfigText: async () => ({ issues: [], warnings: [] }),
    reloadConfig: notUsed,
  };
  return { api, calls };
}
