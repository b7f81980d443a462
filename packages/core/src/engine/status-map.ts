/**
 * Pure mapping from what a backend reports about a job ({@link JobStatus}) to the change of its
 * task, with the grace rules:
 *
 * - a terminal state with `final: false` (e.g. Slurm before accounting confirms it) is acted on only
 *   once final, or after the grace ({@link waitsForFinalVerdict});
 * - a job the scheduler does not know (`unknown`) fails as "job lost" only after being unknown, and
 *   submitted, for longer than the grace;
 * - a task never goes back from `running` to `queued`;
 * - times, node and exit code reported by the backend win over what the engine observed itself.
 */
import type { JobState, JobStatus } from '../backend.js';
import type { TaskRecord, TaskState } from '../domain.js';
import type { TaskPatch } from '../store.js';

/** Job states after which the job does not run any more. */
export const TERMINAL_JOB_STATES: ReadonlySet<JobState> = new Set([
  'completed',
  'failed',
  'cancelled',
  'timeout',
  'out_of_memory',
  'node_fail',
]);

export function isTerminalJobState(state: JobState): boolean {
  return TERMINAL_JOB_STATES.has(state);
}

/** A task change derived from a job status. */
export interface StatusChange {
  to: TaskState;
  patch: TaskPatch;
  reason: string;
}

export interface StatusContext {
  nowMs: number;
  nowIso: string;
  /** Grace before an unknown job is lost (ms). */
  lostJobGraceMs: number;
  /** When the job was first seen `unknown` (ms); only read for `unknown` statuses. */
  unknownSinceMs: number;
  /** The user cancelled the run (a cancelled job is then "cancelled by user"). */
  cancelRequested: boolean;
}

/** The fields of the task a status is mapped against. */
export type StatusTask = Pick<
  TaskRecord,
  'state' | 'pendingReason' | 'node' | 'startedAt' | 'submittedAt' | 'jobId' | 'spec'
>;

/**
 * True while a terminal but not final verdict must be waited out: `provisionalSinceMs` is when it was
 * first seen. Non-terminal and final statuses never wait.
 */
export function waitsForFinalVerdict(
  status: JobStatus,
  provisionalSinceMs: number,
  nowMs: number,
  graceMs: number,
): boolean {
  return isTerminalJobState(status.state) && status.final === false && nowMs - provisionalSinceMs < graceMs;
}

/**
 * End fields of a finished task: the backend's report (start, end, node, exit code) wins over what
 * the engine observed; the engine's values fill what the backend did not report.
 */
export function finishedFields(task: StatusTask, status: JobStatus, nowIso: string): TaskPatch {
  const patch: TaskPatch = {
    finishedAt: status.finishedAt ?? nowIso,
    startedAt: status.startedAt ?? task.startedAt ?? null,
    node: status.node ?? task.node,
    pendingReason: null,
  };
  if (status.exitCode !== undefined && status.exitCode !== null) patch.exitCode = status.exitCode;
  return patch;
}

/**
 * The end patch of a job ({@link finishedFields}) with `error` (and `exitCode` when given) set in
 * it: one object per ended job, built only for a job that ended (most polls see jobs queued or
 * running).
 */
function ended(
  task: StatusTask,
  st: JobStatus,
  nowIso: string,
  error: string | null,
  exitCode?: number,
): TaskPatch {
  const patch = finishedFields(task, st, nowIso);
  if (exitCode !== undefined) patch.exitCode = exitCode;
  patch.error = error;
  return patch;
}

/** The change of a job that ended in failure with `error`. */
function failedChange(task: StatusTask, st: JobStatus, nowIso: string, error: string): StatusChange {
  return { to: 'failed', patch: ended(task, st, nowIso, error), reason: error };
}

/** The change a status causes to its task, or null when nothing changes (yet). */
export function mapJobStatus(task: StatusTask, st: JobStatus, ctx: StatusContext): StatusChange | null {
  const why = st.reason ? ` (${st.reason})` : '';
  switch (st.state) {
    case 'pending': {
      const reason = st.reason ?? null;
      if (task.state === 'queued' && task.pendingReason === reason) return null;
      if (task.state === 'running') return null; // never go backwards
      return {
        to: 'queued',
        patch: { pendingReason: reason },
        reason: reason ? `pending: ${reason}` : 'pending',
      };
    }
    case 'running':
    case 'completing': {
      const node = st.node ?? task.node;
      if (task.state === 'running' && node === task.node) return null;
      return {
        to: 'running',
        patch: { pendingReason: null, startedAt: task.startedAt ?? st.startedAt ?? ctx.nowIso, node },
        reason: st.rawState ?? st.state,
      };
    }
    case 'completed': {
      const exit = st.exitCode ?? 0;
      if (exit !== 0) {
        const error = `exit code ${exit}`;
        return { to: 'failed', patch: ended(task, st, ctx.nowIso, error, exit), reason: error };
      }
      return { to: 'completed', patch: ended(task, st, ctx.nowIso, null, 0), reason: 'completed' };
    }
    case 'failed':
      return failedChange(
        task,
        st,
        ctx.nowIso,
        st.exitCode !== undefined && st.exitCode !== null
          ? `exit code ${st.exitCode}${why}`
          : `job failed${why}`,
      );
    case 'timeout':
      return failedChange(task, st, ctx.nowIso, `exceeded time limit (${task.spec.timeLimit})`);
    case 'out_of_memory':
      return failedChange(task, st, ctx.nowIso, `out of memory (limit ${task.spec.memory})`);
    case 'node_fail':
      return failedChange(task, st, ctx.nowIso, `node failure${why}`);
    case 'cancelled': {
      const error = ctx.cancelRequested ? 'cancelled by user' : `cancelled by the scheduler${why}`;
      return { to: 'cancelled', patch: ended(task, st, ctx.nowIso, error), reason: error };
    }
    default: {
      const since = ctx.unknownSinceMs;
      const submitted = task.submittedAt ? Date.parse(task.submittedAt) : since;
      const from = Math.max(since, Number.isFinite(submitted) ? submitted : since);
      if (ctx.nowMs - from < ctx.lostJobGraceMs) return null;
      const error = `job lost: the scheduler has no record of job ${task.jobId} (unknown for ${Math.round((ctx.nowMs - from) / 1000)} s)`;
      return { to: 'failed', patch: { error, finishedAt: ctx.nowIso }, reason: error };
    }
  }
}
