/**
 * Reads of runs and tasks (drizzle queries; transitions: `transition-batches.ts`), and the mapping
 * of their rows to the core records. Each function runs on the store's connection; the store wraps errors.
 */
import {
  deriveRunStatus,
  type RunListQuery,
  type RunRecord,
  type RunSummary,
  type StateCounts,
  TASK_STATES,
  type TaskListQuery,
  type TaskRecord,
} from '@scripthut/core';
import { and, asc, count, desc, eq, inArray, type SQL, sql } from 'drizzle-orm';
import type { BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import * as schema from './schema.js';

/** The store's typed drizzle handle. */
export type StoreDb = BetterSQLite3Database<typeof schema>;

type RunRow = typeof schema.runs.$inferSelect;
type TaskRow = {
  t: typeof schema.tasks.$inferSelect;
  d: Pick<typeof schema.taskDetails.$inferSelect, 'spec' | 'meta' | 'script'>;
};

/** A task's hot row with its details (schema v10 keeps spec, meta and script in `task_details`). */
const TASK_COLUMNS = {
  t: schema.tasks,
  d: { spec: schema.taskDetails.spec, meta: schema.taskDetails.meta, script: schema.taskDetails.script },
};

/** The `task_details` row of a `tasks` row. */
const DETAILS_OF_TASK = and(
  eq(schema.taskDetails.runId, schema.tasks.runId),
  eq(schema.taskDetails.taskId, schema.tasks.taskId),
);

/** `SELECT` of task records (rows and details), to be filtered and ordered by the caller. */
function selectTasks(db: StoreDb) {
  return db.select(TASK_COLUMNS).from(schema.tasks).innerJoin(schema.taskDetails, DETAILS_OF_TASK);
}
type StatsRow = typeof schema.runStats.$inferSelect;

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

export function toRunRecord(row: RunRow): RunRecord {
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

export function toTaskRecord({ t: row, d }: TaskRow): TaskRecord {
  return {
    runId: row.runId,
    seq: row.seq,
    spec: d.spec,
    state: row.state,
    submitTag: row.submitTag,
    jobId: row.jobId,
    pendingReason: row.pendingReason,
    exitCode: row.exitCode,
    error: row.error,
    script: d.script,
    stdoutPath: row.stdoutPath,
    stderrPath: row.stderrPath,
    submittedAt: row.submittedAt,
    startedAt: row.startedAt,
    finishedAt: row.finishedAt,
    node: row.node,
    meta: d.meta ?? {},
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

export function getRun(db: StoreDb, runId: string): RunRecord | null {
  const row = db.select().from(schema.runs).where(eq(schema.runs.id, runId)).get();
  return row ? toRunRecord(row) : null;
}

export function listRuns(db: StoreDb, query: RunListQuery): { items: RunSummary[]; total: number } {
  const where: SQL[] = [];
  if (query.status) where.push(eq(schema.runStats.status, query.status));
  if (query.workflow) where.push(eq(schema.runs.workflowName, query.workflow));
  if (query.backend) where.push(eq(schema.runs.backendName, query.backend));
  if (query.idPrefix) {
    where.push(sql`substr(${schema.runs.id}, 1, ${query.idPrefix.length}) = ${query.idPrefix}`);
  }
  const cond = where.length ? and(...where) : undefined;
  const totalRow = db
    .select({ n: count() })
    .from(schema.runs)
    .leftJoin(schema.runStats, eq(schema.runStats.runId, schema.runs.id))
    .where(cond)
    .get();
  const rows = db
    .select()
    .from(schema.runs)
    .leftJoin(schema.runStats, eq(schema.runStats.runId, schema.runs.id))
    .where(cond)
    .orderBy(desc(schema.runs.createdAt), desc(schema.runs.id))
    .limit(Math.max(0, query.limit ?? 50))
    .offset(Math.max(0, query.offset ?? 0))
    .all();
  return { items: rows.map((r) => toSummary(r.runs, r.run_stats)), total: totalRow?.n ?? 0 };
}

export function summarizeRun(db: StoreDb, runId: string): RunSummary | null {
  const row = db
    .select()
    .from(schema.runs)
    .leftJoin(schema.runStats, eq(schema.runStats.runId, schema.runs.id))
    .where(eq(schema.runs.id, runId))
    .get();
  return row ? toSummary(row.runs, row.run_stats) : null;
}

export function listUnfinishedRunIds(db: StoreDb): string[] {
  return db
    .select({ id: schema.runStats.runId })
    .from(schema.runStats)
    .where(sql.raw(`(${ACTIVE_SUM}) > 0`))
    .all()
    .map((r) => r.id);
}

export function getTask(db: StoreDb, runId: string, taskId: string): TaskRecord | null {
  const row = selectTasks(db)
    .where(and(eq(schema.tasks.runId, runId), eq(schema.tasks.taskId, taskId)))
    .get();
  return row ? toTaskRecord(row) : null;
}

export function listTasks(
  db: StoreDb,
  runId: string,
  query: TaskListQuery,
): { items: TaskRecord[]; total: number } {
  const where: SQL[] = [eq(schema.tasks.runId, runId)];
  if (query.states) {
    if (query.states.length === 0) return { items: [], total: 0 };
    where.push(inArray(schema.tasks.state, query.states));
  }
  if (query.idPrefix) {
    where.push(sql`substr(${schema.tasks.taskId}, 1, ${query.idPrefix.length}) = ${query.idPrefix}`);
  }
  const cond = and(...where);
  const totalRow = db.select({ n: count() }).from(schema.tasks).where(cond).get();
  let q = selectTasks(db).where(cond).orderBy(asc(schema.tasks.seq)).$dynamic();
  // SQLite needs a LIMIT before OFFSET; MAX_SAFE_INTEGER means no limit.
  if (query.limit !== undefined || query.offset)
    q = q.limit(query.limit === undefined ? Number.MAX_SAFE_INTEGER : Math.max(0, query.limit));
  if (query.offset) q = q.offset(Math.max(0, query.offset));
  return { items: q.all().map(toTaskRecord), total: totalRow?.n ?? 0 };
}

export function allTasks(db: StoreDb, runId: string): TaskRecord[] {
  return selectTasks(db)
    .where(eq(schema.tasks.runId, runId))
    .orderBy(asc(schema.tasks.seq))
    .all()
    .map(toTaskRecord);
}

/** Tasks whose usage is still to be fetched (`usage.status = pending`). */
export function tasksAwaitingUsage(db: StoreDb): TaskRecord[] {
  return selectTasks(db)
    .where(sql`json_extract(${schema.tasks.usage}, '$.status') = 'pending'`)
    .all()
    .map(toTaskRecord);
}
