/**
 * The ledger: the one place where task state changes. `commit` checks every change against the
 * transitions table, writes all of them to the store in one `updateTasks` (atomic), then applies
 * them to the in-memory index, emits task events and propagates failures to dependents. Run events
 * are batched: one per changed run at each `flushRunEvents`.
 */
import { isTerminalTaskState, type RunRecord, type TaskRecord, type TaskState } from '../domain.js';
import type { CacheEntry, RunStore, TaskUpdate } from '../store.js';
import type { ArrayOptions } from './arrays.js';
import { compactFinished } from './compact.js';
import type { EngineEvents } from './events.js';
import { cacheEntriesOf } from './resume.js';
import {
  applyStateChange,
  type BackendIndex,
  type Change,
  createRunState,
  dependentsToFail,
  FAILURE_STATES,
  indexTasks,
  isRunFinished,
  noteTimes,
  pendingToCancel,
  type RunState,
  summaryOf,
} from './run-index.js';
import { IllegalTransitionError, isAllowedTransition, type TransitionCause } from './transitions.js';
import type { EngineLogger } from './types.js';

export class Ledger {
  /** Active runs by id (finished runs are dropped at the next flush). */
  readonly runs = new Map<string, RunState>();
  private readonly dirtyRuns = new Set<RunState>();

  constructor(
    readonly store: RunStore,
    readonly events: EngineEvents,
    readonly now: () => Date,
    readonly log: EngineLogger,
    /** Throw on an illegal transition (tests) instead of logging it (production). */
    private readonly strict: boolean,
  ) {}

  /** Check a state change against the transitions table; throws or logs (see `strictTransitions`). */
  checkTransition(from: TaskState | null, to: TaskState, by: TransitionCause, where: string): void {
    if (isAllowedTransition(from, to, by)) return;
    const error = new IllegalTransitionError(from, to, by, where);
    if (this.strict) throw error;
    this.log.error(`ENGINE BUG: ${error.message}; applied anyway`, error.details);
  }

  /** Index a run (new or restored), register it, and restore its consistency. */
  register(run: RunRecord, backendIndex: BackendIndex, records: TaskRecord[]): RunState {
    const rs = createRunState(run, backendIndex);
    this.runs.set(run.id, rs);
    backendIndex.runs.add(rs);
    this.addTasks(rs, records);
    this.dirtyRuns.add(rs);
    return rs;
  }

  /**
   * Add tasks to an indexed run, then make it consistent: pending tasks of a cancelled run are
   * cancelled, pending tasks below a failure become dep_failed.
   */
  addTasks(rs: RunState, records: TaskRecord[]): void {
    for (const t of records) if (isTerminalTaskState(t.state)) compactFinished(t);
    const failedRoots = indexTasks(rs, records, this.now().getTime());
    if (rs.run.cancelRequestedAt) this.cancelPending(rs);
    else if (failedRoots.length) this.commit(dependentsToFail(rs, failedRoots));
  }

  /** All pending tasks of a cancelled run → cancelled. */
  cancelPending(rs: RunState): void {
    this.commit(pendingToCancel(rs));
  }

  markDirty(rs: RunState): void {
    this.dirtyRuns.add(rs);
  }

  /**
   * Write changes to the store (one atomic `updateTasks`), then apply them to the index, emit task
   * events and propagate failures to dependents. Changes to tasks whose state moved on are the
   * caller's responsibility to filter.
   */
  commit(changes: Change[]): void {
    if (changes.length === 0) return;
    const at = this.now().toISOString();
    // The state each task will have after the changes before it in this batch (by record: no key
    // string per change), and the transition check's context built only for an illegal change.
    const planned = new Map<TaskRecord, TaskState>();
    let completing: Change[] | null = null;
    const updates: TaskUpdate[] = changes.map((c) => {
      const t = c.rs.tasks.get(c.taskId)!;
      const from = planned.get(t) ?? t.state;
      const u: TaskUpdate = { runId: c.rs.run.id, taskId: c.taskId, patch: c.patch, expectedState: from };
      if (c.to !== undefined && c.to !== from) {
        if (!isAllowedTransition(from, c.to, c.by))
          this.checkTransition(from, c.to, c.by, `run ${c.rs.run.id} task ${c.taskId}: ${c.reason ?? ''}`);
        planned.set(t, c.to);
        u.transition = { to: c.to, at, reason: c.reason ?? null };
        if (c.to === 'completed') {
          completing ??= [];
          completing.push(c);
        }
      }
      return u;
    });
    const entries = completing ? this.cacheEntriesOfCompletions(completing, changes, at) : [];
    // The completions and their cache keys in one transaction (one commit, and never one without
    // the other). Nothing is applied to the index before the write has succeeded.
    if (entries.length && this.store.recordCacheEntries) {
      const store = this.store;
      store.transaction(() => {
        store.updateTasks(updates);
        store.recordCacheEntries!(entries);
      });
    } else this.store.updateTasks(updates);
    const failedByRun = new Map<RunState, string[]>();
    const emit = this.events.listenerCount('task') > 0;
    for (const c of changes) {
      const rs = c.rs;
      const t = rs.tasks.get(c.taskId)!;
      const from = t.state;
      Object.assign(t, c.patch);
      if (c.patch.meta) t.meta = { ...c.patch.meta };
      t.version++;
      this.dirtyRuns.add(rs);
      if (c.to !== undefined && c.to !== from) {
        t.state = c.to;
        applyStateChange(rs, t, from, c.to);
        if (FAILURE_STATES.has(c.to)) {
          const list = failedByRun.get(rs);
          if (list) list.push(t.spec.id);
          else failedByRun.set(rs, [t.spec.id]);
        }
      }
      noteTimes(rs, t);
      if (emit) this.emitTask(t, from);
      if (isTerminalTaskState(t.state)) compactFinished(t);
    }
    for (const [rs, ids] of failedByRun) this.commit(dependentsToFail(rs, ids));
  }

  /**
   * The cache entries of the tasks that `changes` complete, from the records as they will be once
   * the changes are applied (their meta holds the key); computed before the write so that the
   * entries are stored in the same transaction as the completions.
   */
  private cacheEntriesOfCompletions(completing: Change[], changes: Change[], at: string): CacheEntry[] {
    if (!this.store.recordCacheEntries) return [];
    const metaOf = new Map<RunState, Map<string, Record<string, unknown> | null>>();
    for (const c of completing) {
      const byTask = metaOf.get(c.rs) ?? new Map<string, Record<string, unknown> | null>();
      metaOf.set(c.rs, byTask);
      byTask.set(c.taskId, null);
    }
    // The last meta patch of each completing task in this batch wins, as when the index applies it.
    for (const c of changes) {
      const byTask = c.patch.meta ? metaOf.get(c.rs) : undefined;
      if (byTask?.has(c.taskId)) byTask.set(c.taskId, c.patch.meta!);
    }
    const entries: CacheEntry[] = [];
    // No copy of each completing record with its new meta (~200 bytes of garbage per completion).
    for (const [rs, byTask] of metaOf) {
      const records: TaskRecord[] = [];
      for (const taskId of byTask.keys()) records.push(rs.tasks.get(taskId)!);
      for (const e of cacheEntriesOf(rs, records, at, byTask)) entries.push(e);
    }
    return entries;
  }

  emitTask(t: TaskRecord, from: TaskState | null): void {
    this.events.emit('task', { runId: t.runId, task: { ...t, meta: { ...t.meta } }, from });
  }

  /** Emit `task` events for tasks that were just created (from = null). */
  emitNewTasks(records: Iterable<TaskRecord>): void {
    if (this.events.listenerCount('task')) for (const t of records) this.emitTask(t, null);
  }

  /** Emit one `run` event per changed run; retire runs that are finished. */
  flushRunEvents(): void {
    if (this.dirtyRuns.size === 0) return;
    const dirty = [...this.dirtyRuns];
    this.dirtyRuns.clear();
    for (const rs of dirty) {
      if (isRunFinished(rs) && this.runs.get(rs.run.id) === rs) {
        this.runs.delete(rs.run.id);
        rs.backendIndex.runs.delete(rs);
      }
      if (this.events.listenerCount('run'))
        this.events.emit('run', { runId: rs.run.id, summary: summaryOf(rs) });
    }
  }
}

/** What the engine's steps (submit, reconcile, poll, generators) share. */
export interface EngineContext {
  ledger: Ledger;
  /** Base poll interval (ms): also the base of per-task submission retry backoff. */
  pollIntervalMs: number;
  /** Grace before an `unknown` job is lost, or a non-final terminal verdict is acted on. */
  lostJobGraceMs: number;
  /** Grace for declared outputs to appear after a job exited 0 (`EngineOptions.outputsGraceMs`). */
  outputsGraceMs?: number;
  /** Show an error of a step that does not fail the tick (e.g. a cancel to retry) as the loop's last error. */
  noteBackendError(backendIndex: BackendIndex, message: string): void;
  /** How a backend's ready tasks are grouped into job arrays (see `arrays.ts`). */
  arrays(backendName: string): ArrayOptions;
}
