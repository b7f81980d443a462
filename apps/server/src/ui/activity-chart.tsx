/** @jsxImportSource hono/jsx */
/**
 * The activity chart of a large run: tasks queued and running over time as a server-rendered SVG step
 * chart (no script, no external asset: fits the page's CSP), with a text summary of the peaks.
 */
import type { RunActivity, RunActivityPoint } from '@scripthut/core';
import type { FC } from 'hono/jsx';
import { formatDuration } from '../views.js';
import { tickStep } from './run-tasks.js';

/** Above this many tasks, the run page's timeline tab shows the activity chart instead of one row per task. */
export const ACTIVITY_CHART_MIN_TASKS = 200;

const W = 800;
const H = 220;
const LEFT = 48;
const RIGHT = 12;
const TOP = 12;
const BOTTOM = 26;
const PLOT_W = W - LEFT - RIGHT;
const PLOT_H = H - TOP - BOTTOM;

/** A round upper bound for the count axis and its tick step (1, 2 or 5 × 10^k; at most ~4 steps). */
export function countAxis(max: number): { top: number; step: number } {
  if (max <= 0) return { top: 1, step: 1 };
  let step = 1;
  for (let k = 1; ; k *= 10) {
    const s = [1, 2, 5].map((m) => m * k).find((c) => max / c <= 4);
    if (s !== undefined) {
      step = s;
      break;
    }
  }
  return { top: Math.ceil(max / step) * step, step };
}

/** SVG path of a step series: each value holds until the next point, the last one until `spanMs`. */
export function stepPath(
  points: readonly RunActivityPoint[],
  value: (p: RunActivityPoint) => number,
  x: (t: number) => number,
  y: (v: number) => number,
  spanMs: number,
): string {
  if (points.length === 0) return '';
  const f = (n: number) => n.toFixed(1);
  const first = points[0] as RunActivityPoint;
  let d = `M${f(x(first.t))} ${f(y(value(first)))}`;
  for (let i = 1; i < points.length; i++) {
    const p = points[i] as RunActivityPoint;
    d += `H${f(x(p.t))}V${f(y(value(p)))}`;
  }
  return `${d}H${f(x(spanMs))}`;
}

function at(ms: number | null): string {
  return ms === null ? '' : ` at +${formatDuration(ms)}`;
}

/** The peaks and current counts in words (the chart's description and the text beside it). */
export function activitySummary(a: RunActivity): string {
  const parts = [
    `Peak running: ${a.peakRunning}${at(a.peakRunningAt)}`,
    `peak queued: ${a.peakQueued}${at(a.peakQueuedAt)}`,
    `over ${formatDuration(a.spanMs)} and ${a.tasks} tasks`,
  ];
  if (a.runningNow + a.queuedNow > 0) parts.push(`now ${a.runningNow} running, ${a.queuedNow} queued`);
  return `${parts.join('; ')}.`;
}

/** The chart with its legend and summary; `id` keeps the title/desc ids unique on the page. */
export const ActivityChart: FC<{ activity: RunActivity; id: string }> = ({ activity: a, id }) => {
  if (a.points.length === 0 || a.peakQueued + a.peakRunning === 0)
    return (
      <div class="panel empty" data-activity="empty">
        No task has been queued yet.
      </div>
    );
  const span = Math.max(a.spanMs, 1);
  const { top, step } = countAxis(Math.max(a.peakQueued, a.peakRunning));
  const x = (t: number) => LEFT + (t / span) * PLOT_W;
  const y = (v: number) => TOP + PLOT_H - (v / top) * PLOT_H;
  const running = stepPath(a.points, (p) => p.running, x, y, a.spanMs);
  const queued = stepPath(a.points, (p) => p.queued, x, y, a.spanMs);
  const base = y(0).toFixed(1);
  const timeStep = tickStep(span);
  const timeTicks: number[] = [];
  for (let t = 0; t <= span; t += timeStep) timeTicks.push(t);
  const countTicks: number[] = [];
  for (let v = 0; v <= top; v += step) countTicks.push(v);
  const summary = activitySummary(a);
  const bucketText =
    a.bucketMs !== null && a.bucketMs < 1000 ? `${a.bucketMs} ms` : formatDuration(a.bucketMs);
  const bucket = a.bucketMs === null ? '' : ` Each point is the highest count within ${bucketText}.`;
  return (
    <div class="activity panel" data-activity="chart">
      <svg
        viewBox={`0 0 ${W} ${H}`}
        role="img"
        aria-labelledby={`${id}-title ${id}-desc`}
        xmlns="http://www.w3.org/2000/svg"
      >
        <title id={`${id}-title`}>Tasks queued and running over time</title>
        <desc id={`${id}-desc`}>{summary}</desc>
        <g class="grid">
          {countTicks.map((v) => (
            <line x1={LEFT} x2={W - RIGHT} y1={y(v).toFixed(1)} y2={y(v).toFixed(1)} />
          ))}
        </g>
        <path class="running" d={`${running}V${base}H${x(0).toFixed(1)}Z`} data-series="running" />
        <path class="queued" d={queued} data-series="queued" />
        <g class="axis">
          {countTicks.map((v) => (
            <text x={LEFT - 6} y={(y(v) + 4).toFixed(1)} text-anchor="end">
              {v}
            </text>
          ))}
          {timeTicks.map((t) => (
            <text x={x(t).toFixed(1)} y={H - 8} text-anchor={x(t) > W - RIGHT - 30 ? 'end' : 'middle'}>
              +{formatDuration(t)}
            </text>
          ))}
        </g>
      </svg>
      <p class="small">
        <span class="swatch running" /> running <span class="swatch queued" /> queued (submitted or waiting in
        the scheduler's queue), for all tasks of the run, time since its first transition.{bucket}
      </p>
      <p class="small" data-activity-summary>
        {summary}
      </p>
    </div>
  );
};
