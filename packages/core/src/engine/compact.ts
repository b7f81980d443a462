/**
 * What the run index keeps of a finished task. A task that reached a terminal state is read by
 * scheduling only for its state (dependents, counts); the fields it wrote once for the store — its
 * rendered `script` and the cache key parts in its `meta` — are not needed in memory any more (the
 * store has them, and reads of a task go to the store). Dropping them keeps the index of a
 * 100,000-task run from growing by ~1 KB per finished task (issue 19: peak RSS).
 */
import type { TaskRecord } from '../domain.js';
import type { TaskCacheMeta } from './resume.js';

/** Drop from a finished task's index record what only the store needs (see the module comment). */
export function compactFinished(t: TaskRecord): void {
  if (t.script !== null) t.script = null;
  if ((t.meta as TaskCacheMeta).cacheParts !== undefined) {
    const { cacheParts: _parts, ...rest } = t.meta as TaskCacheMeta & Record<string, unknown>;
    t.meta = rest;
  }
}
