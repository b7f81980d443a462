/**
 * SQL of the task-output listings and of the run-notification outbox, used by `SqliteRunStore`
 * (tables from the `task_outputs, run_notifications` migration step).
 */
import type {
  CapturedSummary,
  OutputFile,
  RunNotificationRecord,
  RunNotificationState,
  StoredOutputListing,
} from '@scripthut/core';
import type { Database } from 'better-sqlite3';

interface OutputRow {
  run_id: string;
  task_id: string;
  listed_at: string;
  missing: number;
  files: string;
  truncated: number;
  skipped: number;
  task_summary: string | null;
  run_summary: string | null;
  error: string | null;
}

const parseSummary = (s: string | null): CapturedSummary | null =>
  s === null ? null : (JSON.parse(s) as CapturedSummary);

function toListing(row: OutputRow): StoredOutputListing {
  return {
    runId: row.run_id,
    taskId: row.task_id,
    listedAt: row.listed_at,
    missing: row.missing !== 0,
    files: JSON.parse(row.files) as OutputFile[],
    truncated: row.truncated !== 0,
    skipped: row.skipped,
    taskSummary: parseSummary(row.task_summary),
    runSummary: parseSummary(row.run_summary),
    error: row.error,
  };
}

/** Insert or replace the listing of a task. */
export function saveTaskOutputs(db: Database, l: StoredOutputListing): void {
  db.prepare(
    `INSERT INTO task_outputs (run_id, task_id, listed_at, missing, files, truncated, skipped, task_summary, run_summary, error)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (run_id, task_id) DO UPDATE SET listed_at = excluded.listed_at, missing = excluded.missing,
       files = excluded.files, truncated = excluded.truncated, skipped = excluded.skipped,
       task_summary = excluded.task_summary, run_summary = excluded.run_summary, error = excluded.error`,
  ).run(
    l.runId,
    l.taskId,
    l.listedAt,
    l.missing ? 1 : 0,
    JSON.stringify(l.files),
    l.truncated ? 1 : 0,
    l.skipped,
    l.taskSummary ? JSON.stringify(l.taskSummary) : null,
    l.runSummary ? JSON.stringify(l.runSummary) : null,
    l.error,
  );
}

export function getTaskOutputs(db: Database, runId: string, taskId: string): StoredOutputListing | null {
  const row = db.prepare('SELECT * FROM task_outputs WHERE run_id = ? AND task_id = ?').get(runId, taskId) as
    | OutputRow
    | undefined;
  return row ? toListing(row) : null;
}

export function runSummaryFragments(
  db: Database,
  runId: string,
): { taskId: string; seq: number; summary: CapturedSummary }[] {
  const rows = db
    .prepare(
      `SELECT o.task_id AS taskId, t.seq AS seq, o.run_summary AS summary FROM task_outputs o
       JOIN tasks t ON t.run_id = o.run_id AND t.task_id = o.task_id
       WHERE o.run_id = ? AND o.run_summary IS NOT NULL ORDER BY t.seq`,
    )
    .all(runId) as { taskId: string; seq: number; summary: string }[];
  return rows.map((r) => ({
    taskId: r.taskId,
    seq: r.seq,
    summary: JSON.parse(r.summary) as CapturedSummary,
  }));
}

/** Ended tasks with a job and no listing, finished after `sinceIso` (kept tasks of reruns excluded). */
export function tasksAwaitingOutputs(
  db: Database,
  backendNames: readonly string[],
  limit: number,
  sinceIso: string,
): { runId: string; taskId: string }[] {
  if (!backendNames.length) return [];
  return db
    .prepare(
      `SELECT t.run_id AS runId, t.task_id AS taskId FROM tasks t
       JOIN runs r ON r.id = t.run_id
       JOIN task_details d ON d.run_id = t.run_id AND d.task_id = t.task_id
       LEFT JOIN task_outputs o ON o.run_id = t.run_id AND o.task_id = t.task_id
       WHERE o.run_id IS NULL AND t.state IN ('completed', 'failed', 'cancelled') AND t.job_id IS NOT NULL
         AND t.finished_at >= ? AND json_extract(d.meta, '$.keptFrom') IS NULL
         AND r.backend_name IN (${backendNames.map(() => '?').join(', ')})
       ORDER BY t.finished_at LIMIT ?`,
    )
    .all(sinceIso, ...backendNames, limit) as { runId: string; taskId: string }[];
}

interface NotificationRow {
  run_id: string;
  created_at: string;
  state: RunNotificationState;
  attempts: number;
  next_attempt_at: string | null;
  delivered_at: string | null;
  last_error: string | null;
}

function toNotification(r: NotificationRow): RunNotificationRecord {
  return {
    runId: r.run_id,
    createdAt: r.created_at,
    state: r.state,
    attempts: r.attempts,
    nextAttemptAt: r.next_attempt_at,
    deliveredAt: r.delivered_at,
    lastError: r.last_error,
  };
}

export function dueRunNotifications(db: Database, nowIso: string, limit: number): RunNotificationRecord[] {
  return (
    db
      .prepare(
        `SELECT * FROM run_notifications WHERE state = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= ?)
         ORDER BY created_at LIMIT ?`,
      )
      .all(nowIso, limit) as NotificationRow[]
  ).map(toNotification);
}

export function getRunNotification(db: Database, runId: string): RunNotificationRecord | null {
  const row = db.prepare('SELECT * FROM run_notifications WHERE run_id = ?').get(runId) as
    | NotificationRow
    | undefined;
  return row ? toNotification(row) : null;
}

const NOTIFICATION_COLUMNS = {
  state: 'state',
  attempts: 'attempts',
  nextAttemptAt: 'next_attempt_at',
  deliveredAt: 'delivered_at',
  lastError: 'last_error',
} as const;

export function updateRunNotification(
  db: Database,
  runId: string,
  patch: Partial<Pick<RunNotificationRecord, keyof typeof NOTIFICATION_COLUMNS>>,
): void {
  const keys = (Object.keys(patch) as (keyof typeof NOTIFICATION_COLUMNS)[]).filter(
    (k) => k in NOTIFICATION_COLUMNS,
  );
  if (!keys.length) return;
  db.prepare(
    `UPDATE run_notifications SET ${keys.map((k) => `${NOTIFICATION_COLUMNS[k]} = ?`).join(', ')} WHERE run_id = ?`,
  ).run(...keys.map((k) => patch[k] ?? null), runId);
}
