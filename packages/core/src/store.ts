/**
 * Persistence contract of the engine. Implementations: {@link MemoryRunStore} (tests, benchmarks) and
 * `@scripthut/store` (SQLite, WAL). Methods are synchronous (better-sqlite3 is synchronous and fast);
 * every state change is written as it happens, inside `transaction()` when several belong together.
 *
 * A store that cannot write (locked, read-only, full) throws a `ScriptHutError` with code
 * `store_error` naming the cause; nothing already stored is lost.
 */
import type { CacheKeyParts } from './cache/key.js';
import type { RunRecord, RunStatus, StateCounts, TaskRecord, TaskState, TaskTransition } from './domain.js';
import type { ActivityTransition } from './run-activity.js';
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
  /**
   * The state the writer believes the task is in before this update (the engine knows it). A
   * store may use it to write without reading the row first; it must then check it (a stored state
   * that differs wins: the transition's `from` and the counts always come from the stored row).
   */
  expectedState?: TaskState;
}

/**
 * The cache key of a task that completed (or was reused), recorded for `--resume`. See
 * docs/resume.md.
 */
export interface CacheEntry {
  /** What a key may be reused within: the backend and the workflow name (see `cacheScopeOf`). */
  scope: string;
  key: string;
  runId: string;
  taskId: string;
  parts: CacheKeyParts;
  /** The task's declared outputs (checked on the backend before a reuse). */
  outputs: string[];
  /** ISO 8601 UTC. */
  completedAt: string;
  /** The run and task whose job produced the result: this task, or the one it was reused from. */
  sourceRunId: string;
  sourceTaskId: string;
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
  /**
   * The recorded start time (ISO, or null) of every task of a run, in one query: lighter than
   * {@link Store.allTasks} for the run's activity chart (see `runActivity`).
   */
  taskStartTimes?(runId: string): Map<string, string | null>;
  /**
   * The transitions of a run reduced to task, target state and time, in store order: what
   * `runActivity` reads, without the rest of each row (large runs).
   */
  activityTransitions?(runId: string): ActivityTransition[];

  /** Record cache keys of tasks that completed (replaces an entry of the same run and task). */
  recordCacheEntries?(entries: CacheEntry[]): void;
  /** The most recent entry with this scope and key, or null. */
  findCacheEntry?(scope: string, key: string): CacheEntry | null;
  /** The most recent entry of a task id within a scope (tells a dry run which key part changed). */
  lastCacheEntryOfTask?(scope: string, taskId: string): CacheEntry | null;
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
