/**
 * Schema v11 (issue 19 item 6): task transitions are stored in batches, one row per run per write.
 *
 * A busy scheduling pass records ~3,000 transitions (1,000 submission intents, job ids and
 * completions). As one row each, with an index entry each, they were about 40% of the pass's task
 * writes. They are now written as one row per run per `updateTasks` call (at most
 * {@link TRANSITION_BATCH_SIZE} entries), whose `entries` is a JSON array of
 * `[task_id, from, to, at, reason]` in the order they happened. Rows are read by run, in id order,
 * so a run's transitions come back in exactly the order the single rows gave.
 *
 * The rows of `task_transitions` move into batches of the same size, per run, in id order, then the
 * table is dropped. The task version counter is raised to the highest row version: the write path
 * now relies on no row being above it (it no longer reads a row before updating it).
 */

/** The most entries one batch row holds (a larger write is split into several rows). */
export const TRANSITION_BATCH_SIZE = 1000;

export const TRANSITION_BATCHES_SQL = `
CREATE TABLE task_transition_batches (
  id INTEGER PRIMARY KEY,
  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  entries TEXT NOT NULL
);
CREATE INDEX task_transition_batches_run ON task_transition_batches (run_id);
INSERT INTO task_transition_batches (run_id, entries)
  SELECT run_id, json_group_array(json_array(task_id, from_state, to_state, at, reason) ORDER BY id)
  FROM (
    SELECT *, (row_number() OVER (PARTITION BY run_id ORDER BY id) - 1) / ${TRANSITION_BATCH_SIZE} AS chunk
    FROM task_transitions
  )
  GROUP BY run_id, chunk
  ORDER BY MIN(id);
DROP TABLE task_transitions;
UPDATE store_counters SET value = max(value, (SELECT COALESCE(MAX(version), 0) FROM tasks))
  WHERE name = 'task_version';
`;
