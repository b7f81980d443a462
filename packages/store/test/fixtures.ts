import type { RunRecord, TaskRecord, TaskSpec, TaskState } from '@scripthut/core';
import { taskSpec } from '@scripthut/core/testing';

export function makeRun(id: string, overrides: Partial<RunRecord> = {}): RunRecord {
  return {
    id,
    workflowName: 'wf',
    backendName: 'local',
    origin: { kind: 'workflow', name: 'wf' },
    createdAt: '2025-01-01T00:00:00.000Z',
    maxConcurrent: null,
    logDir: '~/.cache/scripthut/logs',
    baseDir: null,
    git: null,
    cancelRequestedAt: null,
    environments: {},
    ...overrides,
  };
}

export function makeSpec(id: string, overrides: Partial<TaskSpec> = {}): TaskSpec {
  return taskSpec(id, { name: `Task ${id}`, command: `echo ${id}`, ...overrides });
}

export function makeTask(
  runId: string,
  id: string,
  seq: number,
  state: TaskState = 'pending',
  overrides: Partial<TaskRecord> = {},
): TaskRecord {
  return {
    runId,
    seq,
    spec: makeSpec(id),
    state,
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
    ...overrides,
  };
}

export function makeTasks(runId: string, n: number, state: TaskState = 'pending'): TaskRecord[] {
  return Array.from({ length: n }, (_, i) => makeTask(runId, `t${String(i).padStart(5, '0')}`, i, state));
}
