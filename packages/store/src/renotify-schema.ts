/**
 * Migration step "renotify after rerun" (v8; issue 21, rerun in place): a run that finishes again
 * gets a new notification.
 *
 * Before, the `run_stats_finished` trigger added its outbox row with `INSERT OR IGNORE`; but SQLite
 * replaces a trigger statement's conflict policy with the outer statement's, and the outer statement
 * is the `run_stats` upsert (ABORT): a run that finished, was rerun in place and finished again made
 * every task write of that run fail on `UNIQUE constraint failed: run_notifications.run_id`. The
 * trigger now replaces the run's row, so each finish (the first, and each after a rerun in place) is
 * notified once.
 */
export const RENOTIFY_AFTER_RERUN_SQL = `
DROP TRIGGER run_stats_finished;
CREATE TRIGGER run_stats_finished AFTER UPDATE OF status ON run_stats
WHEN NEW.status IN ('completed', 'failed', 'cancelled') AND OLD.status NOT IN ('completed', 'failed', 'cancelled')
BEGIN
  DELETE FROM run_notifications WHERE run_id = NEW.run_id;
  INSERT INTO run_notifications (run_id, created_at, state, attempts, next_attempt_at)
  VALUES (NEW.run_id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 'pending', 0, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
END;
`;
