/**
 * A complete in-memory {@link RunStore}, for tests and benchmarks. Records are copied on the way in
 * and out so that callers cannot mutate stored state by accident.
 */
import {
  deriveRunStatus,
  emptyStateCounts,
  isTerminalTaskState,
  type RunRecord,
  type TaskRecord,
  type TaskTransition,
} from './domain.js';
import { ScriptHutError } from './errors.js';
import type { CapturedSummary, StoredOutputListing, TaskOutputStore } from './outputs.js';
import type { CacheEntry, RunListQuery, RunStore, RunSummary, TaskListQuery, TaskUpdate } from './store.js';
import { aggregateUsage, type UsageBucket, type UsageLedgerEntry } from './usage-ledger.js';

interface StoredRun {
  run: RunRecord;
  tasks: Map<string, TaskRecord>;
  transitions: TaskTransition[];
}

function cloneTask(t: TaskRecord): TaskRecord {
  return { ...t, meta: { ...t.meta }, ...(t.usage ? { usage: { ...t.usage } } : {}) };
}

/**
 * In-memory run store. Not persistent; `transaction()` is all-or-nothing for `updateTasks` only in
 * the sense that a failing update (unknown task) is detected before anything is written.
 *
 * @example
 * ```ts
 * const store = new MemoryRunStore();
 * const engine = new Engine({ store, backends: [backend], pollIntervalMs: 1000 });
 * ```
 */
export class MemoryRunStore implements RunStore, TaskOutputStore {
  private readonly runs = new Map<string, StoredRun>();
  /** When false, transitions are not kept (benchmarks with very large runs). */
  private readonly keepTransitions: boolean;
  private version = 0;
  /** The usage ledger (kept when runs are deleted). */
  private readonly ledger = new Map<string, UsageLedgerEntry>();
  /** Number of `updateTasks` calls (for tests). */
  updateCalls = 0;

  constructor(options: { keepTransitions?: boolean } = {}) {
    this.keepTransitions = options.keepTransitions ?? true;
  }

  private need(runId: string): StoredRun {
    const r = this.runs.get(runId);
    if (!r) throw new ScriptHutError('not_found', `run ${runId} not found`);
    return r;
  }

  insertRun(run: RunRecord, tasks: TaskRecord[]): void {
    if (this.runs.has(run.id)) throw new ScriptHutError('conflict', `run ${run.id} already exists`);
    const map = new Map<string, TaskRecord>();
    for (const t of tasks) {
      if (map.has(t.spec.id)) throw new ScriptHutError('store_error', `duplicate task id ${t.spec.id}`);
      map.set(t.spec.id, cloneTask(t));
    }
    this.runs.set(run.id, { run: structuredClone(run), tasks: map, transitions: [] });
  }

  appendTasks(runId: string, tasks: TaskRecord[]): void {
    const r = this.need(runId);
    for (const t of tasks) {
      if (r.tasks.has(t.spec.id)) throw new ScriptHutError('store_error', `duplicate task id ${t.spec.id}`);
    }
    for (const t of tasks) r.tasks.set(t.spec.id, cloneTask(t));
  }

  getRun(runId: string): RunRecord | null {
    const r = this.runs.get(runId);
    return r ? structuredClone(r.run) : null;
  }

  updateRun(
    runId: string,
    patch: Partial<Pick<RunRecord, 'cancelRequestedAt' | 'git' | 'baseDir' | 'logDir'>>,
  ): void {
    const r = this.need(runId);
    Object.assign(r.run, structuredClone(patch));
  }

  deleteRun(runId: string): void {
    this.runs.delete(runId);
    for (const [k, e] of this.cacheEntries) if (e.runId === runId) this.cacheEntries.delete(k);
  }

  /** Cache entries by run and task, in the order recorded (a re-recorded entry moves to the end). */
  private readonly cacheEntries = new Map<string, CacheEntry>();

  recordCacheEntries(entries: CacheEntry[]): void {
    for (const e of entries) {
      const k = `${e.runId}\u0000${e.taskId}`;
      this.cacheEntries.delete(k);
      this.cacheEntries.set(k, structuredClone(e));
    }
  }

  findCacheEntry(scope: string, key: string): CacheEntry | null {
    return this.lastEntry((e) => e.scope === scope && e.key === key);
  }

  lastCacheEntryOfTask(scope: string, taskId: string): CacheEntry | null {
    return this.lastEntry((e) => e.scope === scope && e.taskId === taskId);
  }

  private lastEntry(match: (e: CacheEntry) => boolean): CacheEntry | null {
    let best: CacheEntry | null = null;
    for (const e of this.cacheEntries.values())
      if (match(e) && (!best || e.completedAt >= best.completedAt)) best = e;
    return best ? structuredClone(best) : null;
  }

  summarizeRun(runId: string): RunSummary | null {
    const r = this.runs.get(runId);
    if (!r) return null;
    const counts = emptyStateCounts();
    let first: string | null = null;
    let last: string | null = null;
    for (const t of r.tasks.values()) {
      counts[t.state]++;
      if (t.submittedAt && (first === null || t.submittedAt < first)) first = t.submittedAt;
      if (t.finishedAt && (last === null || t.finishedAt > last)) last = t.finishedAt;
    }
    return {
      run: structuredClone(r.run),
      counts,
      status: deriveRunStatus(counts, r.run.cancelRequestedAt !== null),
      total: r.tasks.size,
      firstSubmittedAt: first,
      lastFinishedAt: last,
    };
  }

  listRuns(query: RunListQuery = {}): { items: RunSummary[]; total: number } {
    let items = [...this.runs.keys()].map((id) => this.summarizeRun(id)!);
    if (query.status) items = items.filter((s) => s.status === query.status);
    if (query.workflow) items = items.filter((s) => s.run.workflowName === query.workflow);
    if (query.backend) items = items.filter((s) => s.run.backendName === query.backend);
    if (query.idPrefix) items = items.filter((s) => s.run.id.startsWith(query.idPrefix!));
    items.sort((a, b) =>
      a.run.createdAt < b.run.createdAt ? 1 : a.run.createdAt > b.run.createdAt ? -1 : 0,
    );
    const offset = query.offset ?? 0;
    const limit = query.limit ?? items.length;
    return { items: items.slice(offset, offset + limit), total: items.length };
  }

  listUnfinishedRunIds(): string[] {
    const out: string[] = [];
    for (const [id, r] of this.runs) {
      for (const t of r.tasks.values()) {
        if (!isTerminalTaskState(t.state)) {
          out.push(id);
          break;
        }
      }
    }
    return out;
  }

  getTask(runId: string, taskId: string): TaskRecord | null {
    const t = this.runs.get(runId)?.tasks.get(taskId);
    return t ? cloneTask(t) : null;
  }

  listTasks(runId: string, query: TaskListQuery = {}): { items: TaskRecord[]; total: number } {
    const r = this.runs.get(runId);
    if (!r) return { items: [], total: 0 };
    let items = [...r.tasks.values()].sort((a, b) => a.seq - b.seq);
    if (query.states) {
      const states = new Set(query.states);
      items = items.filter((t) => states.has(t.state));
    }
    if (query.idPrefix) items = items.filter((t) => t.spec.id.startsWith(query.idPrefix!));
    const offset = query.offset ?? 0;
    const limit = query.limit ?? items.length;
    return { items: items.slice(offset, offset + limit).map(cloneTask), total: items.length };
  }

  allTasks(runId: string): TaskRecord[] {
    const r = this.runs.get(runId);
    if (!r) return [];
    return [...r.tasks.values()].sort((a, b) => a.seq - b.seq).map(cloneTask);
  }

  taskStartTimes(runId: string): Map<string, string | null> {
    const r = this.runs.get(runId);
    return new Map([...(r?.tasks.values() ?? [])].map((t) => [t.spec.id, t.startedAt]));
  }

  updateTasks(updates: TaskUpdate[]): void {
    this.updateCalls++;
    // Validate first so that a bad update writes nothing.
    const targets = updates.map((u) => {
      const t = this.runs.get(u.runId)?.tasks.get(u.taskId);
      if (!t) throw new ScriptHutError('store_error', `task ${u.runId}/${u.taskId} not found`);
      return t;
    });
    updates.forEach((u, i) => {
      const t = targets[i]!;
      const from = t.state;
      Object.assign(t, u.patch);
      if (u.patch.meta) t.meta = { ...u.patch.meta };
      if (u.patch.usage) t.usage = { ...u.patch.usage };
      t.version = ++this.version;
      if (u.transition) {
        t.state = u.transition.to;
        if (this.keepTransitions) {
          this.runs.get(u.runId)!.transitions.push({
            runId: u.runId,
            taskId: u.taskId,
            from,
            to: u.transition.to,
            at: u.transition.at,
            reason: u.transition.reason,
          });
        }
      }
    });
  }

  transitions(runId: string, taskId?: string): TaskTransition[] {
    const list = this.runs.get(runId)?.transitions ?? [];
    return (taskId === undefined ? list : list.filter((t) => t.taskId === taskId)).map((t) => ({ ...t }));
  }

  tasksAwaitingUsage(): TaskRecord[] {
    const out: TaskRecord[] = [];
    for (const r of this.runs.values())
      for (const t of r.tasks.values()) if (t.usage?.status === 'pending') out.push(cloneTask(t));
    return out;
  }

  recordUsage(entries: UsageLedgerEntry[]): void {
    for (const e of entries) this.ledger.set(`${e.runId}\u0000${e.taskId}`, { ...e });
  }

  usageBuckets(unit: 'day' | 'hour', sinceIso: string): UsageBucket[] {
    return aggregateUsage(this.ledger.values(), unit, sinceIso);
  }

  transaction<T>(fn: () => T): T {
    return fn();
  }

  close(): void {}

  // --- task outputs ---------------------------------------------------------------------------

  private readonly outputs = new Map<string, StoredOutputListing>();

  saveTaskOutputs(listing: StoredOutputListing): void {
    this.need(listing.runId);
    this.outputs.set(`${listing.runId}\n${listing.taskId}`, structuredClone(listing));
  }

  getTaskOutputs(runId: string, taskId: string): StoredOutputListing | null {
    const l = this.outputs.get(`${runId}\n${taskId}`);
    return l ? structuredClone(l) : null;
  }

  runSummaryFragments(runId: string): { taskId: string; seq: number; summary: CapturedSummary }[] {
    const r = this.runs.get(runId);
    if (!r) return [];
    return [...r.tasks.values()]
      .sort((a, b) => a.seq - b.seq)
      .flatMap((t) => {
        const summary = this.outputs.get(`${runId}\n${t.spec.id}`)?.runSummary;
        return summary ? [{ taskId: t.spec.id, seq: t.seq, summary: { ...summary } }] : [];
      });
  }

  tasksAwaitingOutputs(backendNames: readonly string[], limit: number): { runId: string; taskId: string }[] {
    const out: { runId: string; taskId: string }[] = [];
    for (const { run, tasks } of this.runs.values()) {
      if (!backendNames.includes(run.backendName)) continue;
      for (const t of tasks.values()) {
        if (out.length >= limit) return out;
        const ended = t.state === 'completed' || t.state === 'failed' || t.state === 'cancelled';
        if (ended && t.jobId && t.meta.keptFrom === undefined && !this.outputs.has(`${run.id}\n${t.spec.id}`))
          out.push({ runId: run.id, taskId: t.spec.id });
      }
    }
    return out;
  }
}
