/** @jsxImportSource hono/jsx */
/**
 * Usage views: a task's figures (task page), a run's usage summary and right-sizing advice (run
 * page), and the CPU-hours heatmap (per day, last year) and per-hour bars (last day) of the
 * dashboard, from the usage ledger (which keeps the totals of deleted runs).
 */
import {
  formatBytes,
  type RunUsageSummary,
  runUsageSummary,
  type TaskRecord,
  taskUsageFigures,
  type UsageBucket,
} from '@scripthut/core';
import type { FC } from 'hono/jsx';
import { formatDuration } from '../views.js';

/** `0.127` → `13%`; null → `—`. */
export function fmtPercent(v: number | null): string {
  return v === null || !Number.isFinite(v) ? '—' : `${Math.round(v * 100)}%`;
}

function fmtHours(h: number | null): string {
  if (h === null) return '—';
  return h >= 100 ? h.toFixed(0) : h >= 1 ? h.toFixed(2) : h.toFixed(4);
}

/** The task page's usage rows (inside its `<dl class="kv">`). */
export const TaskUsageRows: FC<{ task: TaskRecord }> = ({ task }) => {
  const f = taskUsageFigures(task);
  const status =
    f.status === 'pending'
      ? 'waiting for accounting…'
      : f.status === 'unavailable'
        ? `unavailable: ${f.reason ?? 'unknown reason'}`
        : f.status === 'ok'
          ? `from ${task.usage?.source ?? 'accounting'}${f.reason ? ` (${f.reason})` : ''}`
          : '—';
  return (
    <>
      <dt>Usage</dt>
      <dd data-usage-status={f.status}>{status}</dd>
      <dt>Elapsed</dt>
      <dd data-usage="elapsed">{f.elapsedSec === null ? '—' : formatDuration(f.elapsedSec * 1000)}</dd>
      <dt>CPU time</dt>
      <dd data-usage="cpu">
        {f.cpuTimeSec === null
          ? '—'
          : `${f.cpuTimeSec.toFixed(2)} s on ${f.allocCpus ?? '?'} cpu (efficiency ${fmtPercent(f.cpuEfficiency)})`}
      </dd>
      <dt>MaxRSS</dt>
      <dd data-usage="maxrss">
        {f.maxRssBytes === null
          ? '—'
          : `${formatBytes(f.maxRssBytes)} of ${formatBytes(f.reqMemBytes)} requested (${fmtPercent(f.memEfficiency)})`}
      </dd>
      {f.instanceType ? (
        <>
          <dt>Instance type</dt>
          <dd>{f.instanceType}</dd>
        </>
      ) : null}
    </>
  );
};

/** The run page's usage summary and advice. */
export const RunUsagePanel: FC<{ usage: RunUsageSummary }> = ({ usage: u }) =>
  u.ok + u.pending + u.unavailable === 0 && u.cpuHoursAllocated === 0 ? (
    <div class="panel empty">No usage yet.</div>
  ) : (
    <div class="panel" id="run-usage-panel">
      <dl class="kv">
        <dt>CPU-hours</dt>
        <dd data-usage="cpu-hours">
          {`${fmtHours(u.cpuHoursAllocated)} allocated · ${u.cpuHoursUsed === null ? '— (unknown)' : fmtHours(u.cpuHoursUsed)} used · efficiency ${fmtPercent(u.cpuEfficiency)}`}
        </dd>
        <dt>Wall time</dt>
        <dd>{`${fmtHours(u.wallSec / 3600)} task-hours`}</dd>
        <dt>Peak RSS</dt>
        <dd>{formatBytes(u.peakRssBytes)}</dd>
        <dt>Figures</dt>
        <dd>
          {`${u.ok} measured${u.pending ? ` · ${u.pending} waiting for accounting` : ''}${u.unavailable ? ` · ${u.unavailable} unavailable` : ''}`}
        </dd>
      </dl>
      {u.advice.length ? (
        <ul class="advice" data-advice>
          {u.advice.map((a) => (
            <li>{a.message}</li>
          ))}
        </ul>
      ) : null}
    </div>
  );

/** The run timeline's bar of a task: its real start and end, relative to the run's span. */
export function timelineSpan(
  tasks: readonly TaskRecord[],
  now = Date.now(),
): { startMs: number; endMs: number } | null {
  let start = Number.POSITIVE_INFINITY;
  let end = Number.NEGATIVE_INFINITY;
  for (const t of tasks) {
    if (!t.startedAt) continue;
    start = Math.min(start, Date.parse(t.startedAt));
    end = Math.max(end, t.finishedAt ? Date.parse(t.finishedAt) : now);
  }
  return Number.isFinite(start) && Number.isFinite(end)
    ? { startMs: start, endMs: Math.max(end, start + 1) }
    : null;
}

const DAY_MS = 86_400_000;

/** CPU-hours per day over the last year (a GitHub-style heatmap) and per hour over the last day. */
export const UsageHeatmap: FC<{ days: UsageBucket[]; hours: UsageBucket[]; now?: number }> = ({
  days,
  hours,
  now = Date.now(),
}) => {
  const byDay = new Map(days.map((d) => [d.bucket, d]));
  const max = Math.max(0, ...days.map((d) => d.cpuHoursAllocated));
  const today = new Date(new Date(now).toISOString().slice(0, 10)).getTime();
  const first = today - 52 * 7 * DAY_MS - new Date(today).getUTCDay() * DAY_MS;
  const cells: { key: string; x: number; y: number; level: number; title: string }[] = [];
  for (let t = first, i = 0; t <= today; t += DAY_MS, i++) {
    const key = new Date(t).toISOString().slice(0, 10);
    const b = byDay.get(key);
    const v = b?.cpuHoursAllocated ?? 0;
    const level = v <= 0 || max <= 0 ? 0 : Math.min(4, 1 + Math.floor((v / max) * 3.999));
    cells.push({
      key,
      x: Math.floor(i / 7) * 12,
      y: (i % 7) * 12,
      level,
      title: `${key}: ${fmtHours(v)} CPU-hours allocated, ${fmtHours(b?.cpuHoursUsed ?? 0)} used (${b?.tasks ?? 0} tasks)`,
    });
  }
  const hourMax = Math.max(0, ...hours.map((h) => h.cpuHoursAllocated));
  const total = days.reduce((a, d) => a + d.cpuHoursAllocated, 0);
  const COLORS = ['#ebedf0', '#9be9a8', '#40c463', '#30a14e', '#216e39'];
  return (
    <div class="panel" id="usage-heatmap" data-total-cpu-hours={total.toFixed(6)}>
      <div class="small muted">{`${fmtHours(total)} CPU-hours allocated in the last year (usage ledger)`}</div>
      <svg
        width={Math.ceil(cells.length / 7) * 12 + 2}
        height={7 * 12 + 2}
        role="img"
        aria-label="CPU-hours per day"
      >
        {cells.map((c) => (
          <rect
            x={c.x}
            y={c.y}
            width="10"
            height="10"
            rx="2"
            fill={COLORS[c.level]}
            data-day={c.key}
            data-level={c.level}
          >
            <title>{c.title}</title>
          </rect>
        ))}
      </svg>
      <div class="small muted" style="margin-top:8px">
        CPU-hours per hour, last 24 hours
      </div>
      <svg width={24 * 14} height="44" role="img" aria-label="CPU-hours per hour">
        {Array.from({ length: 24 }, (_, i) => {
          const key = new Date(now - (23 - i) * 3_600_000).toISOString().slice(0, 13);
          const b = hours.find((h) => h.bucket === key);
          const v = b?.cpuHoursAllocated ?? 0;
          const h = hourMax > 0 ? Math.max(v > 0 ? 2 : 0, Math.round((v / hourMax) * 40)) : 0;
          return (
            <rect x={i * 14} y={42 - h} width="12" height={h} fill="#30a14e" data-hour={key}>
              <title>{`${key}:00 UTC: ${fmtHours(v)} CPU-hours allocated`}</title>
            </rect>
          );
        })}
      </svg>
    </div>
  );
};

/** The ledger buckets the dashboard shows (last year by day, last 24 hours by hour). */
export function dashboardUsage(
  store: { usageBuckets(unit: 'day' | 'hour', sinceIso: string): UsageBucket[] },
  now = Date.now(),
): { days: UsageBucket[]; hours: UsageBucket[] } {
  return {
    days: store.usageBuckets('day', new Date(now - 366 * DAY_MS).toISOString().slice(0, 10)),
    hours: store.usageBuckets('hour', new Date(now - 24 * 3_600_000).toISOString().slice(0, 13)),
  };
}

/** Usage summary of a whole run (all its tasks, read in pages). */
export function runUsageOf(
  runtime: {
    listTasks(runId: string, q: { offset: number; limit: number }): { items: TaskRecord[]; total: number };
  },
  runId: string,
): RunUsageSummary {
  const all: TaskRecord[] = [];
  for (let offset = 0; ; offset += 5000) {
    const { items, total } = runtime.listTasks(runId, { offset, limit: 5000 });
    all.push(...items);
    if (!items.length || offset + items.length >= total) break;
  }
  return runUsageSummary(all);
}
