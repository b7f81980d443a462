/**
 * Migration step of task outputs and run notifications (issue 16 items 5–6):
 * - `task_outputs`: the recorded listing of a task's output directory (one row per task);
 * - `run_notifications`: the outbox of run-finished notifications. A trigger adds a `pending` row in
 *   the same transaction as the `run_stats` write that moves a run to a terminal status, so no finished
 *   run is missed after a crash and each gets one row.
 */
export const OUTPUTS_NOTIFICATIONS_SQL = `
CREATE TABLE task_outputs (
  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  task_id TEXT NOT NULL,
  listed_at TEXT NOT NULL,
  missing INTEGER NOT NULL DEFAULT 0,
  files TEXT NOT NULL DEFAULT '[]',
  truncated INTEGER NOT NULL DEFAULT 0,
  skipped INTEGER NOT NULL DEFAULT 0,
  task_summary TEXT,
  run_summary TEXT,
  error TEXT,
  PRIMARY KEY (run_id, task_id)
);

CREATE TABLE run_notifications (
  run_id TEXT PRIMARY KEY NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  created_at TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending',
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at TEXT,
  delivered_at TEXT,
  last_error TEXT
);
CREATE INDEX run_notifications_due ON run_notifications (state, next_attempt_at);

CREATE TRIGGER run_stats_finished AFTER UPDATE OF status ON run_stats
WHEN NEW.status IN ('completed', 'failed', 'cancelled') AND OLD.status NOT IN ('completed', 'failed', 'cancelled')
BEGIN
  INSERT OR IGNORE INTO run_notifications (run_id, created_at, state, attempts, next_attempt_at)
  VALUES (NEW.run_id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 'pending', 0, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
END;
`;
