/**
 * The `task_cache_keys` table (migration 4): cache keys of completed tasks, looked up by
 * `--resume` (see docs/resume.md). Plain SQL over better-sqlite3 prepared statements.
 */
import type { CacheEntry } from '@scripthut/core';
import type Database from 'better-sqlite3';
import { CACHE_KEY_PREFIX_SQL } from './hot-rows-schema.js';

interface Row {
  run_id: string;
  task_id: string;
  scope: string;
  cache_key: string;
  parts: string;
  outputs: string;
  completed_at: string;
  source_run_id: string;
  source_task_id: string;
}

function toEntry(row: Row): CacheEntry {
  return {
    scope: row.scope,
    key: row.cache_key,
    runId: row.run_id,
    taskId: row.task_id,
    parts: JSON.parse(row.parts),
    outputs: JSON.parse(row.outputs),
    completedAt: row.completed_at,
    sourceRunId: row.source_run_id,
    sourceTaskId: row.source_task_id,
  };
}

/** Statements of the table, prepared once per store. */
export class CacheEntryTable {
  private readonly upsert: Database.Statement;
  private readonly byKey: Database.Statement;
  private readonly byTask: Database.Statement;

  constructor(sqlite: Database.Database) {
    this.upsert = sqlite.prepare(
      `INSERT OR REPLACE INTO task_cache_keys
         (run_id, task_id, scope, cache_key, parts, outputs, completed_at, source_run_id, source_task_id)
       SELECT ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM runs WHERE id = ?)`,
    );
    this.byKey = sqlite.prepare(
      `SELECT * FROM task_cache_keys
       WHERE ${CACHE_KEY_PREFIX_SQL('cache_key')} = ${CACHE_KEY_PREFIX_SQL('@key')} AND scope = @scope AND cache_key = @key
       ORDER BY completed_at DESC LIMIT 1`,
    );
    this.byTask = sqlite.prepare(
      'SELECT * FROM task_cache_keys WHERE scope = ? AND task_id = ? ORDER BY completed_at DESC LIMIT 1',
    );
  }

  /** Insert or replace entries (the caller wraps them in a transaction). */
  record(entries: readonly CacheEntry[]): void {
    for (const e of entries)
      this.upsert.run(
        e.runId,
        e.taskId,
        e.scope,
        e.key,
        JSON.stringify(e.parts),
        JSON.stringify(e.outputs),
        e.completedAt,
        e.sourceRunId,
        e.sourceTaskId,
        e.runId,
      );
  }

  findByKey(scope: string, key: string): CacheEntry | null {
    const row = this.byKey.get({ scope, key }) as Row | undefined;
    return row ? toEntry(row) : null;
  }

  lastOfTask(scope: string, taskId: string): CacheEntry | null {
    const row = this.byTask.get(scope, taskId) as Row | undefined;
    return row ? toEntry(row) : null;
  }
}
