/**
 * The write path of the `tasks` table: inserting task rows, applying {@link TaskUpdate}s with their
 * transitions (in batch rows, schema v11), and keeping each run's `run_stats` row (counts, first submission, last finish) in
 * step. Every method runs inside the caller's transaction; statements are prepared once per store.
 *
 * This is the hot path of a scheduling pass (about 3,000 task updates per pass on a 100,000-task
 * run with 1,000 jobs in flight), so the per-row work is kept to what the row needs: the patch is
 * walked once in a fixed column order (no copy, no sort), and the UPDATE statement is looked up by
 * the set of columns it writes. What a task writes once — its spec, meta and script — lives in
 * `task_details` (schema v10), so the `tasks` row rewritten at every state change stays small.
 */
import {
  deriveRunStatus,
  ScriptHutError,
  type StateCounts,
  TASK_STATES,
  type TaskPatch,
  type TaskRecord,
  type TaskState,
  type TaskUpdate,
} from '@scripthut/core';
import type Database from 'better-sqlite3';
import { STATE_COLUMNS } from './migrations.js';
import { TransitionBatches, type TransitionEntry } from './transition-batches.js';

/** Running totals of one run while a write transaction changes its tasks. */
export interface StatsDelta {
  counts: StateCounts;
  firstSubmittedAt: string | null;
  lastFinishedAt: string | null;
}

/** The values of a `run_stats` row (without its run id), in column terms. */
export interface StatsValues {
  pending: number;
  submitting: number;
  submitted: number;
  queued: number;
  running: number;
  completed: number;
  failed: number;
  depFailed: number;
  cancelled: number;
  total: number;
  status: string;
  firstSubmittedAt: string | null;
  lastFinishedAt: string | null;
}

/**
 * Maps a patch key to its column, and how its value is written (`detail`: a column of
 * `task_details`, not of `tasks`).
 */
const PATCH_COLUMNS: Record<
  keyof TaskPatch,
  { column: string; json?: boolean; nullable?: boolean; detail?: boolean }
> = {
  state: { column: 'state' },
  submitTag: { column: 'submit_tag' },
  jobId: { column: 'job_id' },
  pendingReason: { column: 'pending_reason' },
  exitCode: { column: 'exit_code' },
  error: { column: 'error' },
  script: { column: 'script', detail: true },
  stdoutPath: { column: 'stdout_path' },
  stderrPath: { column: 'stderr_path' },
  submittedAt: { column: 'submitted_at' },
  startedAt: { column: 'started_at' },
  finishedAt: { column: 'finished_at' },
  node: { column: 'node' },
  meta: { column: 'meta', json: true, detail: true },
  usage: { column: 'usage', json: true, nullable: true },
};

/** Patch keys in the order their columns appear in an UPDATE (sorted: one statement per set). */
const PATCH_KEYS = (Object.keys(PATCH_COLUMNS) as (keyof TaskPatch)[]).sort();

/**
 * {@link PATCH_KEYS} with their columns, walked by index: the set of columns a row writes is a
 * bit mask over this array (bit `i`: `PATCH_FIELDS[i]`), which selects its prepared UPDATE. No
 * string is built and no iterator allocated per row (a pass writes ~3,000 rows, see the module
 * comment; what a row allocates is garbage made while the pass's batches are alive).
 */
const PATCH_FIELDS = PATCH_KEYS.map((key) => ({ key, ...PATCH_COLUMNS[key] }));
// A mask is a 32-bit integer (`1 << j`): a 32nd column needs another representation.
if (PATCH_FIELDS.length > 31)
  throw new Error(`task-writes: ${PATCH_FIELDS.length} patch columns do not fit a 31-bit column mask`);

export function minIso(a: string | null, b: string | null): string | null {
  if (a == null) return b;
  if (b == null) return a;
  return b < a ? b : a;
}

export function maxIso(a: string | null, b: string | null): string | null {
  if (a == null) return b;
  if (b == null) return a;
  return b > a ? b : a;
}

function emptyDelta(): StatsDelta {
  return {
    counts: Object.fromEntries(TASK_STATES.map((s) => [s, 0])) as StateCounts,
    firstSubmittedAt: null,
    lastFinishedAt: null,
  };
}

/** The `run_stats` values of a run whose tasks are counted in `delta`. */
export function statsValues(delta: StatsDelta, cancelRequested: boolean): StatsValues {
  const c = delta.counts;
  return {
    pending: c.pending,
    submitting: c.submitting,
    submitted: c.submitted,
    queued: c.queued,
    running: c.running,
    completed: c.completed,
    failed: c.failed,
    depFailed: c.dep_failed,
    cancelled: c.cancelled,
    total: TASK_STATES.reduce((n, s) => n + c[s], 0),
    status: deriveRunStatus(c, cancelRequested),
    firstSubmittedAt: delta.firstSubmittedAt,
    lastFinishedAt: delta.lastFinishedAt,
  };
}

const STATS_COLUMNS = [...TASK_STATES.map((s) => STATE_COLUMNS[s]), 'total', 'status'];

/** Prepared statements of the task write path of one connection. */
export class TaskWrites {
  private readonly insertTask: Database.Statement;
  private readonly insertDetails: Database.Statement;
  /** Where transitions go: one batch row per run per {@link updateTasks} call (schema v11). */
  private readonly transitionBatches: TransitionBatches;
  private readonly currentTask: Database.Statement;
  private readonly runCancel: Database.Statement;
  private readonly getStats: Database.Statement;
  private readonly upsertStats: Database.Statement;
  private readonly getVersion: Database.Statement;
  private readonly setVersion: Database.Statement;
  /** Prepared UPDATEs by the bit mask of the columns they write (see {@link PATCH_FIELDS}). */
  private readonly updateStmts = new Map<number, Database.Statement>();
  /** The same, each only where the row's state is the expected one ({@link TaskUpdate.expectedState}). */
  private readonly updateIfStateStmts = new Map<number, Database.Statement>();
  private readonly detailStmts = new Map<number, Database.Statement>();

  constructor(private readonly sqlite: Database.Database) {
    this.insertTask = sqlite.prepare(
      `INSERT INTO tasks (run_id, task_id, seq, state, submit_tag, job_id, pending_reason, exit_code, error,
         stdout_path, stderr_path, submitted_at, started_at, finished_at, node, version)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.insertDetails = sqlite.prepare(
      'INSERT INTO task_details (run_id, task_id, spec, meta, script) VALUES (?, ?, ?, ?, ?)',
    );
    this.transitionBatches = new TransitionBatches(sqlite);
    this.currentTask = sqlite.prepare('SELECT state FROM tasks WHERE run_id = ? AND task_id = ?');
    this.runCancel = sqlite.prepare('SELECT cancel_requested_at AS c FROM runs WHERE id = ?');
    this.getVersion = sqlite.prepare("SELECT value FROM store_counters WHERE name = 'task_version'");
    this.setVersion = sqlite.prepare("UPDATE store_counters SET value = ? WHERE name = 'task_version'");
    this.getStats = sqlite.prepare(
      `SELECT ${TASK_STATES.map((s) => STATE_COLUMNS[s]).join(', ')}, first_submitted_at AS f, last_finished_at AS l
       FROM run_stats WHERE run_id = ?`,
    );
    const columns = [...STATS_COLUMNS, 'first_submitted_at', 'last_finished_at'];
    this.upsertStats = sqlite.prepare(
      `INSERT INTO run_stats (run_id, ${columns.join(', ')}) VALUES (?, ${columns.map(() => '?').join(', ')})
       ON CONFLICT (run_id) DO UPDATE SET ${columns.map((c) => `${c} = excluded.${c}`).join(', ')}`,
    );
  }

  /** Highest task version written so far (store-wide, monotonic). */
  taskVersion(): number {
    return (this.getVersion.get() as { value: number } | undefined)?.value ?? 0;
  }

  /**
   * The run's `cancel_requested_at`.
   *
   * @throws ScriptHutError `not_found` when the run does not exist.
   */
  requireRun(runId: string): string | null {
    const row = this.runCancel.get(runId) as { c: string | null } | undefined;
    if (!row) throw new ScriptHutError('not_found', `run ${runId} does not exist`);
    return row.c;
  }

  /** Insert new task rows of `runId`; returns what they add to the run's stats. */
  insertTaskRows(runId: string, tasks: readonly TaskRecord[]): StatsDelta {
    const delta = emptyDelta();
    const insert = this.insertTask;
    let maxVersion = 0;
    for (const t of tasks) {
      if (t.runId !== runId) {
        throw new ScriptHutError(
          'validation_failed',
          `task ${t.spec.id} belongs to run ${t.runId}, not ${runId}`,
        );
      }
      insert.run(
        runId,
        t.spec.id,
        t.seq,
        t.state,
        t.submitTag,
        t.jobId,
        t.pendingReason,
        t.exitCode,
        t.error,
        t.stdoutPath,
        t.stderrPath,
        t.submittedAt,
        t.startedAt,
        t.finishedAt,
        t.node,
        t.version ?? 0,
      );
      this.insertDetails.run(
        runId,
        t.spec.id,
        JSON.stringify(t.spec),
        JSON.stringify(t.meta ?? {}),
        t.script,
      );
      delta.counts[t.state] += 1;
      delta.firstSubmittedAt = minIso(delta.firstSubmittedAt, t.submittedAt);
      delta.lastFinishedAt = maxIso(delta.lastFinishedAt, t.finishedAt);
      if ((t.version ?? 0) > maxVersion) maxVersion = t.version ?? 0;
    }
    // The store's counter stays at or above every row's version (updateTasks relies on it).
    if (maxVersion > this.taskVersion()) this.setVersion.run(maxVersion);
    return delta;
  }

  /**
   * Apply `updates` in order: each row's patch and its new version (store-wide monotonic), then
   * the transitions (from the state stored before each update: one batch row per run, in update
   * order) and each touched run's stats.
   *
   * @throws ScriptHutError `not_found` for an unknown task (the caller's transaction rolls back).
   */
  updateTasks(updates: readonly TaskUpdate[]): void {
    const deltas = new Map<string, StatsDelta>();
    const transitions = new Map<string, TransitionEntry[]>();
    let version = this.taskVersion();
    const params: unknown[] = [];
    const detailParams: unknown[] = [];
    for (let i = 0; i < updates.length; i++) {
      const u = updates[i]!;
      const patch = u.patch;
      const to = u.transition ? u.transition.to : patch.state;
      params.length = 0;
      detailParams.length = 0;
      let columns = 0;
      let detailColumns = 0;
      for (let j = 0; j < PATCH_FIELDS.length; j++) {
        const c = PATCH_FIELDS[j]!;
        const v = c.key === 'state' ? to : patch[c.key];
        if (v === undefined) continue;
        const value = c.json ? (c.nullable && v == null ? null : JSON.stringify(v ?? {})) : (v ?? null);
        if (c.detail) {
          detailColumns |= 1 << j;
          detailParams.push(value);
        } else {
          columns |= 1 << j;
          params.push(value);
        }
      }
      // Every row's version is at most the store's counter (insertTaskRows keeps it so), so the
      // next version is the counter plus one.
      version += 1;
      params.push(version, u.runId, u.taskId);
      // The state before the update: the writer's expectation when the row agrees (the UPDATE
      // checks it, no read first), else the stored state, read and then written unconditionally.
      let from: TaskState;
      const expected = u.expectedState;
      if (expected !== undefined && this.updateStatement(columns, true).run(params, expected).changes === 1) {
        from = expected;
      } else {
        const current = this.currentTask.get(u.runId, u.taskId) as { state: TaskState } | undefined;
        if (!current)
          throw new ScriptHutError('not_found', `task ${u.taskId} of run ${u.runId} does not exist`);
        from = current.state;
        this.updateStatement(columns, false).run(params);
      }
      if (detailColumns) {
        detailParams.push(u.runId, u.taskId);
        this.detailStatement(detailColumns).run(detailParams);
      }
      let delta = deltas.get(u.runId);
      if (!delta) {
        delta = emptyDelta();
        deltas.set(u.runId, delta);
      }
      if (to !== undefined && to !== from) {
        delta.counts[from] -= 1;
        delta.counts[to] += 1;
      }
      if (patch.submittedAt != null)
        delta.firstSubmittedAt = minIso(delta.firstSubmittedAt, patch.submittedAt);
      if (patch.finishedAt != null) delta.lastFinishedAt = maxIso(delta.lastFinishedAt, patch.finishedAt);
      if (u.transition) {
        let entries = transitions.get(u.runId);
        if (!entries) {
          entries = [];
          transitions.set(u.runId, entries);
        }
        entries.push([u.taskId, from, u.transition.to, u.transition.at, u.transition.reason ?? null]);
      }
    }
    for (const [runId, entries] of transitions) this.transitionBatches.record(runId, entries);
    this.setVersion.run(version);
    for (const [runId, delta] of deltas) this.applyDelta(runId, delta);
  }

  /** Write the stats row of a new run. */
  insertStats(runId: string, delta: StatsDelta, cancelRequested: boolean): void {
    this.writeStats(runId, statsValues(delta, cancelRequested));
  }

  /** Add a delta (or nothing, to refresh the status) to a run's stats row. */
  applyDelta(runId: string, delta: StatsDelta | null): void {
    const cancelRequestedAt = this.requireRun(runId);
    const row = this.getStats.get(runId) as Record<string, unknown> | undefined;
    const counts = Object.fromEntries(
      TASK_STATES.map((s) => [s, Number(row?.[STATE_COLUMNS[s]] ?? 0) + (delta?.counts[s] ?? 0)]),
    ) as StateCounts;
    const merged: StatsDelta = {
      counts,
      firstSubmittedAt: minIso((row?.f as string | null) ?? null, delta?.firstSubmittedAt ?? null),
      lastFinishedAt: maxIso((row?.l as string | null) ?? null, delta?.lastFinishedAt ?? null),
    };
    this.writeStats(runId, statsValues(merged, cancelRequestedAt != null));
  }

  private writeStats(runId: string, v: StatsValues): void {
    this.upsertStats.run(
      runId,
      v.pending,
      v.submitting,
      v.submitted,
      v.queued,
      v.running,
      v.completed,
      v.failed,
      v.depFailed,
      v.cancelled,
      v.total,
      v.status,
      v.firstSubmittedAt,
      v.lastFinishedAt,
    );
  }

  /** The `SET` terms of the columns of `mask` (bits over {@link PATCH_FIELDS}). */
  private static setTerms(mask: number): string[] {
    return PATCH_FIELDS.filter((_, j) => mask & (1 << j)).map((c) => `${c.column} = ?`);
  }

  /** The UPDATE of `task_details` that writes the detail columns of `mask`. */
  private detailStatement(mask: number): Database.Statement {
    let stmt = this.detailStmts.get(mask);
    if (!stmt) {
      stmt = this.sqlite.prepare(
        `UPDATE task_details SET ${TaskWrites.setTerms(mask).join(', ')} WHERE run_id = ? AND task_id = ?`,
      );
      this.detailStmts.set(mask, stmt);
    }
    return stmt;
  }

  /**
   * The UPDATE of `tasks` that writes the columns of `mask` and the version; `ifState`: only when
   * the row's state is the one bound last.
   */
  private updateStatement(mask: number, ifState: boolean): Database.Statement {
    const cache = ifState ? this.updateIfStateStmts : this.updateStmts;
    let stmt = cache.get(mask);
    if (!stmt) {
      const sets = TaskWrites.setTerms(mask);
      sets.push('version = ?');
      stmt = this.sqlite.prepare(
        `UPDATE tasks SET ${sets.join(', ')} WHERE run_id = ? AND task_id = ?${ifState ? ' AND state = ?' : ''}`,
      );
      cache.set(mask, stmt);
    }
    return stmt;
  }
}
