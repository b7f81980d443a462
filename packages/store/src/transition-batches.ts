/**
 * Task transitions in batch rows (schema v11, see `transition-batches-schema.ts`): the write path
 * collects a write's transitions per run and stores them as one row per run (at most
 * {@link TRANSITION_BATCH_SIZE} entries each); the reads unpack them in row order.
 */
import type { ActivityTransition, TaskState, TaskTransition } from '@scripthut/core';
import type Database from 'better-sqlite3';
import { TRANSITION_BATCH_SIZE } from './transition-batches-schema.js';

/** One element of a batch's `entries`. */
export type TransitionEntry = [
  taskId: string,
  from: TaskState | null,
  to: TaskState,
  at: string,
  reason: string | null,
];

/** Prepared statements of the batch table on one connection. */
export class TransitionBatches {
  private readonly insert: Database.Statement;
  private readonly ofRun: Database.Statement;
  private readonly mentioning: Database.Statement;

  constructor(sqlite: Database.Database) {
    this.insert = sqlite.prepare('INSERT INTO task_transition_batches (run_id, entries) VALUES (?, ?)');
    this.ofRun = sqlite
      .prepare('SELECT entries FROM task_transition_batches WHERE run_id = ? ORDER BY id')
      .pluck();
    // `instr` only narrows the rows to parse (an entry starts with `["<task id>",`); the entries
    // themselves are then compared by task id.
    this.mentioning = sqlite
      .prepare(
        'SELECT entries FROM task_transition_batches WHERE run_id = ? AND instr(entries, ?) > 0 ORDER BY id',
      )
      .pluck();
  }

  /** Store one run's entries, in order (the caller's transaction). */
  record(runId: string, entries: readonly TransitionEntry[]): void {
    for (let i = 0; i < entries.length; i += TRANSITION_BATCH_SIZE) {
      const batch =
        i === 0 && entries.length <= TRANSITION_BATCH_SIZE
          ? entries
          : entries.slice(i, i + TRANSITION_BATCH_SIZE);
      this.insert.run(runId, JSON.stringify(batch));
    }
  }

  /**
   * The transitions of a run in the order they were recorded, or of one of its tasks. Empty for an
   * unknown run or task.
   */
  transitions(runId: string, taskId?: string): TaskTransition[] {
    const out: TaskTransition[] = [];
    const rows =
      taskId === undefined
        ? (this.ofRun.all(runId) as string[])
        : (this.mentioning.all(runId, `[${JSON.stringify(taskId)},`) as string[]);
    for (const text of rows) {
      for (const [id, from, to, at, reason] of JSON.parse(text) as TransitionEntry[]) {
        if (taskId === undefined || id === taskId) out.push({ runId, taskId: id, from, to, at, reason });
      }
    }
    return out;
  }

  /** A run's transitions reduced to task, target state and time, in the order recorded. */
  activity(runId: string): ActivityTransition[] {
    const out: ActivityTransition[] = [];
    for (const text of this.ofRun.all(runId) as string[]) {
      for (const [taskId, , to, at] of JSON.parse(text) as TransitionEntry[]) out.push({ taskId, to, at });
    }
    return out;
  }
}
