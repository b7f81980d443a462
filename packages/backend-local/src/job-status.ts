/**
 * What the spool and the process table say about a local job: ended (by its exit marker, or
 * cancelled), running, starting, or vanished (the process is gone without an exit marker).
 */
import { hostname } from 'node:os';
import type { JobStatus } from '@scripthut/core';
import { isProcessAlive } from './proc.js';
import type { Spool, SpoolExit, SpoolRecord } from './spool.js';

/** Exit code written by `cancel` (128 + SIGTERM). */
export const CANCEL_EXIT_CODE = 143;

/** The status of a job whose exit marker exists. */
export function finishedStatus(jobId: string, exit: SpoolExit, record: SpoolRecord | null): JobStatus {
  const base = {
    jobId,
    exitCode: exit.code,
    startedAt: record?.submittedAt ?? null,
    finishedAt: exit.at,
    node: hostname(),
    final: true,
  };
  if (record?.cancelledAt) {
    return {
      ...base,
      exitCode: CANCEL_EXIT_CODE,
      state: 'cancelled',
      rawState: 'CANCELLED',
      reason: 'cancelled',
    };
  }
  if (exit.code === 0) return { ...base, state: 'completed', rawState: 'EXITED 0' };
  return {
    ...base,
    state: 'failed',
    rawState: `EXITED ${exit.code}`,
    reason: exit.code === 97 ? 'cannot cd into the working directory' : null,
  };
}

/**
 * The status of one job from its spool files and its process: a job whose process is gone
 * without an exit marker is `failed` (`VANISHED`) once `vanishGraceMs` have passed since its
 * submission, and still starting before.
 */
export function spoolJobStatus(
  spool: Spool,
  jobId: string,
  now: () => Date,
  vanishGraceMs: number,
): JobStatus {
  const exit = spool.readExit(jobId);
  const record = spool.readRecord(jobId);
  if (exit) return finishedStatus(jobId, exit, record);
  if (!record) return { jobId, state: 'unknown', rawState: 'UNKNOWN' };
  const alive = record.pid !== null && isProcessAlive(record.pid, record.startTime);
  if (alive) {
    return {
      jobId,
      state: 'running',
      rawState: 'RUNNING',
      startedAt: record.submittedAt,
      node: hostname(),
    };
  }
  // The job may have written its marker between the first check and the liveness check.
  const late = spool.readExit(jobId);
  if (late) return finishedStatus(jobId, late, record);
  const age = now().getTime() - Date.parse(record.submittedAt);
  if (!(age >= vanishGraceMs)) {
    return {
      jobId,
      state: record.pid === null ? 'pending' : 'running',
      rawState: 'STARTING',
      startedAt: record.submittedAt,
    };
  }
  return {
    jobId,
    state: 'failed',
    rawState: 'VANISHED',
    exitCode: null,
    reason:
      record.pid === null
        ? 'process vanished: the job was never started (ScriptHut stopped during submission?)'
        : 'process vanished: it ended without writing its exit code (killed, or the host restarted)',
    startedAt: record.submittedAt,
    finishedAt: now().toISOString(),
    node: hostname(),
    final: true,
  };
}
