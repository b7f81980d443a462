/**
 * Figures derived from task usage (pure functions): CPU and memory efficiency per task, run totals
 * (CPU-hours allocated and used, wall time, peak RSS) and right-sizing advice per dot-prefix group
 * ("pricing.*: requested 4G, peak 310M (p95 350M): 512M would fit").
 *
 * - CPU efficiency = CPU time / (elapsed × allocated CPUs);
 * - memory efficiency = peak RSS / requested memory;
 * - a figure whose inputs are unknown is null (never 0). Backends without usage accounting (AWS
 *   Batch, EC2) still give elapsed (from the task's start and end) and allocated CPUs (the task's
 *   request), hence CPU-hours allocated.
 */
import type { TaskRecord } from './domain.js';
import type { UsageStatus } from './usage.js';

/** Derived figures of one task. */
export interface TaskUsageFigures {
  status: UsageStatus | 'none';
  /** Why figures are missing (`unavailable`), or a note about a missing figure. */
  reason: string | null;
  elapsedSec: number | null;
  allocCpus: number | null;
  cpuTimeSec: number | null;
  maxRssBytes: number | null;
  reqMemBytes: number | null;
  /** 0..1 (may exceed 1 slightly through accounting rounding), null when unknown. */
  cpuEfficiency: number | null;
  memEfficiency: number | null;
  cpuHoursAllocated: number | null;
  cpuHoursUsed: number | null;
  instanceType: string | null;
}

const MIB = 1024 * 1024;

function elapsedOf(t: TaskRecord): number | null {
  if (t.usage?.elapsedSec != null) return t.usage.elapsedSec;
  if (!t.startedAt || !t.finishedAt) return null;
  const ms = Date.parse(t.finishedAt) - Date.parse(t.startedAt);
  return Number.isFinite(ms) && ms >= 0 ? ms / 1000 : null;
}

/** Figures of one task (from its usage, else from its start/end and request). */
export function taskUsageFigures(t: TaskRecord): TaskUsageFigures {
  const u = t.usage ?? null;
  const ended = t.finishedAt !== null && t.startedAt !== null;
  const elapsed = ended ? elapsedOf(t) : null;
  const cpus = u?.allocCpus ?? (ended ? t.spec.cpus : null);
  const cpuTime = u?.cpuTimeSec ?? null;
  const rss = u?.maxRssBytes ?? null;
  const reqMem = u?.reqMemBytes ?? (ended && t.spec.memoryMiB ? t.spec.memoryMiB * MIB : null);
  const allocSec = elapsed !== null && cpus !== null ? elapsed * cpus : null;
  return {
    status: u?.status ?? 'none',
    reason: u?.reason ?? null,
    elapsedSec: elapsed,
    allocCpus: cpus,
    cpuTimeSec: cpuTime,
    maxRssBytes: rss,
    reqMemBytes: reqMem,
    cpuEfficiency: cpuTime !== null && allocSec ? cpuTime / allocSec : null,
    memEfficiency: rss !== null && reqMem ? rss / reqMem : null,
    cpuHoursAllocated: allocSec !== null ? allocSec / 3600 : null,
    cpuHoursUsed: cpuTime !== null ? cpuTime / 3600 : null,
    instanceType:
      u?.instanceType ?? (typeof t.meta.instanceType === 'string' ? (t.meta.instanceType as string) : null),
  };
}

/** One piece of right-sizing advice. */
export interface UsageAdvice {
  /** `pricing.*` (dot-prefix group), or `*` for tasks without a dot. */
  group: string;
  kind: 'memory' | 'cpus';
  /** Tasks with figures the advice is based on. */
  tasks: number;
  message: string;
  /** Requested amount (bytes or CPUs) and the suggestion. */
  requested: number;
  suggested: number;
}

/** Usage totals of a run. */
export interface RunUsageSummary {
  tasks: number;
  /** Tasks by usage status. */
  ok: number;
  pending: number;
  unavailable: number;
  cpuHoursAllocated: number;
  /** Σ CPU time of tasks whose CPU time is known (null when none is). */
  cpuHoursUsed: number | null;
  /** CPU-hours used / CPU-hours allocated over the tasks where both are known. */
  cpuEfficiency: number | null;
  /** Σ elapsed of the tasks (task-hours of wall time). */
  wallSec: number;
  peakRssBytes: number | null;
  advice: UsageAdvice[];
}

/** The `p`-th percentile (0..100, nearest rank) of values; null for none. */
export function percentile(values: readonly number[], p: number): number | null {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

/** Human-readable binary size: `310M`, `1.5G`, `512K`. */
export function formatBytes(bytes: number | null): string {
  if (bytes === null || !Number.isFinite(bytes)) return '—';
  const units = ['B', 'K', 'M', 'G', 'T'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  const text = v >= 100 || Number.isInteger(v) ? String(Math.round(v)) : v.toFixed(1).replace(/\.0$/, '');
  return `${text}${units[i]}`;
}

/** Memory sizes suggested by the advice (what people type into `memory`). */
const NICE_MEMORY = [
  256, 512, 1024, 2048, 3072, 4096, 6144, 8192, 12288, 16384, 24576, 32768, 49152, 65536,
].map((m) => m * MIB);

/** The smallest usual size that holds `bytes` with 20% headroom. */
export function suggestMemory(bytes: number): number {
  const want = bytes * 1.2;
  return NICE_MEMORY.find((m) => m >= want) ?? Math.ceil(want / (8192 * MIB)) * 8192 * MIB;
}

/** Dot-prefix group of a task id: `pricing.a` → `pricing.*`; no dot → `*`. */
export function adviceGroupOf(taskId: string): string {
  const i = taskId.lastIndexOf('.');
  return i <= 0 ? '*' : `${taskId.slice(0, i)}.*`;
}

/** Memory advice when the group's peak is below half of its request (and the saving ≥ 256M). */
function memoryAdvice(group: string, figs: TaskUsageFigures[]): UsageAdvice | null {
  const withRss = figs.filter((f) => f.maxRssBytes !== null && f.reqMemBytes !== null);
  if (!withRss.length) return null;
  const requested = Math.max(...withRss.map((f) => f.reqMemBytes!));
  const rss = withRss.map((f) => f.maxRssBytes!);
  const peak = Math.max(...rss);
  const p95 = percentile(rss, 95)!;
  const suggested = suggestMemory(peak);
  if (peak >= requested / 2 || requested - suggested < 256 * MIB) return null;
  return {
    group,
    kind: 'memory',
    tasks: withRss.length,
    requested,
    suggested,
    message: `${group}: requested ${formatBytes(requested)}, peak ${formatBytes(peak)} (p95 ${formatBytes(p95)}): ${formatBytes(suggested)} would fit`,
  };
}

/** CPU advice when tasks asked for several CPUs and kept less than half of them busy. */
function cpuAdvice(group: string, figs: TaskUsageFigures[]): UsageAdvice | null {
  const known = figs.filter(
    (f) => f.cpuTimeSec !== null && f.elapsedSec && f.allocCpus !== null && f.allocCpus > 1,
  );
  if (!known.length) return null;
  const requested = Math.max(...known.map((f) => f.allocCpus!));
  const used = known.reduce((a, f) => a + f.cpuTimeSec!, 0);
  const alloc = known.reduce((a, f) => a + f.elapsedSec! * f.allocCpus!, 0);
  const efficiency = alloc ? used / alloc : 1;
  if (efficiency >= 0.5) return null;
  const busy = percentile(
    known.map((f) => f.cpuTimeSec! / f.elapsedSec!),
    95,
  )!;
  const suggested = Math.max(1, Math.ceil(busy - 0.05));
  if (suggested >= requested) return null;
  return {
    group,
    kind: 'cpus',
    tasks: known.length,
    requested,
    suggested,
    message: `${group}: cpus ${requested}, efficiency ${Math.round(efficiency * 100)}%: ${suggested} CPU${suggested === 1 ? '' : 's'} would do`,
  };
}

/** Totals and advice of a run's tasks. */
export function runUsageSummary(tasks: readonly TaskRecord[]): RunUsageSummary {
  const s: RunUsageSummary = {
    tasks: tasks.length,
    ok: 0,
    pending: 0,
    unavailable: 0,
    cpuHoursAllocated: 0,
    cpuHoursUsed: null,
    cpuEfficiency: null,
    wallSec: 0,
    peakRssBytes: null,
    advice: [],
  };
  const groups = new Map<string, TaskUsageFigures[]>();
  let usedKnown = 0;
  let allocKnown = 0;
  for (const t of tasks) {
    const f = taskUsageFigures(t);
    if (f.status === 'ok') s.ok++;
    else if (f.status === 'pending') s.pending++;
    else if (f.status === 'unavailable') s.unavailable++;
    s.cpuHoursAllocated += f.cpuHoursAllocated ?? 0;
    s.wallSec += f.elapsedSec ?? 0;
    if (f.cpuHoursUsed !== null) {
      s.cpuHoursUsed = (s.cpuHoursUsed ?? 0) + f.cpuHoursUsed;
      if (f.cpuHoursAllocated) {
        usedKnown += f.cpuHoursUsed;
        allocKnown += f.cpuHoursAllocated;
      }
    }
    if (f.maxRssBytes !== null) s.peakRssBytes = Math.max(s.peakRssBytes ?? 0, f.maxRssBytes);
    if (f.status === 'ok') {
      const g = adviceGroupOf(t.spec.id);
      const list = groups.get(g);
      if (list) list.push(f);
      else groups.set(g, [f]);
    }
  }
  s.cpuEfficiency = allocKnown ? usedKnown / allocKnown : null;
  for (const [group, figs] of [...groups].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const m = memoryAdvice(group, figs);
    if (m) s.advice.push(m);
    const c = cpuAdvice(group, figs);
    if (c) s.advice.push(c);
  }
  return s;
}
