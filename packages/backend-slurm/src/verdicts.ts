/**
 * From the answers of the status and accounting programs to one {@link JobStatus} per job: the
 * queue's state, the job's own exit marker (preferred for the exit code: sacct ≤ 25.05 reports codes
 * above 128 minus 128), accounting for jobs that left the queue, and `unknown` (not failure) while
 * accounting lags.
 */
import { isTerminalJobState, type JobStatus, type TrackedJob } from '@scripthut/core';
import type { SqueueStatusRow } from './parse.js';

/** The queue's view of a job, with its marker, or null when squeue no longer shows it. */
export function queueVerdict(row: SqueueStatusRow, marker: number | undefined): JobStatus {
  const terminal = isTerminalJobState(row.state);
  let state = row.state;
  let exitCode: number | null = null;
  if (terminal) {
    if (marker !== undefined) exitCode = marker;
    else if (state === 'completed') exitCode = 0;
    if (state === 'completed' && marker !== undefined && marker !== 0) state = 'failed';
  }
  let reason: string | null = null;
  if (state === 'pending') {
    reason = /^(SPECIAL_EXIT|REQUEUE_HOLD)$/.test(row.rawState)
      ? `${row.rawState}: requeued and held${row.reason ? ` (${row.reason})` : ''}; release it with scontrol release`
      : row.reason;
  } else if (terminal && state !== 'completed')
    reason = `Slurm: ${row.rawState}${row.reason ? ` — ${row.reason}` : ''}`;
  return {
    jobId: '',
    state,
    reason,
    exitCode,
    startedAt: state === 'pending' ? null : row.start,
    finishedAt: null,
    node: row.node,
    rawState: row.rawState,
    final: terminal,
  };
}

/**
 * Accounting's verdict corrected by the job's exit marker: when the script ended by itself
 * (completed/failed), the marker's code is the real one (sacct up to 25.05 subtracts 128 from codes
 * above 128; Slurm 25.11: "Don't subtract 128 from sacct returned exit codes for the codes above
 * 128").
 */
export function withMarker(verdict: JobStatus, marker: number | undefined): JobStatus {
  if (marker === undefined || (verdict.state !== 'completed' && verdict.state !== 'failed')) return verdict;
  if (verdict.exitCode === marker && (marker === 0) === (verdict.state === 'completed')) return verdict;
  const state = marker === 0 ? 'completed' : 'failed';
  return {
    ...verdict,
    state,
    exitCode: marker,
    reason:
      state === 'completed'
        ? null
        : `${verdict.reason ?? `Slurm: ${verdict.rawState ?? 'FAILED'}`} — exit code ${marker} (from the job's exit marker)`,
  };
}

/** No queue row, no accounting row: the marker, or `unknown` (accounting lag is not failure). */
export function fallbackVerdict(job: TrackedJob, marker: number | undefined): JobStatus {
  if (marker !== undefined)
    return {
      jobId: job.jobId,
      state: marker === 0 ? 'completed' : 'failed',
      exitCode: marker,
      reason: marker === 0 ? null : `exit code ${marker} (from the exit marker; accounting has no row yet)`,
      final: false,
    };
  return {
    jobId: job.jobId,
    state: 'unknown',
    reason: 'not in squeue and no accounting row yet',
    final: false,
  };
}
