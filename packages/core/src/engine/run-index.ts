/**
 * The engine's in-memory index of active runs, so that a scheduling pass costs O(ready + changed),
 * not O(all tasks): per run the tasks, reverse deps, unmet-dependency counts, the ready set, retry
 * delays and state counts; per backend the tracked jobs, interrupted submissions (orphans) and the
 * cancel queue. Functions here only maintain the index; writing to the store and emitting events is
 * the ledger's job ({@link Ledger}).
 */
import type { Backend, JobState, TrackedJob } from '../backend.js';
import {
  deriveRunStatus,
  emptyStateCounts,
  isActiveTaskState,
  isTerminalTaskState,
  type RunRecord,
  type StateCounts,
  type TaskRecord,
  type TaskSpec,
  type TaskState,
} from '../domain.js';
import { NO_META } from '../shared-empty.js';
import type { RunSummary, TaskPatch } from '../store.js';
import { defaultLogPaths } from './paths.js';
import type { TransitionCause } from './transitions.js';

/** States whose job the poll step follows. */
export const TRACKED_STATES: ReadonlySet<TaskState> = new Set(['submitted', 'queued', 'running']);
/** States that make dependents `dep_failed`. */
export const FAILURE_STATES: ReadonlySet<TaskState> = new Set(['failed', 'dep_failed', 'cancelled']);

/** Key of a task across runs. */
export const taskKey = (runId: string, taskId: string): string => `${runId}\u0000${taskId}`;

/** A task of an indexed run. */
export interface TaskRef {
  rs: RunState;
  taskId: string;
}

/** A `submitting` task whose submission may or may not have created a job. */
export interface Orphan extends TaskRef {
  /** Time (ms) from which the backend's `submitRetryWindowMs` is counted. */
  since: number;
}

/** Everything the engine tracks on one backend. */
export interface BackendIndex {
  backend: Backend;
  runs: Set<RunState>;
  /** Tasks with a job id in submitted/queued/running. */
  tracked: Map<string, TaskRef>;
  /** `submitting` tasks whose submit call gave no clear answer (crash, thrown error, `maybeSubmitted`). */
  orphans: Map<string, Orphan>;
  /** Jobs of cancelled runs still to cancel at the scheduler. */
  cancelQueue: Map<string, TaskRef>;
  /** First time (ms) a job was seen `unknown`. */
  unknownSince: Map<string, number>;
  /** First time (ms) a job was seen in a terminal state not yet `final`. */
  provisionalSince: Map<string, number>;
  /** Tasks in an active state (they hold, or may hold, a job). */
  active: number;
}

/** In-memory index of an active run. */
export interface RunState {
  run: RunRecord;
  backendIndex: BackendIndex;
  tasks: Map<string, TaskRecord>;
  /** taskId → ids of tasks depending on it. */
  rdeps: Map<string, string[]>;
  /** taskId → number of deps not yet completed. */
  unmet: Map<string, number>;
  /** Pending tasks whose deps are all completed (insertion order ≈ seq order). */
  ready: Set<string>;
  /** Pending tasks waiting for a retry after a transient submission failure: id → retry time (ms). */
  delayed: Map<string, number>;
  /** Transient submission failures per task (for backoff). */
  retries: Map<string, number>;
  /** Generator tasks whose generates_source file is being read. */
  finalizing: Set<string>;
  counts: StateCounts;
  active: number;
  maxSeq: number;
  firstSubmittedAt: string | null;
  lastFinishedAt: string | null;
}

/** A change to one task: fields, and optionally a new state with its cause (checked by the ledger). */
export type Change = { rs: RunState; taskId: string; patch: TaskPatch } & (
  | { to?: undefined }
  | { to: TaskState; by: TransitionCause; reason: string | null }
);

export function createBackendIndex(backend: Backend): BackendIndex {
  return {
    backend,
    runs: new Set(),
    tracked: new Map(),
    orphans: new Map(),
    cancelQueue: new Map(),
    unknownSince: new Map(),
    provisionalSince: new Map(),
    active: 0,
  };
}

export function createRunState(run: RunRecord, backendIndex: BackendIndex): RunState {
  return {
    run: { ...run },
    backendIndex,
    tasks: new Map(),
    rdeps: new Map(),
    unmet: new Map(),
    ready: new Set(),
    delayed: new Map(),
    retries: new Map(),
    finalizing: new Set(),
    counts: emptyStateCounts(),
    active: 0,
    maxSeq: -1,
    firstSubmittedAt: null,
    lastFinishedAt: null,
  };
}

/** A new `pending` task of a run, with its default log paths. */
export function newTaskRecord(run: RunRecord, spec: TaskSpec, seq: number): TaskRecord {
  const logs = defaultLogPaths(run.logDir, run.id, spec.id, seq);
  return {
    runId: run.id,
    seq,
    spec,
    state: 'pending',
    submitTag: null,
    jobId: null,
    pendingReason: null,
    exitCode: null,
    error: null,
    script: null,
    stdoutPath: spec.outputFile ?? logs.out,
    stderrPath: spec.errorFile ?? logs.err,
    submittedAt: null,
    startedAt: null,
    finishedAt: null,
    node: null,
    meta: NO_META,
    version: 0,
  };
}

/**
 * Add task records to a run's index (creation, restore, generates_source). Tasks found in
 * `submitting` become orphans whose retry window starts at `nowMs`. Returns the failed tasks below
 * which pending tasks must become `dep_failed` (consistency after a restore).
 */
export function indexTasks(rs: RunState, records: readonly TaskRecord[], nowMs: number): string[] {
  const bi = rs.backendIndex;
  for (const t of records) {
    rs.tasks.set(t.spec.id, t);
    rs.counts[t.state]++;
    if (t.seq > rs.maxSeq) rs.maxSeq = t.seq;
    if (isActiveTaskState(t.state)) {
      rs.active++;
      bi.active++;
    }
    const k = taskKey(rs.run.id, t.spec.id);
    if (TRACKED_STATES.has(t.state) && t.jobId) bi.tracked.set(k, { rs, taskId: t.spec.id });
    if (t.state === 'submitting') bi.orphans.set(k, { rs, taskId: t.spec.id, since: nowMs });
    noteTimes(rs, t);
  }
  const roots = new Set<string>();
  for (const t of records) {
    let unmet = 0;
    for (const d of t.spec.deps) {
      const list = rs.rdeps.get(d);
      if (list) list.push(t.spec.id);
      else rs.rdeps.set(d, [t.spec.id]);
      const dep = rs.tasks.get(d);
      if (dep?.state !== 'completed') unmet++;
      if (t.state === 'pending' && dep && FAILURE_STATES.has(dep.state)) roots.add(d);
    }
    rs.unmet.set(t.spec.id, unmet);
    if (t.state === 'pending' && unmet === 0) rs.ready.add(t.spec.id);
  }
  return [...roots];
}

/** Keep the index in step with a task that moved `from → to` (the record already holds `to`). */
export function applyStateChange(rs: RunState, t: TaskRecord, from: TaskState, to: TaskState): void {
  const bi = rs.backendIndex;
  const id = t.spec.id;
  const k = taskKey(rs.run.id, id);
  rs.counts[from]--;
  rs.counts[to]++;
  const wasActive = isActiveTaskState(from);
  const isActive = isActiveTaskState(to);
  if (wasActive && !isActive) {
    rs.active--;
    bi.active--;
  } else if (!wasActive && isActive) {
    rs.active++;
    bi.active++;
  }
  if (from === 'pending') {
    rs.ready.delete(id);
    rs.delayed.delete(id);
  }
  if (from === 'submitting' && bi.orphans.size) bi.orphans.delete(k);
  if (TRACKED_STATES.has(to) && t.jobId) bi.tracked.set(k, { rs, taskId: id });
  else if (TRACKED_STATES.has(from)) {
    bi.tracked.delete(k);
    bi.unknownSince.delete(k);
    bi.provisionalSince.delete(k);
  }
  if (isTerminalTaskState(to)) {
    if (bi.cancelQueue.size) bi.cancelQueue.delete(k);
    if (rs.retries.size) rs.retries.delete(id);
  }
  if (to === 'pending' && (rs.unmet.get(id) ?? 0) === 0 && !rs.delayed.has(id)) rs.ready.add(id);
  if (to === 'completed') {
    for (const r of rs.rdeps.get(id) ?? []) {
      const n = (rs.unmet.get(r) ?? 1) - 1;
      rs.unmet.set(r, n);
      if (n === 0 && rs.tasks.get(r)?.state === 'pending' && !rs.delayed.has(r)) rs.ready.add(r);
    }
  }
}

/** Move pending tasks whose retry time has come back into the ready set. */
export function releaseDueRetries(rs: RunState, nowMs: number): void {
  if (!rs.delayed.size) return;
  for (const [id, due] of rs.delayed) {
    if (due > nowMs) continue;
    rs.delayed.delete(id);
    const t = rs.tasks.get(id);
    if (t?.state === 'pending' && (rs.unmet.get(id) ?? 0) === 0) rs.ready.add(id);
  }
}

/** Changes that make every pending task depending (transitively) on `failedIds` dep_failed. */
export function dependentsToFail(rs: RunState, failedIds: readonly string[]): Change[] {
  const changes: Change[] = [];
  const seen = new Set<string>();
  const queue: { id: string; root: string }[] = failedIds.map((id) => ({ id, root: id }));
  for (let i = 0; i < queue.length; i++) {
    const { id, root } = queue[i]!;
    for (const r of rs.rdeps.get(id) ?? []) {
      if (seen.has(r)) continue;
      const t = rs.tasks.get(r);
      if (t?.state !== 'pending') continue;
      seen.add(r);
      const error =
        root === id ? `dependency "${id}" failed` : `dependency "${id}" failed (root cause: "${root}")`;
      changes.push({ rs, taskId: r, patch: { error }, to: 'dep_failed', by: 'dependency', reason: error });
      queue.push({ id: r, root });
    }
  }
  return changes;
}

/** Changes that cancel every pending task of a run. */
export function pendingToCancel(rs: RunState): Change[] {
  if (rs.counts.pending === 0) return [];
  const changes: Change[] = [];
  for (const t of rs.tasks.values()) {
    if (t.state === 'pending') {
      changes.push({
        rs,
        taskId: t.spec.id,
        patch: { error: 'cancelled by user' },
        to: 'cancelled',
        by: 'user',
        reason: 'cancelled by user',
      });
    }
  }
  return changes;
}

/** Keep the run's earliest submission and latest finish times. */
export function noteTimes(rs: RunState, t: TaskRecord): void {
  if (t.submittedAt && (rs.firstSubmittedAt === null || t.submittedAt < rs.firstSubmittedAt))
    rs.firstSubmittedAt = t.submittedAt;
  if (t.finishedAt && (rs.lastFinishedAt === null || t.finishedAt > rs.lastFinishedAt))
    rs.lastFinishedAt = t.finishedAt;
}

/** True when nothing of the run can change any more (the engine then forgets it). */
export function isRunFinished(rs: RunState): boolean {
  return rs.counts.pending === 0 && rs.active === 0 && rs.finalizing.size === 0;
}

export function summaryOf(rs: RunState): RunSummary {
  const counts = { ...rs.counts };
  return {
    run: { ...rs.run },
    counts,
    status: deriveRunStatus(counts, rs.run.cancelRequestedAt !== null),
    total: rs.tasks.size,
    firstSubmittedAt: rs.firstSubmittedAt,
    lastFinishedAt: rs.lastFinishedAt,
  };
}

function jobStateOf(state: TaskState): JobState | null {
  if (state === 'queued') return 'pending';
  if (state === 'running') return 'running';
  return null;
}

/** What the backend is told about a task's job (status, cancel, quickStatus). */
export function trackedJob(rs: RunState, t: TaskRecord): TrackedJob {
  return {
    jobId: t.jobId!,
    runId: rs.run.id,
    taskId: t.spec.id,
    tag: t.submitTag ?? '',
    stdoutPath: t.stdoutPath,
    stderrPath: t.stderrPath,
    submittedAt: t.submittedAt,
    lastState: jobStateOf(t.state),
    meta: t.meta,
  };
}
