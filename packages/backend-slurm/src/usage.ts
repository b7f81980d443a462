/**
 * Resource usage of ended Slurm jobs from accounting (`sacct`): one query for every job, fields
 * {@link SACCT_USAGE_FIELDS}. The main row gives start, end, elapsed, node list, allocated CPUs,
 * requested memory and total CPU time (the sum over its steps); peak RSS is the maximum `MaxRSS`
 * over the steps (`.batch`, `.extern`, `srun` steps). A job not yet in accounting, or still
 * running/completing there, is `pending`; a figure accounting does not have stays null.
 */
import {
  isTerminalJobState,
  parseDurationSeconds,
  parseMemoryBytes,
  type UsageReport,
} from '@scripthut/core';
import { mapSlurmState, normalizeSlurmState, type SacctRow, slurmTimeToIso } from './parse.js';

/** `sacct --format` fields of the usage query. */
export const SACCT_USAGE_FIELDS = [
  'JobIDRaw',
  'State',
  'Start',
  'End',
  'ElapsedRaw',
  'NodeList',
  'NNodes',
  'AllocCPUS',
  'TotalCPU',
  'MaxRSS',
  'ReqMem',
] as const;

/**
 * Slurm memory text to bytes: `214572K`, `12M`, `1.5G`, `0`; ReqMem of Slurm < 21.08 carries a
 * per-node (`n`) or per-CPU (`c`) suffix, multiplied out with `nodes` / `cpus`.
 */
export function slurmMemoryBytes(
  text: string | undefined,
  perNode = 1,
  perCpu = 1,
  defaultUnit = 'M',
): number | null {
  let v = (text ?? '').trim();
  if (!v) return null;
  let factor = 1;
  if (/[nN]$/.test(v) && /\d[KMGTP]?[nN]$/i.test(v)) {
    factor = perNode;
    v = v.slice(0, -1);
  } else if (/\d[KMGTP]?[cC]$/i.test(v)) {
    factor = perCpu;
    v = v.slice(0, -1);
  }
  const bytes = parseMemoryBytes(v, /\d$/.test(v) ? defaultUnit : '');
  return bytes === null ? null : bytes * factor;
}

/** Slurm duration (`[D-]HH:MM:SS`, `MM:SS.mmm`) to seconds; null when empty or invalid. */
export const slurmSeconds = (text: string | undefined): number | null => parseDurationSeconds(text);

const num = (text: string | undefined): number | null => {
  const v = (text ?? '').trim();
  return /^\d+$/.test(v) ? Number(v) : null;
};

/** Usage of ONE job from its accounting rows (main row + steps), or `pending` while it is not over. */
export function sacctUsage(jobId: string, rows: readonly SacctRow[]): UsageReport {
  const idOf = (r: SacctRow) => r.JobIDRaw ?? r.JobID ?? '';
  const main = rows.find((r) => idOf(r) === jobId);
  if (!main) return { kind: 'pending', reason: `sacct has no record of job ${jobId}` };
  const state = mapSlurmState(normalizeSlurmState(main.State ?? ''));
  const end = slurmTimeToIso(main.End);
  if (!isTerminalJobState(state) || !end)
    return {
      kind: 'pending',
      reason: `sacct still shows job ${jobId} as ${main.State?.trim() || 'unknown'}`,
    };
  const start = slurmTimeToIso(main.Start);
  if (!start) return { kind: 'unavailable', reason: `job ${jobId} never started (${main.State?.trim()})` };
  const cpus = num(main.AllocCPUS);
  const nodes = num(main.NNodes) ?? 1;
  const steps = rows.filter((r) => idOf(r) !== jobId);
  const rss = steps.map((r) => slurmMemoryBytes(r.MaxRSS, 1, 1, 'K')).filter((b): b is number => b !== null);
  const stepCpu = steps.map((r) => slurmSeconds(r.TotalCPU)).filter((s): s is number => s !== null);
  const cpuTime = slurmSeconds(main.TotalCPU) ?? (stepCpu.length ? stepCpu.reduce((a, b) => a + b, 0) : null);
  const elapsed = num(main.ElapsedRaw) ?? Math.max(0, (Date.parse(end) - Date.parse(start)) / 1000);
  const node = (main.NodeList ?? '').trim();
  return {
    kind: 'ok',
    node: node && node !== 'None assigned' && node !== '(null)' ? node : null,
    startedAt: start,
    finishedAt: end,
    elapsedSec: elapsed,
    allocCpus: cpus,
    cpuTimeSec: cpuTime,
    maxRssBytes: rss.length ? Math.max(...rss) : null,
    reqMemBytes: slurmMemoryBytes(main.ReqMem, nodes, cpus ?? 1),
    note: rss.length
      ? null
      : 'MaxRSS not recorded by Slurm accounting (no jobacct_gather plugin, or the job ended before the first sample)',
  };
}
