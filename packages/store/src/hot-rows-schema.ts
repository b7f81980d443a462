/**
 * Schema v10 (issue 19 item 6): small hot task rows and cheap transition rows.
 *
 * A task's row in `tasks` is rewritten about three times per task (submission intent, job id,
 * completion), and SQLite rewrites the whole row — and the WAL pages holding it — each time. What
 * is written once and read rarely moves to `task_details`: the task's `spec` (written when the run
 * is created), its `meta` (cache key and parts, array placement: written with the intent) and its
 * rendered `script` (written with the job id). The task detail reads join it back, so the records
 * read from the store are the same as before.
 *
 * `task_transitions` loses AUTOINCREMENT: its ids stay increasing (a new row gets the largest id
 * plus one), which is all the reads need (`ORDER BY id`), without the `sqlite_sequence` write per
 * row. Its index on (run_id, task_id) stays: a task's history and a run's deletion read through it.
 *
 * `task_cache_keys` is looked up by key, a SHA-256: every completion inserts a random key into
 * that index, so each of a pass's ~1,000 entries dirtied its own index page (~100-byte entries:
 * scope, 64 hex digits, time). The index now holds only the key's first 6 bytes
 * ({@link CACHE_KEY_PREFIX_SQL}); the lookup compares the scope and the whole key on the few rows
 * with that prefix.
 */

/** The indexed form of a cache key: its first 6 bytes (the key itself when it is not hex). */
export const CACHE_KEY_PREFIX_SQL = (column: string): string =>
  `COALESCE(unhex(substr(${column}, 1, 12)), ${column})`;

export const HOT_TASK_ROWS_SQL = `
CREATE TABLE task_details (
  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  task_id TEXT NOT NULL,
  spec TEXT NOT NULL,
  meta TEXT NOT NULL DEFAULT '{}',
  script TEXT,
  PRIMARY KEY (run_id, task_id)
);
INSERT INTO task_details (run_id, task_id, spec, meta, script)
  SELECT run_id, task_id, spec, meta, script FROM tasks ORDER BY rowid;
ALTER TABLE tasks DROP COLUMN spec;
ALTER TABLE tasks DROP COLUMN meta;
ALTER TABLE tasks DROP COLUMN script;

CREATE TABLE task_transitions_v10 (
  id INTEGER PRIMARY KEY,
  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  task_id TEXT NOT NULL,
  from_state TEXT,
  to_state TEXT NOT NULL,
  at TEXT NOT NULL,
  reason TEXT
);
INSERT INTO task_transitions_v10 (id, run_id, task_id, from_state, to_state, at, reason)
  SELECT id, run_id, task_id, from_state, to_state, at, reason FROM task_transitions ORDER BY id;
DROP TABLE task_transitions;
ALTER TABLE task_transitions_v10 RENAME TO task_transitions;
CREATE INDEX task_transitions_run_task ON task_transitions (run_id, task_id);
DELETE FROM sqlite_sequence WHERE name = 'task_transitions';

DROP INDEX task_cache_keys_key;
CREATE INDEX task_cache_keys_prefix ON task_cache_keys (${CACHE_KEY_PREFIX_SQL('cache_key')});
`;
