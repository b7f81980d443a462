/**
 * SQLite implementation of the engine's {@link RunStore}: drizzle-orm over better-sqlite3, WAL
 * journal, `synchronous=NORMAL`, foreign keys on, embedded migrations.
 *
 * Per-run state counts are kept in `run_stats`, updated in the same transaction as every task write,
 * so listing 1,000 runs or summarising a 10,000-task run reads one row per run.
 */
import { accessSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import {
  type ActivityTransition,
  type CacheEntry,
  type CapturedSummary,
  deriveRunStatus,
  type RunListQuery,
  type RunNotificationOutbox,
  type RunNotificationRecord,
  type RunRecord,
  type RunStore,
  type RunSummary,
  ScriptHutError,
  type StateCounts,
  type StoredOutputListing,
  TASK_STATES,
  type TaskListQuery,
  type TaskOutputStore,
  type TaskPatch,
  type TaskRecord,
  type TaskState,
  type TaskTransition,
  type TaskUpdate,
  type UsageBucket,
  type UsageLedgerEntry,
} from '@scripthut/core';
import Database from 'better-sqlite3';
import { and, asc, count, desc, eq, inArray, type SQL, sql } from 'drizzle-orm';
import { type BetterSQLite3Database, drizzle } from 'drizzle-orm/better-sqlite3';
import { CacheEntryTable } from './cache-entries.js';
import { describeStoreFailure, errorCode, toStoreError } from './errors.js';
import type { ForgottenJob, ForgottenJobStore } from './forgotten-jobs.js';
import * as forgotten from './forgotten-jobs.js';
import { migrate, SCHEMA_VERSION, STATE_COLUMNS } from './migrations.js';
import * as outputs from './outputs-store.js';
import * as schema from './schema.js';

/** Options of {@link openSqliteStore}. */
export interface SqliteStoreOptions {
  /** How long a write waits for another process's lock before failing (ms). Default 5000. */
  busyTimeoutMs?: number;
  /** Open without write access (inspection tools). Writes fail with a `store_error`. Default false. */
  readonly?: boolean;
}

type RunRow = typeof schema.runs.$inferSelect;
type TaskRow = typeof schema.tasks.$inferSelect;
type StatsRow = typeof schema.runStats.$inferSelect;

/** Maps a patch key to its column, and how its value is written. */
const PATCH_COLUMNS: Record<keyof TaskPatch, { column: string; json?: boolean; nullable?: boolean }> = {
  state: { column: 'state' },
  submitTag: { column: 'submit_tag' },
  jobId: { column: 'job_id' },
  pendingReason: { column: 'pending_reason' },
  exitCode: { column: 'exit_code' },
  error: { column: 'error' },
  script: { column: 'script' },
  stdoutPath: { column: 'stdout_path' },
  stderrPath: { column: 'stderr_path' },
  submittedAt: { column: 'submitted_at' },
  startedAt: { column: 'started_at' },
  finishedAt: { column: 'finished_at' },
  node: { column: 'node' },
  meta: { column: 'meta', json: true },
  usage: { column: 'usage', json: true, nullable: true },
};

const ACTIVE_SUM = 'pending + submitting + submitted + queued + running';

function countsOf(row: StatsRow | null | undefined): StateCounts {
  return {
    pending: row?.pending ?? 0,
    submitting: row?.submitting ?? 0,
    submitted: row?.submitted ?? 0,
    queued: row?.queued ?? 0,
    running: row?.running ?? 0,
    completed: row?.completed ?? 0,
    failed: row?.failed ?? 0,
    dep_failed: row?.depFailed ?? 0,
    cancelled: row?.cancelled ?? 0,
  };
}

function minIso(a: string | null, b: string | null): string | null {
  if (a == null) return b;
  if (b == null) return a;
  return b < a ? b : a;
}
function maxIso(a: string | null, b: string | null): string | null {
  if (a == null) return b;
  if (b == null) return a;
  return b > a ? b : a;
}

function toRunRecord(row: RunRow): RunRecord {
  return {
    id: row.id,
    workflowName: row.workflowName,
    backendName: row.backendName,
    origin: row.origin,
    createdAt: row.createdAt,
    maxConcurrent: row.maxConcurrent,
    logDir: row.logDir,
    baseDir: row.baseDir,
    git: row.git ?? null,
    cancelRequestedAt: row.cancelRequestedAt,
    environments: row.environments ?? {},
    ...(row.resume ? { resume: true } : {}),
    ...(row.arrayMode ? { arrayMode: row.arrayMode } : {}),
  };
}

function toTaskRecord(row: TaskRow): TaskRecord {
  return {
    runId: row.runId,
    seq: row.seq,
    spec: row.spec,
    state: row.state,
    submitTag: row.submitTag,
    jobId: row.jobId,
    pendingReason: row.pendingReason,
    exitCode: row.exitCode,
    error: row.error,
    script: row.script,
    stdoutPath: row.stdoutPath,
    stderrPath: row.stderrPath,
    submittedAt: row.submittedAt,
    startedAt: row.startedAt,
    finishedAt: row.finishedAt,
    node: row.node,
    meta: row.meta ?? {},
    version: row.version,
    ...(row.usage ? { usage: row.usage } : {}),
  };
}

function toSummary(run: RunRow, stats: StatsRow | null): RunSummary {
  const counts = countsOf(stats);
  const record = toRunRecord(run);
  return {
    run: record,
    counts,
    status: deriveRunStatus(counts, record.cancelRequestedAt != null),
    total: TASK_STATES.reduce((n, s) => n + counts[s], 0),
    firstSubmittedAt: stats?.firstSubmittedAt ?? null,
    lastFinishedAt: stats?.lastFinishedAt ?? null,
  };
}

/** Running totals of one run while a write transaction changes its tasks. */
interface StatsDelta {
  counts: StateCounts;
  firstSubmittedAt: string | null;
  lastFinishedAt: string | null;
}

/**
 * The SQLite run store. Create it with {@link openSqliteStore}. All methods are synchronous and
 * throw `ScriptHutError('store_error')` when the file cannot be written (locked, read-only, full);
 * a failed write rolls back entirely.
 */
export class SqliteRunStore implements RunStore, TaskOutputStore, RunNotificationOutbox, ForgottenJobStore {
  /** Absolute path of the database file (or `:memory:`). */
  readonly path: string;
  /** The underlying better-sqlite3 connection (advanced use and tests). */
  readonly sqlite: Database.Database;
  /** Typed drizzle handle over {@link sqlite}. */
  readonly db: BetterSQLite3Database<typeof schema>;
  private readonly stmts: {
    insertTask: Database.Statement;
    insertTransition: Database.Statement;
    currentTask: Database.Statement;
    runCancel: Database.Statement;
    getStats: Database.Statement;
    getVersion: Database.Statement;
    setVersion: Database.Statement;
    taskStartTimes: Database.Statement;
    activityTransitions: Database.Statement;
  };
  private readonly updateStmts = new Map<string, Database.Statement>();
  private closed = false;

  /** @internal use {@link openSqliteStore}. */
  constructor(path: string, sqlite: Database.Database) {
    this.path = path;
    this.sqlite = sqlite;
    this.db = drizzle({ client: sqlite, schema });
    this.stmts = {
      insertTask: sqlite.prepare(
        `INSERT INTO tasks (run_id, task_id, seq, spec, state, submit_tag, job_id, pending_reason, exit_code, error,
           script, stdout_path, stderr_path, submitted_at, started_at, finished_at, node, meta, version)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      insertTransition: sqlite.prepare(
        'INSERT INTO task_transitions (run_id, task_id, from_state, to_state, at, reason) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      currentTask: sqlite.prepare('SELECT state, version FROM tasks WHERE run_id = ? AND task_id = ?'),
      runCancel: sqlite.prepare('SELECT cancel_requested_at AS c FROM runs WHERE id = ?'),
      getVersion: sqlite.prepare("SELECT value FROM store_counters WHERE name = 'task_version'"),
      setVersion: sqlite.prepare("UPDATE store_counters SET value = ? WHERE name = 'task_version'"),
      taskStartTimes: sqlite.prepare('SELECT task_id, started_at FROM tasks WHERE run_id = ?').raw(true),
      activityTransitions: sqlite
        .prepare('SELECT task_id, to_state, at FROM task_transitions WHERE run_id = ? ORDER BY id')
        .raw(true),
      getStats: sqlite.prepare(
        `SELECT ${TASK_STATES.map((s) => STATE_COLUMNS[s]).join(', ')}, first_submitted_at AS f, last_finished_at AS l
         FROM run_stats WHERE run_id = ?`,
      ),
    };
  }

  /** Schema version of the open file. */
  schemaVersion(): number {
    return this.guard('schemaVersion', () => {
      const row = this.sqlite.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as {
        v: number | null;
      };
      return row.v ?? 0;
    });
  }

  /** Highest task version written so far (store-wide, monotonic). */
  taskVersion(): number {
    return this.guard(
      'taskVersion',
      () => (this.stmts.getVersion.get() as { value: number } | undefined)?.value ?? 0,
    );
  }

  insertRun(run: RunRecord, tasks: TaskRecord[]): void {
    this.guard('insertRun', () =>
      this.sqlite
        .transaction(() => {
          this.db
            .insert(schema.runs)
            .values({
              id: run.id,
              workflowName: run.workflowName,
              backendName: run.backendName,
              origin: run.origin,
              createdAt: run.createdAt,
              maxConcurrent: run.maxConcurrent,
              logDir: run.logDir,
              baseDir: run.baseDir,
              git: run.git,
              cancelRequestedAt: run.cancelRequestedAt,
              environments: run.environments ?? {},
              resume: run.resume === true,
              arrayMode: run.arrayMode ?? null,
            })
            .run();
          const delta = this.insertTaskRows(run.id, tasks);
          this.db
            .insert(schema.runStats)
            .values({ runId: run.id, ...this.statsValues(delta, run.cancelRequestedAt != null) })
            .run();
        })
        .immediate(),
    );
  }

  appendTasks(runId: string, tasks: TaskRecord[]): void {
    this.guard('appendTasks', () =>
      this.sqlite
        .transaction(() => {
          this.requireRun(runId);
          const delta = this.insertTaskRows(runId, tasks);
          this.applyDelta(runId, delta);
        })
        .immediate(),
    );
  }

  getRun(runId: string): RunRecord | null {
    return this.guard('getRun', () => {
      const row = this.db.select().from(schema.runs).where(eq(schema.runs.id, runId)).get();
      return row ? toRunRecord(row) : null;
    });
  }

  updateRun(
    runId: string,
    patch: Partial<Pick<RunRecord, 'cancelRequestedAt' | 'git' | 'baseDir' | 'logDir'>>,
  ): void {
    this.guard('updateRun', () =>
      this.sqlite
        .transaction(() => {
          this.requireRun(runId);
          const values: Partial<typeof schema.runs.$inferInsert> = {};
          if ('cancelRequestedAt' in patch) values.cancelRequestedAt = patch.cancelRequestedAt ?? null;
          if ('git' in patch) values.git = patch.git ?? null;
          if ('baseDir' in patch) values.baseDir = patch.baseDir ?? null;
          if (patch.logDir !== undefined) values.logDir = patch.logDir;
          if (Object.keys(values).length === 0) return;
          this.db.update(schema.runs).set(values).where(eq(schema.runs.id, runId)).run();
          if ('cancelRequestedAt' in values) this.applyDelta(runId, null);
        })
        .immediate(),
    );
  }

  deleteRun(runId: string): void {
    this.guard('deleteRun', () => {
      // Foreign keys cascade to tasks, task_transitions and run_stats.
      this.db.delete(schema.runs).where(eq(schema.runs.id, runId)).run();
    });
  }

  listRuns(query: RunListQuery = {}): { items: RunSummary[]; total: number } {
    return this.guard('listRuns', () => {
      const where: SQL[] = [];
      if (query.status) where.push(eq(schema.runStats.status, query.status));
      if (query.workflow) where.push(eq(schema.runs.workflowName, query.workflow));
      if (query.backend) where.push(eq(schema.runs.backendName, query.backend));
      if (query.idPrefix) {
        where.push(sql`substr(${schema.runs.id}, 1, ${query.idPrefix.length}) = ${query.idPrefix}`);
      }
      const cond = where.length ? and(...where) : undefined;
      const totalRow = this.db
        .select({ n: count() })
        .from(schema.runs)
        .leftJoin(schema.runStats, eq(schema.runStats.runId, schema.runs.id))
        .where(cond)
        .get();
      const rows = this.db
        .select()
        .from(schema.runs)
        .leftJoin(schema.runStats, eq(schema.runStats.runId, schema.runs.id))
        .where(cond)
        .orderBy(desc(schema.runs.createdAt), desc(schema.runs.id))
        .limit(Math.max(0, query.limit ?? 50))
        .offset(Math.max(0, query.offset ?? 0))
        .all();
      return { items: rows.map((r) => toSummary(r.runs, r.run_stats)), total: totalRow?.n ?? 0 };
    });
  }

  summarizeRun(runId: string): RunSummary | null {
    return this.guard('summarizeRun', () => {
      const row = this.db
        .select()
        .from(schema.runs)
        .leftJoin(schema.runStats, eq(schema.runStats.runId, schema.runs.id))
        .where(eq(schema.runs.id, runId))
        .get();
      return row ? toSummary(row.runs, row.run_stats) : null;
    });
  }

  listUnfinishedRunIds(): string[] {
    return this.guard('listUnfinishedRunIds', () =>
      this.db
        .select({ id: schema.runStats.runId })
        .from(schema.runStats)
        .where(sql.raw(`(${ACTIVE_SUM}) > 0`))
        .all()
        .map((r) => r.id),
    );
  }

  getTask(runId: string, taskId: string): TaskRecord | null {
    return this.guard('getTask', () => {
      const row = this.db
        .select()
        .from(schema.tasks)
        .where(and(eq(schema.tasks.runId, runId), eq(schema.tasks.taskId, taskId)))
        .get();
      return row ? toTaskRecord(row) : null;
    });
  }

  listTasks(runId: string, query: TaskListQuery = {}): { items: TaskRecord[]; total: number } {
    return this.guard('listTasks', () => {
      const where: SQL[] = [eq(schema.tasks.runId, runId)];
      if (query.states) {
        if (query.states.length === 0) return { items: [], total: 0 };
        where.push(inArray(schema.tasks.state, query.states));
      }
      if (query.idPrefix) {
        where.push(sql`substr(${schema.tasks.taskId}, 1, ${query.idPrefix.length}) = ${query.idPrefix}`);
      }
      const cond = and(...where);
      const totalRow = this.db.select({ n: count() }).from(schema.tasks).where(cond).get();
      let q = this.db.select().from(schema.tasks).where(cond).orderBy(asc(schema.tasks.seq)).$dynamic();
      // SQLite needs a LIMIT before OFFSET; MAX_SAFE_INTEGER means no limit.
      if (query.limit !== undefined || query.offset)
        q = q.limit(query.limit === undefined ? Number.MAX_SAFE_INTEGER : Math.max(0, query.limit));
      if (query.offset) q = q.offset(Math.max(0, query.offset));
      return { items: q.all().map(toTaskRecord), total: totalRow?.n ?? 0 };
    });
  }

  allTasks(runId: string): TaskRecord[] {
    return this.guard('allTasks', () =>
      this.db
        .select()
        .from(schema.tasks)
        .where(eq(schema.tasks.runId, runId))
        .orderBy(asc(schema.tasks.seq))
        .all()
        .map(toTaskRecord),
    );
  }

  taskStartTimes(runId: string): Map<string, string | null> {
    return this.guard('taskStartTimes', () => {
      const rows = this.stmts.taskStartTimes.all(runId) as [string, string | null][];
      return new Map(rows);
    });
  }

  activityTransitions(runId: string): ActivityTransition[] {
    return this.guard('activityTransitions', () =>
      (this.stmts.activityTransitions.all(runId) as [string, TaskState, string][]).map(
        ([taskId, to, at]) => ({
          taskId,
          to,
          at,
        }),
      ),
    );
  }

  updateTasks(updates: TaskUpdate[]): void {
    if (updates.length === 0) return;
    this.guard('updateTasks', () =>
      this.sqlite
        .transaction(() => {
          const deltas = new Map<string, StatsDelta>();
          let version = (this.stmts.getVersion.get() as { value: number } | undefined)?.value ?? 0;
          for (const u of updates) {
            const current = this.stmts.currentTask.get(u.runId, u.taskId) as
              | { state: TaskState; version: number }
              | undefined;
            if (!current)
              throw new ScriptHutError('not_found', `task ${u.taskId} of run ${u.runId} does not exist`);
            const patch: TaskPatch = { ...u.patch };
            if (u.transition) patch.state = u.transition.to;
            const keys = (Object.keys(patch) as (keyof TaskPatch)[]).filter(
              (k) => patch[k] !== undefined && k in PATCH_COLUMNS,
            );
            keys.sort();
            const params = keys.map((k) => {
              const v = patch[k];
              const c = PATCH_COLUMNS[k];
              if (c.json && c.nullable) return v == null ? null : JSON.stringify(v);
              return c.json ? JSON.stringify(v ?? {}) : (v ?? null);
            });
            // Store-wide monotonic: a reader can ask for "tasks changed since version N".
            version = Math.max(version, current.version) + 1;
            this.updateStatement(keys).run(...params, version, u.runId, u.taskId);
            let delta = deltas.get(u.runId);
            if (!delta) {
              delta = {
                counts: Object.fromEntries(TASK_STATES.map((s) => [s, 0])) as StateCounts,
                firstSubmittedAt: null,
                lastFinishedAt: null,
              };
              deltas.set(u.runId, delta);
            }
            if (patch.state !== undefined && patch.state !== current.state) {
              delta.counts[current.state] -= 1;
              delta.counts[patch.state] += 1;
            }
            delta.firstSubmittedAt = minIso(delta.firstSubmittedAt, patch.submittedAt ?? null);
            delta.lastFinishedAt = maxIso(delta.lastFinishedAt, patch.finishedAt ?? null);
            if (u.transition) {
              this.stmts.insertTransition.run(
                u.runId,
                u.taskId,
                current.state,
                u.transition.to,
                u.transition.at,
                u.transition.reason ?? null,
              );
            }
          }
          this.stmts.setVersion.run(version);
          for (const [runId, delta] of deltas) this.applyDelta(runId, delta);
        })
        .immediate(),
    );
  }

  transitions(runId: string, taskId?: string): TaskTransition[] {
    return this.guard('transitions', () => {
      const t = schema.taskTransitions;
      const cond = taskId === undefined ? eq(t.runId, runId) : and(eq(t.runId, runId), eq(t.taskId, taskId));
      return this.db
        .select()
        .from(t)
        .where(cond)
        .orderBy(asc(t.id))
        .all()
        .map((r) => ({
          runId: r.runId,
          taskId: r.taskId,
          from: r.fromState,
          to: r.toState,
          at: r.at,
          reason: r.reason,
        }));
    });
  }

  recordCacheEntries(entries: CacheEntry[]): void {
    if (!entries.length) return;
    this.guard('recordCacheEntries', () =>
      this.sqlite.transaction(() => this.cacheTable().record(entries)).immediate(),
    );
  }

  findCacheEntry(scope: string, key: string): CacheEntry | null {
    return this.guard('findCacheEntry', () => this.cacheTable().findByKey(scope, key));
  }

  lastCacheEntryOfTask(scope: string, taskId: string): CacheEntry | null {
    return this.guard('lastCacheEntryOfTask', () => this.cacheTable().lastOfTask(scope, taskId));
  }

  /** Prepared on first use (a read-only store of an older file never needs it). */
  private cacheTableStmts: CacheEntryTable | null = null;
  private cacheTable(): CacheEntryTable {
    this.cacheTableStmts ??= new CacheEntryTable(this.sqlite);
    return this.cacheTableStmts;
  }

  tasksAwaitingUsage(): TaskRecord[] {
    return this.guard('tasksAwaitingUsage', () =>
      this.db
        .select()
        .from(schema.tasks)
        .where(sql`json_extract(${schema.tasks.usage}, '$.status') = 'pending'`)
        .all()
        .map(toTaskRecord),
    );
  }

  recordUsage(entries: UsageLedgerEntry[]): void {
    if (entries.length === 0) return;
    this.guard('recordUsage', () =>
      this.sqlite
        .transaction(() => {
          for (const e of entries)
            this.db
              .insert(schema.usageLedger)
              .values(e)
              .onConflictDoUpdate({
                target: [schema.usageLedger.runId, schema.usageLedger.taskId],
                set: {
                  startedAt: e.startedAt,
                  endedAt: e.endedAt,
                  allocCpus: e.allocCpus,
                  elapsedSec: e.elapsedSec,
                  cpuTimeSec: e.cpuTimeSec,
                  maxRssBytes: e.maxRssBytes,
                },
              })
              .run();
        })
        .immediate(),
    );
  }

  usageBuckets(unit: 'day' | 'hour', sinceIso: string): UsageBucket[] {
    const width = unit === 'day' ? 10 : 13;
    return this.guard('usageBuckets', () =>
      (
        this.sqlite
          .prepare(
            `SELECT substr(ended_at, 1, ?) AS bucket,
                    COALESCE(SUM(COALESCE(elapsed_sec, 0) * COALESCE(alloc_cpus, 0)), 0) / 3600.0 AS a,
                    COALESCE(SUM(COALESCE(cpu_time_sec, 0)), 0) / 3600.0 AS u,
                    COUNT(*) AS n
             FROM usage_ledger WHERE ended_at >= ? GROUP BY bucket ORDER BY bucket`,
          )
          .all(width, sinceIso) as { bucket: string; a: number; u: number; n: number }[]
      ).map((r) => ({ bucket: r.bucket, cpuHoursAllocated: r.a, cpuHoursUsed: r.u, tasks: r.n })),
    );
  }

  transaction<T>(fn: () => T): T {
    return this.guard('transaction', () => this.sqlite.transaction(fn).immediate());
  }

  // --- task outputs and run notifications (task_outputs, run_notifications) -------------------

  saveTaskOutputs(listing: StoredOutputListing): void {
    this.guard('saveTaskOutputs', () => outputs.saveTaskOutputs(this.sqlite, listing));
  }

  getTaskOutputs(runId: string, taskId: string): StoredOutputListing | null {
    return this.guard('getTaskOutputs', () => outputs.getTaskOutputs(this.sqlite, runId, taskId));
  }

  runSummaryFragments(runId: string): { taskId: string; seq: number; summary: CapturedSummary }[] {
    return this.guard('runSummaryFragments', () => outputs.runSummaryFragments(this.sqlite, runId));
  }

  /** Tasks without a listing that ended in the last two days (older ones are not looked for). */
  tasksAwaitingOutputs(backendNames: readonly string[], limit: number): { runId: string; taskId: string }[] {
    const since = new Date(Date.now() - 2 * 24 * 3600 * 1000).toISOString();
    return this.guard('tasksAwaitingOutputs', () =>
      outputs.tasksAwaitingOutputs(this.sqlite, backendNames, limit, since),
    );
  }

  dueRunNotifications(nowIso: string, limit: number): RunNotificationRecord[] {
    return this.guard('dueRunNotifications', () => outputs.dueRunNotifications(this.sqlite, nowIso, limit));
  }

  getRunNotification(runId: string): RunNotificationRecord | null {
    return this.guard('getRunNotification', () => outputs.getRunNotification(this.sqlite, runId));
  }

  updateRunNotification(
    runId: string,
    patch: Parameters<RunNotificationOutbox['updateRunNotification']>[1],
  ): void {
    this.guard('updateRunNotification', () => outputs.updateRunNotification(this.sqlite, runId, patch));
  }

  // --- jobs hidden from the jobs list (forgotten_jobs) ------------------------------------------

  forgetJob(backend: string, jobId: string, atIso: string): void {
    this.guard('forgetJob', () => forgotten.forgetJob(this.sqlite, backend, jobId, atIso));
  }

  forgottenJobs(): ForgottenJob[] {
    return this.guard('forgottenJobs', () => forgotten.forgottenJobs(this.sqlite));
  }

  pruneForgottenJobsBefore(cutoffIso: string): ForgottenJob[] {
    return this.guard('pruneForgottenJobsBefore', () =>
      forgotten.pruneForgottenJobsBefore(this.sqlite, cutoffIso),
    );
  }

  pruneUnlistedForgottenJobs(
    backend: string,
    listed: readonly string[],
    listedAfterIso: string,
  ): ForgottenJob[] {
    return this.guard('pruneUnlistedForgottenJobs', () =>
      forgotten.pruneUnlistedForgottenJobs(this.sqlite, backend, listed, listedAfterIso),
    );
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sqlite.close();
  }

  // --- internals -------------------------------------------------------------------------------

  // Writes use IMMEDIATE transactions: the write lock is taken at BEGIN, where the busy timeout
  // applies. A deferred transaction that reads first and then upgrades fails with SQLITE_BUSY at
  // once when another connection writes, without waiting.
  private guard<T>(operation: string, fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      throw toStoreError(error, this.path, operation);
    }
  }

  private requireRun(runId: string): string | null {
    const row = this.stmts.runCancel.get(runId) as { c: string | null } | undefined;
    if (!row) throw new ScriptHutError('not_found', `run ${runId} does not exist`);
    return row.c;
  }

  private insertTaskRows(runId: string, tasks: TaskRecord[]): StatsDelta {
    const delta: StatsDelta = {
      counts: Object.fromEntries(TASK_STATES.map((s) => [s, 0])) as StateCounts,
      firstSubmittedAt: null,
      lastFinishedAt: null,
    };
    const insert = this.stmts.insertTask;
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
        JSON.stringify(t.spec),
        t.state,
        t.submitTag,
        t.jobId,
        t.pendingReason,
        t.exitCode,
        t.error,
        t.script,
        t.stdoutPath,
        t.stderrPath,
        t.submittedAt,
        t.startedAt,
        t.finishedAt,
        t.node,
        JSON.stringify(t.meta ?? {}),
        t.version ?? 0,
      );
      delta.counts[t.state] += 1;
      delta.firstSubmittedAt = minIso(delta.firstSubmittedAt, t.submittedAt);
      delta.lastFinishedAt = maxIso(delta.lastFinishedAt, t.finishedAt);
    }
    return delta;
  }

  private statsValues(delta: StatsDelta, cancelRequested: boolean): Omit<StatsRow, 'runId'> {
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

  /** Add a delta (or nothing, to refresh the status) to a run's stats row. */
  private applyDelta(runId: string, delta: StatsDelta | null): void {
    const cancelRequestedAt = this.requireRun(runId);
    const row = this.stmts.getStats.get(runId) as Record<string, unknown> | undefined;
    const counts = Object.fromEntries(
      TASK_STATES.map((s) => [s, Number(row?.[STATE_COLUMNS[s]] ?? 0) + (delta?.counts[s] ?? 0)]),
    ) as StateCounts;
    const merged: StatsDelta = {
      counts,
      firstSubmittedAt: minIso((row?.f as string | null) ?? null, delta?.firstSubmittedAt ?? null),
      lastFinishedAt: maxIso((row?.l as string | null) ?? null, delta?.lastFinishedAt ?? null),
    };
    const values = this.statsValues(merged, cancelRequestedAt != null);
    this.db
      .insert(schema.runStats)
      .values({ runId, ...values })
      .onConflictDoUpdate({ target: schema.runStats.runId, set: values })
      .run();
  }

  private updateStatement(keys: (keyof TaskPatch)[]): Database.Statement {
    const signature = keys.join(',');
    let stmt = this.updateStmts.get(signature);
    if (!stmt) {
      const sets = keys.map((k) => `${PATCH_COLUMNS[k].column} = ?`);
      sets.push('version = ?');
      stmt = this.sqlite.prepare(`UPDATE tasks SET ${sets.join(', ')} WHERE run_id = ? AND task_id = ?`);
      this.updateStmts.set(signature, stmt);
    }
    return stmt;
  }
}

function storeError(message: string, cause: unknown, file: string): ScriptHutError {
  return new ScriptHutError('store_error', message, { cause, details: { file, code: errorCode(cause) } });
}

/**
 * Open (creating if needed) the ScriptHut database at `path` — normally `<data_dir>/scripthut.db` —
 * and bring its schema up to date.
 *
 * @throws ScriptHutError `store_error` when the directory cannot be created or written, or the file
 *   is read-only, locked, full or not a database — the message names the file and the cause.
 *
 * @example
 * ```ts
 * const store = openSqliteStore('/var/lib/scripthut/scripthut.db');
 * store.insertRun(run, tasks);
 * const { items } = store.listRuns({ status: 'running', limit: 20 });
 * store.close();
 * ```
 */
export function openSqliteStore(path: string, options: SqliteStoreOptions = {}): SqliteRunStore {
  const memory = path === ':memory:';
  const file = memory ? path : resolve(path);
  const readonly = options.readonly ?? false;
  if (!memory) {
    const dir = dirname(file);
    if (!readonly) {
      try {
        mkdirSync(dir, { recursive: true });
      } catch (error) {
        const code = errorCode(error) ?? 'unknown';
        const why =
          code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
            ? 'it is not writable'
            : code === 'ENOTDIR' || code === 'EEXIST'
              ? 'a file is in the way'
              : (error as Error).message;
        throw storeError(
          `cannot create the data directory ${dir} for ${file}: ${why} (${code})`,
          error,
          file,
        );
      }
      // WAL needs to create `-wal`/`-shm` files next to the database: check up front for a clear error.
      for (const [target, what] of [
        [dir, `the data directory ${dir} is not writable, so the database file ${file} is read-only`],
        [file, `the database file ${file} is read-only`],
      ] as const) {
        if (target === file && !existsSync(file)) continue;
        try {
          accessSync(target, constants.W_OK);
        } catch (error) {
          throw storeError(`${what} (${errorCode(error) ?? 'EACCES'})`, error, file);
        }
      }
      if (existsSync(file) && statSync(file).isDirectory()) {
        throw storeError(`the database path ${file} is a directory`, null, file);
      }
    } else if (!existsSync(file)) {
      throw storeError(`the database file ${file} does not exist`, null, file);
    }
  }
  let sqlite: Database.Database;
  try {
    sqlite = new Database(file, {
      readonly,
      fileMustExist: readonly,
      timeout: options.busyTimeoutMs ?? 5000,
    });
  } catch (error) {
    const code = errorCode(error);
    const cause = code ? describeStoreFailure(code, file) : null;
    throw storeError(
      cause ? `${cause} (${code})` : `cannot open the database file ${file}: ${(error as Error).message}`,
      error,
      file,
    );
  }
  try {
    sqlite.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
    if (!readonly) sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
    if (readonly) {
      const exists = sqlite
        .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'")
        .get();
      const version = exists
        ? ((sqlite.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null })
            .v ?? 0)
        : 0;
      if (version !== SCHEMA_VERSION) {
        throw new ScriptHutError(
          'store_error',
          `the database file ${file} has schema version ${version}, expected ${SCHEMA_VERSION}; open it once read-write to upgrade it`,
        );
      }
    } else {
      migrate(sqlite);
    }
  } catch (error) {
    sqlite.close();
    const mapped = toStoreError(error, file, 'open');
    if (ScriptHutError.is(mapped)) throw mapped;
    throw storeError(`cannot prepare the database file ${file}: ${(error as Error).message}`, error, file);
  }
  return new SqliteRunStore(file, sqlite);
}
