/**
 * Read views the StubRuntime (stub-runtime.ts) derives from its recorded runs: a run's summary,
 * the jobs list, a task's outputs and a run's summary fragments. Pure functions of the records.
 */
import {
  deriveRunStatus,
  emptyStateCounts,
  OUTPUT_LIMITS,
  outputKind,
  type RunRecord,
  type RunSummary,
  type TaskRecord,
  type TaskTransition,
} from '@scripthut/core';
import type { JobView, RunSummaryView, TaskOutputsView } from '@scripthut/runtime';

/** One recorded run: its record, tasks and transitions. */
export interface StubRunEntry {
  run: RunRecord;
  tasks: TaskRecord[];
  transitions: TaskTransition[];
}

/** Recorded outputs of one task (files and their bytes), set by tests. */
export interface StubTaskOutputs {
  files: Record<string, Buffer>;
  taskSummary?: string;
  runSummary?: string;
}

/** The summary of a run: state counts, derived status, first submit and last finish. */
export function summarizeRun(e: { run: RunRecord; tasks: TaskRecord[] }): RunSummary {
  const counts = emptyStateCounts();
  for (const t of e.tasks) counts[t.state]++;
  const subs = e.tasks
    .map((t) => t.submittedAt)
    .filter((x): x is string => !!x)
    .sort();
  const fins = e.tasks
    .map((t) => t.finishedAt)
    .filter((x): x is string => !!x)
    .sort();
  return {
    run: e.run,
    counts,
    status: deriveRunStatus(counts, e.run.cancelRequestedAt !== null),
    total: e.tasks.length,
    firstSubmittedAt: subs[0] ?? null,
    lastFinishedAt: fins[fins.length - 1] ?? null,
  };
}

/** The jobs of every task that left `pending`. */
export function taskJobViews(runs: Iterable<StubRunEntry>): JobView[] {
  const jobs: JobView[] = [];
  for (const { run, tasks } of runs) {
    for (const t of tasks) {
      if (t.state === 'pending') continue;
      jobs.push({
        kind: 'task',
        backend: run.backendName,
        jobId: t.jobId,
        name: t.spec.name,
        runId: run.id,
        taskId: t.spec.id,
        workflowName: run.workflowName,
        user: 'me',
        state: t.state,
        reason: null,
        partition: t.spec.partition,
        cpus: t.spec.cpus,
        memory: t.spec.memory,
        timeLimit: t.spec.timeLimit,
        submittedAt: t.submittedAt,
        startedAt: t.startedAt,
        finishedAt: t.finishedAt,
      });
    }
  }
  return jobs;
}

/** A task's outputs view: `listed` when a test recorded outputs, `waiting` otherwise. */
export function taskOutputsView(
  runId: string,
  task: TaskRecord,
  o: StubTaskOutputs | undefined,
): TaskOutputsView {
  return {
    runId,
    taskId: task.spec.id,
    status: o ? 'listed' : 'waiting',
    reason: o ? null : 'the outputs are listed shortly after the task ends',
    listedAt: o ? new Date(0).toISOString() : null,
    missing: false,
    files: Object.entries(o?.files ?? {}).map(([path, data]) => ({
      path,
      size: data.length,
      mtime: new Date(0).toISOString(),
      kind: outputKind(path),
    })),
    truncated: false,
    skipped: 0,
    taskSummary: o?.taskSummary ? { text: o.taskSummary, truncated: false } : null,
    error: null,
    limits: { maxFiles: OUTPUT_LIMITS.maxFiles, maxFileBytes: OUTPUT_LIMITS.maxFileBytes },
  };
}

/** A run's summary: the recorded run-summary fragment of each task that has one. */
export function runSummaryView(
  runId: string,
  tasks: TaskRecord[],
  outputs: ReadonlyMap<string, StubTaskOutputs>,
): RunSummaryView {
  return {
    runId,
    available: true,
    reason: null,
    fragments: tasks.flatMap((t) => {
      const text = outputs.get(`${runId}/${t.spec.id}`)?.runSummary;
      return text ? [{ taskId: t.spec.id, text, truncated: false }] : [];
    }),
  };
}
