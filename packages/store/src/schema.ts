/**
 * Drizzle table definitions of the store. They mirror the SQL of {@link migrations} (the SQL is the
 * source of truth for the file layout; these definitions give typed queries).
 */
import type { GitContext, RunOrigin, TaskSpec, TaskState, TaskUsage } from '@scripthut/core';
import { index, integer, primaryKey, real, sqliteTable, text } from 'drizzle-orm/sqlite-core';

export const runs = sqliteTable(
  'runs',
  {
    id: text('id').primaryKey(),
    workflowName: text('workflow_name').notNull(),
    backendName: text('backend_name').notNull(),
    origin: text('origin', { mode: 'json' }).$type<RunOrigin>().notNull(),
    createdAt: text('created_at').notNull(),
    maxConcurrent: integer('max_concurrent'),
    logDir: text('log_dir').notNull(),
    baseDir: text('base_dir'),
    git: text('git', { mode: 'json' }).$type<GitContext | null>(),
    cancelRequestedAt: text('cancel_requested_at'),
    environments: text('environments', { mode: 'json' })
      .$type<Record<string, { variables: Record<string, string>; extraInit: string }>>()
      .notNull(),
    resume: integer('resume', { mode: 'boolean' }).notNull().default(false),
    /** The workflow's `array` (schema v9), null: the backend's setting. */
    arrayMode: text('array_mode').$type<'auto' | 'off'>(),
  },
  (t) => [index('runs_created_at').on(t.createdAt)],
);

export const tasks = sqliteTable(
  'tasks',
  {
    runId: text('run_id').notNull(),
    taskId: text('task_id').notNull(),
    seq: integer('seq').notNull(),
    state: text('state').$type<TaskState>().notNull(),
    submitTag: text('submit_tag'),
    jobId: text('job_id'),
    pendingReason: text('pending_reason'),
    exitCode: integer('exit_code'),
    error: text('error'),
    stdoutPath: text('stdout_path'),
    stderrPath: text('stderr_path'),
    submittedAt: text('submitted_at'),
    startedAt: text('started_at'),
    finishedAt: text('finished_at'),
    node: text('node'),
    version: integer('version').notNull(),
    /** Resource usage of the job (schema v4), null until known. */
    usage: text('usage', { mode: 'json' }).$type<TaskUsage | null>(),
  },
  (t) => [
    primaryKey({ columns: [t.runId, t.taskId] }),
    index('tasks_run_seq').on(t.runId, t.seq),
    index('tasks_state').on(t.state),
    index('tasks_job_id').on(t.jobId),
  ],
);

/**
 * What a task writes once and reads rarely (schema v10): its spec (at creation), meta (with the
 * submission intent) and rendered script (with the job id), out of the `tasks` row that every
 * state change rewrites.
 */
export const taskDetails = sqliteTable(
  'task_details',
  {
    runId: text('run_id').notNull(),
    taskId: text('task_id').notNull(),
    spec: text('spec', { mode: 'json' }).$type<TaskSpec>().notNull(),
    meta: text('meta', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    script: text('script'),
  },
  (t) => [primaryKey({ columns: [t.runId, t.taskId] })],
);

/**
 * Task transitions, one row per run per write (schema v11): `entries` is a JSON array of
 * `[task_id, from, to, at, reason]` (see `transition-batches.ts`).
 */
export const taskTransitionBatches = sqliteTable(
  'task_transition_batches',
  {
    id: integer('id').primaryKey(),
    runId: text('run_id').notNull(),
    entries: text('entries').notNull(),
  },
  (t) => [index('task_transition_batches_run').on(t.runId)],
);

/** Per-run task counts, maintained in the same transaction as every task write (schema v2). */
export const runStats = sqliteTable(
  'run_stats',
  {
    runId: text('run_id').primaryKey(),
    pending: integer('pending').notNull(),
    submitting: integer('submitting').notNull(),
    submitted: integer('submitted').notNull(),
    queued: integer('queued').notNull(),
    running: integer('running').notNull(),
    completed: integer('completed').notNull(),
    failed: integer('failed').notNull(),
    depFailed: integer('dep_failed').notNull(),
    cancelled: integer('cancelled').notNull(),
    total: integer('total').notNull(),
    status: text('status').notNull(),
    firstSubmittedAt: text('first_submitted_at'),
    lastFinishedAt: text('last_finished_at'),
  },
  (t) => [index('run_stats_status').on(t.status)],
);

/** One row per finished task with known usage; not deleted with its run (schema v4). */
export const usageLedger = sqliteTable(
  'usage_ledger',
  {
    runId: text('run_id').notNull(),
    taskId: text('task_id').notNull(),
    backendName: text('backend_name').notNull(),
    workflowName: text('workflow_name').notNull(),
    startedAt: text('started_at'),
    endedAt: text('ended_at').notNull(),
    allocCpus: integer('alloc_cpus'),
    elapsedSec: real('elapsed_sec'),
    cpuTimeSec: real('cpu_time_sec'),
    maxRssBytes: integer('max_rss_bytes'),
  },
  (t) => [primaryKey({ columns: [t.runId, t.taskId] }), index('usage_ledger_ended_at').on(t.endedAt)],
);
