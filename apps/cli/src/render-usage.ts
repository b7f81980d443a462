/**
 * Text of a run's resource usage (`scripthut run view`): CPU-hours allocated and used, efficiency,
 * peak RSS, how many tasks have figures, and the right-sizing advice.
 */
import { formatBytes, type RunUsageSummary } from '@scripthut/core';
import { renderFields } from './format.js';
import { escapeControl, type Styles } from './output.js';

const hours = (h: number) => (h >= 100 ? h.toFixed(0) : h >= 1 ? h.toFixed(2) : h.toFixed(4));

/** The usage block, or null when no task has ended yet. */
export function renderRunUsage(u: RunUsageSummary, style: Styles): string | null {
  if (u.ok + u.pending + u.unavailable === 0 && u.cpuHoursAllocated === 0) return null;
  const eff = u.cpuEfficiency === null ? '' : ` (CPU efficiency ${Math.round(u.cpuEfficiency * 100)}%)`;
  const lines = [
    style.bold('Usage'),
    renderFields(
      [
        [
          'CPU-hours',
          `${hours(u.cpuHoursAllocated)} allocated, ${u.cpuHoursUsed === null ? '— (unknown)' : hours(u.cpuHoursUsed)} used${eff}`,
        ],
        ['Wall time', `${hours(u.wallSec / 3600)} task-hours`],
        ['Peak RSS', formatBytes(u.peakRssBytes)],
        [
          'Figures',
          `${u.ok} task(s) measured${u.pending ? `, ${u.pending} waiting for accounting` : ''}${u.unavailable ? `, ${u.unavailable} unavailable` : ''}`,
        ],
      ],
      style,
    ),
  ];
  if (u.advice.length) {
    lines.push('', style.bold('Advice'));
    for (const a of u.advice) lines.push(`  ${escapeControl(a.message)}`);
  }
  return lines.join('\n');
}
