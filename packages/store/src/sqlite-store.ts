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
  type RunListQuery,
  type RunNotificationOutbox,
  type RunNotificationRecord,
  type RunRecord,
  type RunStore,
  type RunSummary,
  ScriptHutError,
  type StoredOutputListing,
  type TaskListQuery,
  type TaskOutputStore,
  type TaskRecord,
  type TaskTransition,
  type TaskUpdate,
  type UsageBucket,
  type UsageLedgerEntry,
} from '@scripthut/core';
import Database from 'better-sqlite3';
import { eq } from 'drizzle-orm';
import { type BetterSQLite3Database, drizzle } from 'drizzle-orm/better-sqlite3';
import { CacheEntryTable } from './cache-entries.js';
import { describeStoreFailure, errorCode, toStoreError } from './errors.js';
import type { ForgottenJob, ForgottenJobStore } from './forgotten-jobs.js';
import * as forgotten from './forgotten-jobs.js';
import { migrate, SCHEMA_VERSION } from './migrations.js';
import * as outputs from './outputs-store.js';
import * as reads from './run-reads.js';
import * as schema from './schema.js';
import { TaskWrites } from './task-writes.js';
import { TransitionBatches } from './transition-batches.js';

/** Options of {@link openSqliteStore}. */
export interface SqliteStoreOptions {
  /** How long a write waits for another process's lock before failing (ms). Default 5000. */
  busyTimeoutMs?: number;
  /** Open without write access (inspection tools). Writes fail with a `store_error`. Default false. */
  readonly?: boolean;
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
    taskStartTimes: Database.Statement;
  };
  /** Transition reads (batch rows, schema v11). */
  private readonly transitionBatches: TransitionBatches;
  /** The task write path (inserts, updates, transitions, run stats). */
  private readonly writes: TaskWrites;
  private closed = false;

  /** @internal use {@link openSqliteStore}. */
  constructor(path: string, sqlite: Database.Database) {
    this.path = path;
    this.sqlite = sqlite;
    this.db = drizzle({ client: sqlite, schema });
    this.writes = new TaskWrites(sqlite);
    this.stmts = {
      taskStartTimes: sqlite.prepare('SELECT task_id, started_at FROM tasks WHERE run_id = ?').raw(true),
    };
    this.transitionBatches = new TransitionBatches(sqlite);
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
    return this.guard('taskVersion', () => this.writes.taskVersion());
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
          const delta = this.writes.insertTaskRows(run.id, tasks);
          this.writes.insertStats(run.id, delta, run.cancelRequestedAt != null);
        })
        .immediate(),
    );
  }

  appendTasks(runId: string, tasks: TaskRecord[]): void {
    this.guard('appendTasks', () =>
      this.sqlite
        .transaction(() => {
          this.writes.requireRun(runId);
          const delta = this.writes.insertTaskRows(runId, tasks);
          this.writes.applyDelta(runId, delta);
        })
        .immediate(),
    );
  }

  getRun(runId: string): RunRecord | null {
    return this.guard('getRun', () => reads.getRun(this.db, runId));
  }

  updateRun(
    runId: string,
    patch: Partial<Pick<RunRecord, 'cancelRequestedAt' | 'git' | 'baseDir' | 'logDir'>>,
  ): void {
    this.guard('updateRun', () =>
      this.sqlite
        .transaction(() => {
          this.writes.requireRun(runId);
          const values: Partial<typeof schema.runs.$inferInsert> = {};
          if ('cancelRequestedAt' in patch) values.cancelRequestedAt = patch.cancelRequestedAt ?? null;
          if ('git' in patch) values.git = patch.git ?? null;
          if ('baseDir' in patch) values.baseDir = patch.baseDir ?? null;
          if (patch.logDir !== undefined) values.logDir = patch.logDir;
          if (Object.keys(values).length === 0) return;
          this.db.update(schema.runs).set(values).where(eq(schema.runs.id, runId)).run();
          if ('cancelRequestedAt' in values) this.writes.applyDelta(runId, null);
        })
        .immediate(),
    );
  }

  deleteRun(runId: string): void {
    this.guard('deleteRun', () => {
      // Foreign keys cascade to tasks, task_details, task_transition_batches and run_stats.
      this.db.delete(schema.runs).where(eq(schema.runs.id, runId)).run();
    });
  }

  listRuns(query: RunListQuery = {}): { items: RunSummary[]; total: number } {
    return this.guard('listRuns', () => reads.listRuns(this.db, query));
  }

  summarizeRun(runId: string): RunSummary | null {
    return this.guard('summarizeRun', () => reads.summarizeRun(this.db, runId));
  }

  listUnfinishedRunIds(): string[] {
    return this.guard('listUnfinishedRunIds', () => reads.listUnfinishedRunIds(this.db));
  }

  getTask(runId: string, taskId: string): TaskRecord | null {
    return this.guard('getTask', () => reads.getTask(this.db, runId, taskId));
  }

  listTasks(runId: string, query: TaskListQuery = {}): { items: TaskRecord[]; total: number } {
    return this.guard('listTasks', () => reads.listTasks(this.db, runId, query));
  }

  allTasks(runId: string): TaskRecord[] {
    return this.guard('allTasks', () => reads.allTasks(this.db, runId));
  }

  taskStartTimes(runId: string): Map<string, string | null> {
    return this.guard('taskStartTimes', () => {
      const rows = this.stmts.taskStartTimes.all(runId) as [string, string | null][];
      return new Map(rows);
    });
  }

  activityTransitions(runId: string): ActivityTransition[] {
    return this.guard('activityTransitions', () => this.transitionBatches.activity(runId));
  }

  updateTasks(updates: TaskUpdate[]): void {
    if (updates.length === 0) return;
    this.guard('updateTasks', () =>
      this.sqlite.transaction(() => this.writes.updateTasks(updates)).immediate(),
    );
  }

  transitions(runId: string, taskId?: string): TaskTransition[] {
    return this.guard('transitions', () => this.transitionBatches.transitions(runId, taskId));
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
    return this.guard('tasksAwaitingUsage', () => reads.tasksAwaitingUsage(this.db));
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
