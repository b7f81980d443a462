/**
 * Persistence contract of the engine. Implementations: {@link MemoryRunStore} (tests, benchmarks) and
 * `@scripthut/store` (SQLite, WAL). Methods are synchronous (better-sqlite3 is synchronous and fast);
 * every state change is written as it happens, inside `transaction()` when several belong together.
 *
 * A store that cannot write (locked, read-only, full) throws a `ScriptHutError` with code
 * `store_error` naming the cause; nothing already stored is lost.
 */

import type { RunRecord, RunStatus, StateCounts, TaskRecord, TaskState, TaskTransition } from './domain.js';
import type { UsageBucket, UsageLedgerEntry } from './usage-ledger.js';

export interface RunSummary {
  run: RunRecord;
  counts: StateCounts;
  status: RunStatus;
  total: number;
  /** Earliest submittedAt / latest finishedAt across tasks (ISO), for durations. */
  firstSubmittedAt: string | null;
  lastFinishedAt: string | null;
}

export interface RunListQuery {
  limit?: number;
  offset?: number;
  status?: RunStatus;
  workflow?: string;
  backend?: string;
  /** Only runs whose id starts with this prefix (run id prefixes on the command line). */
  idPrefix?: string;
}

export interface TaskListQuery {
  offset?: number;
  limit?: number;
  states?: TaskState[];
  /** Only tasks whose id starts with this prefix. */
  idPrefix?: string;
}

/** Fields of a task that the engine changes. */
export type TaskPatch = Partial<
  Pick<
    TaskRecord,
    | 'state'
    | 'submitTag'
    | 'jobId'
    | 'pendingReason'
    | 'exitCode'
    | 'error'
    | 'script'
    | 'stdoutPath'
    | 'stderrPath'
    | 'submittedAt'
    | 'startedAt'
    | 'finishedAt'
    | 'node'
    | 'meta'
    | 'usage'
  >
>;

export interface TaskUpdate {
  runId: string;
  taskId: string;
  patch: TaskPatch;
  /** When the state changes, the transition to record (from is filled by the store). */
  transition?: { to: TaskState; at: string; reason: string | null };
}

export interface RunStore {
  /** Insert a run and its tasks atomically. */
  insertRun(run: RunRecord, tasks: TaskRecord[]): void;
  /** Append tasks to an existing run (generates_source), atomically. */
  appendTasks(runId: string, tasks: TaskRecord[]): void;
  getRun(runId: string): RunRecord | null;
  updateRun(
    runId: string,
    patch: Partial<Pick<RunRecord, 'cancelRequestedAt' | 'git' | 'baseDir' | 'logDir'>>,
  ): void;
  deleteRun(runId: string): void;
  listRuns(query?: RunListQuery): { items: RunSummary[]; total: number };
  summarizeRun(runId: string): RunSummary | null;
  /** Runs with at least one non-terminal task (restored by the engine at start). */
  listUnfinishedRunIds(): string[];

  getTask(runId: string, taskId: string): TaskRecord | null;
  listTasks(runId: string, query?: TaskListQuery): { items: TaskRecord[]; total: number };
  /** All tasks of a run (engine restore). */
  allTasks(runId: string): TaskRecord[];
  /** Apply many task updates; each with a transition writes a transition row. Atomic. */
  updateTasks(updates: TaskUpdate[]): void;
  transitions(runId: string, taskId?: string): TaskTransition[];

  /** Tasks whose usage is still `pending` (the engine resumes asking for it after a restart). */
  tasksAwaitingUsage(): TaskRecord[];
  /**
   * Add (or replace) per-task rows of the usage ledger: CPU time and allocation of finished tasks,
   * kept when their run is deleted (retention) so that totals over time survive.
   */
  recordUsage(entries: UsageLedgerEntry[]): void;
  /**
   * CPU-hours (allocated and used) per bucket (`day`: `YYYY-MM-DD`, `hour`: `YYYY-MM-DDTHH`, UTC,
   * by end time) of ledger entries that ended at or after `sinceIso`, oldest first.
   */
  usageBuckets(unit: 'day' | 'hour', sinceIso: string): UsageBucket[];

  /** Run several writes in one transaction. */
  transaction<T>(fn: () => T): T;
  close(): void;
}
