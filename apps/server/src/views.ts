/**
 * Small pure helpers shared by the API and the UI: progress, durations, dot-prefix groups.
 */
import type { RunSummary, TaskRecord, TaskState } from '@scripthut/core';
import { TASK_STATES } from '@scripthut/core';
import type { ScriptHutRuntime } from '@scripthut/runtime';

/** Tasks in a terminal state / all tasks. */
export function progressOf(s: RunSummary): { done: number; total: number; percent: number } {
  const done = s.counts.completed + s.counts.failed + s.counts.dep_failed + s.counts.cancelled;
  return { done, total: s.total, percent: s.total === 0 ? 100 : Math.round((done / s.total) * 100) };
}

/** Wall time from first submission to last finish (or now while running), in ms. */
export function durationOf(s: RunSummary, now = Date.now()): number | null {
  if (!s.firstSubmittedAt) return null;
  const start = Date.parse(s.firstSubmittedAt);
  const end =
    s.status === 'running' || s.status === 'pending' || !s.lastFinishedAt
      ? now
      : Date.parse(s.lastFinishedAt);
  return Math.max(0, end - start);
}

/** The group of a task id: everything before the last dot (`build.x` → `build`), or `` for none. */
export function groupOf(taskId: string): string {
  const i = taskId.lastIndexOf('.');
  return i <= 0 ? '' : taskId.slice(0, i);
}

export interface TaskGroup {
  /** Dot prefix (`` = ungrouped tasks). */
  prefix: string;
  total: number;
  counts: Record<TaskState, number>;
}

/**
 * Counts per dot-prefix group, cached per run and keyed by the run's state counts (every task
 * transition changes them), so a 10,000-task run is listed only when something changed.
 */
export class GroupCache {
  private readonly cache = new Map<string, { key: string; groups: TaskGroup[] }>();
  get(runtime: ScriptHutRuntime, runId: string): TaskGroup[] {
    const summary = runtime.getRun(runId);
    const key = `${summary.total}:${TASK_STATES.map((s) => summary.counts[s]).join(',')}`;
    const hit = this.cache.get(runId);
    if (hit && hit.key === key) return hit.groups;
    const byPrefix = new Map<string, TaskGroup>();
    const pageSize = 5000;
    for (let offset = 0; ; offset += pageSize) {
      const { items, total } = runtime.listTasks(runId, { offset, limit: pageSize });
      for (const t of items) {
        const prefix = groupOf(t.spec.id);
        let g = byPrefix.get(prefix);
        if (!g) {
          g = {
            prefix,
            total: 0,
            counts: Object.fromEntries(TASK_STATES.map((s) => [s, 0])) as Record<TaskState, number>,
          };
          byPrefix.set(prefix, g);
        }
        g.total++;
        g.counts[t.state]++;
      }
      if (items.length < pageSize || offset + pageSize >= total) break;
    }
    const groups = [...byPrefix.values()].sort((a, b) => a.prefix.localeCompare(b.prefix));
    if (this.cache.size > 50) this.cache.clear();
    this.cache.set(runId, { key, groups });
    return groups;
  }
  invalidate(runId: string): void {
    this.cache.delete(runId);
  }
}

/** Slurm/PBS pending reasons in plain words. */
const REASONS: Record<string, string> = {
  Resources: 'waiting for free CPUs/memory on the cluster',
  Priority: 'other jobs in the queue have higher priority',
  Dependency: 'waiting for a scheduler dependency',
  DependencyNeverSatisfied: 'a dependency failed; this job will never start',
  BeginTime: 'scheduled to start later',
  JobHeldUser: 'held by the user',
  JobHeldAdmin: 'held by an administrator',
  ReqNodeNotAvail: 'the requested nodes are not available (down, drained or reserved)',
  PartitionTimeLimit: 'the time limit exceeds the partition maximum',
  PartitionNodeLimit: 'the partition cannot satisfy the node count',
  PartitionDown: 'the partition is down',
  PartitionInactive: 'the partition is inactive',
  QOSMaxJobsPerUserLimit: 'you reached the maximum number of running jobs for your QOS',
  QOSMaxCpuPerUserLimit: 'you reached the CPU limit for your QOS',
  AssocGrpCpuLimit: 'your account reached its CPU limit',
  AssocMaxJobsLimit: 'your account reached its job limit',
  AssocGrpGRES: 'your account reached its GPU/GRES limit',
  Reservation: 'waiting for a reservation',
  NodeDown: 'a required node is down',
  BadConstraints: 'the requested resources can never be satisfied',
  InvalidAccount: 'the account is invalid',
  InvalidQOS: 'the QOS is invalid',
  launch_failed_requeued_held: 'launch failed; the job was requeued and held',
};

/** Plain-language explanation of why a task is not running yet, or null. */
export function pendingExplanation(task: TaskRecord, depStates?: Map<string, TaskState>): string | null {
  if (task.state === 'pending') {
    const waiting = task.spec.deps.filter((d) => depStates?.get(d) !== 'completed');
    if (task.spec.deps.length > 0 && (depStates === undefined || waiting.length > 0)) {
      const list = (depStates ? waiting : task.spec.deps).slice(0, 3).join(', ');
      const more = (depStates ? waiting : task.spec.deps).length - 3;
      return `waiting for ${task.spec.deps.length === 1 ? 'its dependency' : 'dependencies'} to complete: ${list}${more > 0 ? ` and ${more} more` : ''}`;
    }
    return 'ready; waiting for a free slot under the run/backend concurrency limit';
  }
  if (task.state === 'submitting') return 'being submitted to the scheduler';
  if (task.state === 'submitted') return 'submitted; waiting for the scheduler to report it';
  if (task.state === 'queued') {
    const raw = task.pendingReason?.replace(/^\(|\)$/g, '') ?? null;
    if (!raw || raw === 'None') return 'queued by the scheduler';
    return `queued: ${REASONS[raw] ?? raw}${REASONS[raw] ? ` (${raw})` : ''}`;
  }
  return null;
}

/** `1h 02m`, `3m 05s`, `12s`. */
export function formatDuration(ms: number | null): string {
  if (ms === null) return '—';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}
