/**
 * The usage ledger: one row per finished task with known usage, kept apart from runs so that
 * CPU-hours over time (dashboard heatmap, per-hour panel) survive the deletion of old runs.
 */
import type { TaskRecord } from './domain.js';

/** One ledger row (a finished task whose usage is known). */
export interface UsageLedgerEntry {
  runId: string;
  taskId: string;
  backendName: string;
  workflowName: string;
  /** ISO start and end of the job (end decides the bucket). */
  startedAt: string | null;
  endedAt: string;
  allocCpus: number | null;
  elapsedSec: number | null;
  cpuTimeSec: number | null;
  maxRssBytes: number | null;
}

/** CPU-hours of one day or hour (UTC). */
export interface UsageBucket {
  /** `YYYY-MM-DD` or `YYYY-MM-DDTHH`. */
  bucket: string;
  /** Σ elapsed × allocated CPUs, hours. */
  cpuHoursAllocated: number;
  /** Σ CPU time, hours (tasks whose CPU time is unknown add nothing). */
  cpuHoursUsed: number;
  tasks: number;
}

/** The ledger entry of a task with `ok` usage, or null when it has none (yet). */
export function ledgerEntryOf(
  task: TaskRecord,
  run: { backendName: string; workflowName: string },
): UsageLedgerEntry | null {
  const u = task.usage;
  if (u?.status !== 'ok' || !task.finishedAt) return null;
  return {
    runId: task.runId,
    taskId: task.spec.id,
    backendName: run.backendName,
    workflowName: run.workflowName,
    startedAt: task.startedAt,
    endedAt: task.finishedAt,
    allocCpus: u.allocCpus,
    elapsedSec: u.elapsedSec,
    cpuTimeSec: u.cpuTimeSec,
    maxRssBytes: u.maxRssBytes,
  };
}

/** Bucket key of an ISO time (UTC). */
export function bucketOf(iso: string, unit: 'day' | 'hour'): string {
  return unit === 'day' ? iso.slice(0, 10) : iso.slice(0, 13);
}

/** Aggregate ledger entries into buckets (reference implementation, used by the memory store). */
export function aggregateUsage(
  entries: Iterable<UsageLedgerEntry>,
  unit: 'day' | 'hour',
  sinceIso: string,
): UsageBucket[] {
  const by = new Map<string, UsageBucket>();
  for (const e of entries) {
    if (e.endedAt < sinceIso) continue;
    const key = bucketOf(e.endedAt, unit);
    let b = by.get(key);
    if (!b) {
      b = { bucket: key, cpuHoursAllocated: 0, cpuHoursUsed: 0, tasks: 0 };
      by.set(key, b);
    }
    b.cpuHoursAllocated += ((e.elapsedSec ?? 0) * (e.allocCpus ?? 0)) / 3600;
    b.cpuHoursUsed += (e.cpuTimeSec ?? 0) / 3600;
    b.tasks += 1;
  }
  return [...by.values()].sort((a, b) => (a.bucket < b.bucket ? -1 : 1));
}
