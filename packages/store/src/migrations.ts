/**
 * Schema migrations, embedded in the code and applied in order. The version of each applied
 * migration is recorded in `schema_migrations`, so opening an older database file upgrades it in
 * place (inside one transaction per migration). Never edit a released migration: append a new one.
 */
import { deriveRunStatus, type StateCounts, TASK_STATES } from '@scripthut/core';
import type { Database } from 'better-sqlite3';
import { RUN_ARRAY_MODE_SQL } from './array-mode-schema.js';
import { FORGOTTEN_JOBS_SQL } from './forgotten-jobs.js';
import { HOT_TASK_ROWS_SQL } from './hot-rows-schema.js';
import { OUTPUTS_NOTIFICATIONS_SQL } from './outputs-schema.js';
import { RENOTIFY_AFTER_RERUN_SQL } from './renotify-schema.js';
import { TRANSITION_BATCHES_SQL } from './transition-batches-schema.js';

export interface Migration {
  /** 1, 2, 3... strictly increasing. */
  version: number;
  name: string;
  sql: string;
  /** Optional data step run after `sql`, in the same transaction. */
  after?: (db: Database) => void;
}

/** State → column of `run_stats`. */
export const STATE_COLUMNS: Record<(typeof TASK_STATES)[number], string> = {
  pending: 'pending',
  submitting: 'submitting',
  submitted: 'submitted',
  queued: 'queued',
  running: 'running',
  completed: 'completed',
  failed: 'failed',
  dep_failed: 'dep_failed',
  cancelled: 'cancelled',
};

const V1 = `
CREATE TABLE runs (
  id TEXT PRIMARY KEY NOT NULL,
  workflow_name TEXT NOT NULL,
  backend_name TEXT NOT NULL,
  origin TEXT NOT NULL,
  created_at TEXT NOT NULL,
  max_concurrent INTEGER,
  log_dir TEXT NOT NULL,
  base_dir TEXT,
  git TEXT,
  cancel_requested_at TEXT,
  environments TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX runs_created_at ON runs (created_at);

CREATE TABLE tasks (
  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  task_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  spec TEXT NOT NULL,
  state TEXT NOT NULL,
  submit_tag TEXT,
  job_id TEXT,
  pending_reason TEXT,
  exit_code INTEGER,
  error TEXT,
  script TEXT,
  stdout_path TEXT,
  stderr_path TEXT,
  submitted_at TEXT,
  started_at TEXT,
  finished_at TEXT,
  node TEXT,
  meta TEXT NOT NULL DEFAULT '{}',
  version INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (run_id, task_id)
);
CREATE INDEX tasks_run_seq ON tasks (run_id, seq);
CREATE INDEX tasks_state ON tasks (state);
CREATE INDEX tasks_job_id ON tasks (job_id);

CREATE TABLE task_transitions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  task_id TEXT NOT NULL,
  from_state TEXT,
  to_state TEXT NOT NULL,
  at TEXT NOT NULL,
  reason TEXT
);
CREATE INDEX task_transitions_run_task ON task_transitions (run_id, task_id);
`;

const V2 = `
CREATE TABLE run_stats (
  run_id TEXT PRIMARY KEY NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  ${TASK_STATES.map((s) => `${STATE_COLUMNS[s]} INTEGER NOT NULL DEFAULT 0`).join(',\n  ')},
  total INTEGER NOT NULL DEFAULT 0,
  status TEXT NOT NULL DEFAULT 'completed',
  first_submitted_at TEXT,
  last_finished_at TEXT
);
CREATE INDEX run_stats_status ON run_stats (status);

INSERT INTO run_stats (run_id, ${TASK_STATES.map((s) => STATE_COLUMNS[s]).join(', ')}, total, first_submitted_at, last_finished_at)
SELECT r.id,
  ${TASK_STATES.map((s) => `COALESCE(SUM(t.state = '${s}'), 0)`).join(',\n  ')},
  COUNT(t.task_id),
  MIN(t.submitted_at),
  MAX(t.finished_at)
FROM runs r LEFT JOIN tasks t ON t.run_id = r.id
GROUP BY r.id;
`;

/** Compute the derived status of every run from its counts (used by the v2 backfill). */
function backfillStatus(db: Database): void {
  const rows = db
    .prepare(`SELECT s.*, r.cancel_requested_at FROM run_stats s JOIN runs r ON r.id = s.run_id`)
    .all() as Record<string, unknown>[];
  const update = db.prepare('UPDATE run_stats SET status = ? WHERE run_id = ?');
  for (const row of rows) {
    const counts = Object.fromEntries(
      TASK_STATES.map((s) => [s, Number(row[STATE_COLUMNS[s]])]),
    ) as StateCounts;
    update.run(deriveRunStatus(counts, row.cancel_requested_at != null), row.run_id);
  }
}

const V3 = `
CREATE TABLE store_counters (
  name TEXT PRIMARY KEY NOT NULL,
  value INTEGER NOT NULL
);
INSERT INTO store_counters (name, value) SELECT 'task_version', COALESCE(MAX(version), 0) FROM tasks;
`;

/** Result cache (issue 21, `--resume`): the run's resume flag and the keys of completed tasks. */
const V4_RESUME = `
ALTER TABLE runs ADD COLUMN resume INTEGER NOT NULL DEFAULT 0;
CREATE TABLE task_cache_keys (
  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  task_id TEXT NOT NULL,
  scope TEXT NOT NULL,
  cache_key TEXT NOT NULL,
  parts TEXT NOT NULL,
  outputs TEXT NOT NULL,
  completed_at TEXT NOT NULL,
  source_run_id TEXT NOT NULL,
  source_task_id TEXT NOT NULL,
  PRIMARY KEY (run_id, task_id)
);
CREATE INDEX task_cache_keys_key ON task_cache_keys (scope, cache_key, completed_at);
CREATE INDEX task_cache_keys_task ON task_cache_keys (scope, task_id, completed_at);
`;

/** Usage (issue 16): per-task resource usage (nullable JSON) and the ledger that outlives runs. */
const V5_USAGE = `
ALTER TABLE tasks ADD COLUMN usage TEXT;
CREATE INDEX tasks_usage_pending ON tasks (run_id) WHERE json_extract(usage, '$.status') = 'pending';

CREATE TABLE usage_ledger (
  run_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  backend_name TEXT NOT NULL,
  workflow_name TEXT NOT NULL,
  started_at TEXT,
  ended_at TEXT NOT NULL,
  alloc_cpus INTEGER,
  elapsed_sec REAL,
  cpu_time_sec REAL,
  max_rss_bytes INTEGER,
  PRIMARY KEY (run_id, task_id)
);
CREATE INDEX usage_ledger_ended_at ON usage_ledger (ended_at);
`;

/** Every migration, in order. The last version is the schema version this code writes. */
export const migrations: readonly Migration[] = [
  { version: 1, name: 'runs, tasks, task_transitions', sql: V1 },
  { version: 2, name: 'run_stats: per-run state counts maintained on write', sql: V2, after: backfillStatus },
  { version: 3, name: 'store_counters: store-wide monotonic task version', sql: V3 },
  { version: 4, name: 'resume: runs.resume, task_cache_keys', sql: V4_RESUME },
  {
    version: 5,
    name: 'usage: per-task resource usage (nullable JSON column) and the usage ledger (kept past run deletion)',
    sql: V5_USAGE,
  },
  {
    version: 6,
    name: 'task_outputs, run_notifications (outbox filled by a run_stats trigger)',
    sql: OUTPUTS_NOTIFICATIONS_SQL,
  },
  {
    version: 7,
    name: 'forgotten_jobs: jobs hidden from the jobs list by Forget, per backend (issue 22)',
    sql: FORGOTTEN_JOBS_SQL,
  },
  {
    version: 8,
    name: 'rerun in place: a run that finishes again is notified again (run_stats_finished trigger replaces its row)',
    sql: RENOTIFY_AFTER_RERUN_SQL,
  },
  {
    version: 9,
    name: "runs.array_mode: the workflow's job-array switch (auto/off) recorded with its run (issue 17)",
    sql: RUN_ARRAY_MODE_SQL,
  },
  {
    version: 10,
    name: 'task_details: spec, meta and script out of the hot tasks row; task_transitions without AUTOINCREMENT (issue 19)',
    sql: HOT_TASK_ROWS_SQL,
  },
  {
    version: 11,
    name: 'task_transition_batches: transitions stored one row per run per write (issue 19)',
    sql: TRANSITION_BATCHES_SQL,
  },
];

/** Latest schema version. */
export const SCHEMA_VERSION = migrations[migrations.length - 1]!.version;

/** Version recorded in `schema_migrations` (0 for a new file). */
export function currentSchemaVersion(db: Database): number {
  db.exec(
    'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY NOT NULL, name TEXT NOT NULL, applied_at TEXT NOT NULL)',
  );
  const row = db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null };
  return row.v ?? 0;
}

/**
 * Apply the migrations above the file's version, up to `target` (default: all), each in its own
 * transaction. Returns the versions applied. A file newer than this code is refused.
 */
export function migrate(db: Database, target: number = SCHEMA_VERSION): number[] {
  const current = currentSchemaVersion(db);
  if (current > SCHEMA_VERSION) {
    throw new Error(
      `the database schema version ${current} is newer than this ScriptHut (knows up to ${SCHEMA_VERSION}); upgrade ScriptHut`,
    );
  }
  const applied: number[] = [];
  for (const m of migrations) {
    if (m.version <= current || m.version > target) continue;
    db.transaction(() => {
      db.exec(m.sql);
      m.after?.(db);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
        m.version,
        m.name,
        new Date().toISOString(),
      );
    })();
    applied.push(m.version);
  }
  return applied;
}
