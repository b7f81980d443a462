/**
 * Run-finished notifications: the store keeps one outbox row per finished run (written in the same
 * transaction as the task change that finished it), so a webhook is sent once per run and a restart
 * neither loses nor repeats a delivered one.
 */

/** Delivery state of a run's notification. */
export type RunNotificationState = 'pending' | 'delivered' | 'failed' | 'skipped';

/** One outbox row. */
export interface RunNotificationRecord {
  runId: string;
  /** ISO time the run was seen finished. */
  createdAt: string;
  state: RunNotificationState;
  attempts: number;
  /** ISO time of the next attempt (pending rows). */
  nextAttemptAt: string | null;
  deliveredAt: string | null;
  /** Last failure (never contains the URL). */
  lastError: string | null;
}

/** The outbox of run-finished notifications (SQLite store). */
export interface RunNotificationOutbox {
  /** Pending rows due at `nowIso` (oldest first), at most `limit`. */
  dueRunNotifications(nowIso: string, limit: number): RunNotificationRecord[];
  /** Update a row (state, attempts, next attempt, delivery time, last error). */
  updateRunNotification(
    runId: string,
    patch: Partial<
      Pick<RunNotificationRecord, 'state' | 'attempts' | 'nextAttemptAt' | 'deliveredAt' | 'lastError'>
    >,
  ): void;
  getRunNotification(runId: string): RunNotificationRecord | null;
}
