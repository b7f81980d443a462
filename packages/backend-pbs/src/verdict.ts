/**
 * The rules that turn a PBS job record (or its absence) into a {@link JobStatus}: active states,
 * exit statuses of finished jobs (PBS Pro / Torque kill codes), the MoM's `=>> PBS: job killed:`
 * lines and qsub error messages.
 */
import type { JobState, JobStatus } from '@scripthut/core';
import { attr, execHosts, type PbsFlavour, type PbsJobRecord, parseDuration, pbsTimeToIso } from './parse.js';

/** Letter states that mean the job is over (PBS Pro F/X, Torque C). */
export const FINISHED_STATES = new Set(['F', 'C', 'X']);

/** Map a `job_state` letter of a job that is not finished; null for finished states. */
export function mapActiveState(
  letter: string,
  record?: PbsJobRecord,
): { state: JobState; reason: string | null } | null {
  const comment = record ? attr(record, 'comment') : undefined;
  switch (letter) {
    case 'Q': {
      const reason = comment?.replace(/^Not Running:\s*/, '').trim();
      return { state: 'pending', reason: reason || 'Queued' };
    }
    case 'H': {
      const types = record ? attr(record, 'Hold_Types') : undefined;
      return { state: 'pending', reason: types && types !== 'n' ? `Held (${types})` : 'Held' };
    }
    case 'W': {
      const when = record ? attr(record, 'Execution_Time') : undefined;
      return { state: 'pending', reason: when ? `Waiting until ${when}` : 'Waiting' };
    }
    case 'T':
      return { state: 'pending', reason: 'Transit' };
    case 'M':
      return { state: 'pending', reason: 'Moved' };
    case 'R':
    case 'E':
    case 'B':
    case 'S':
    case 'U':
      return { state: 'running', reason: null };
    default:
      return FINISHED_STATES.has(letter) ? null : { state: 'unknown', reason: `job_state ${letter}` };
  }
}

/** What PBS reports about a finished job, and what ScriptHut's own exit marker says. */
export interface FinishedFacts {
  /** `Exit_status` (null: none, e.g. deleted while queued). */
  exit: number | null;
  /** `resources_used.walltime` in seconds. */
  usedSeconds: number | null;
  /** `Resource_List.walltime` in seconds. */
  limitSeconds: number | null;
  /** Seconds from the job's start (`stime`) to its end (`obittime`/`comp_time`), when both are known. */
  elapsedSeconds?: number | null;
  flavour: PbsFlavour;
  /** Exit code the job script wrote to its exit marker; undefined when it left none. */
  marker?: number;
}

interface Kill {
  state: JobState;
  what: string;
}

/** PBS Pro / OpenPBS `JOB_EXEC_KILL_*` exit statuses (src/include/job.h). */
const PRO_KILLS: Record<number, Kill> = {
  [-24]: { state: 'failed', what: 'ncpus limit exceeded (burst)' },
  [-25]: { state: 'failed', what: 'ncpus limit exceeded (sum)' },
  [-26]: { state: 'out_of_memory', what: 'virtual memory limit exceeded' },
  [-27]: { state: 'out_of_memory', what: 'memory limit exceeded' },
  [-28]: { state: 'failed', what: 'CPU time limit exceeded' },
  [-29]: { state: 'timeout', what: 'walltime exceeded' },
};

/** Torque `JOB_EXEC_OVERLIMIT_*` exit statuses. */
const TORQUE_KILLS: Record<number, Kill> = {
  [-10]: { state: 'out_of_memory', what: 'memory limit exceeded' },
  [-11]: { state: 'timeout', what: 'walltime exceeded' },
  [-12]: { state: 'failed', what: 'CPU time limit exceeded' },
};

/**
 * Verdict on a finished job. In order: no exit status → deleted before it ran; 0 → completed; a
 * PBS limit kill (PBS Pro −24…−29, Torque −10…−12) → timeout / out_of_memory / failed with the
 * limit named; used walltime (or start-to-end time) ≥ limit → timeout; 271 (SIGTERM from qdel) → cancelled; 143 with no
 * exit marker (the job script's TERM trap exits 143 and writes none) → cancelled; > 256 → killed by
 * signal; other negative values → PBS could not run the job; anything else → failed.
 */
export function finishedVerdict(f: FinishedFacts): { state: JobState; reason: string | null } {
  const { exit } = f;
  if (exit === null) return { state: 'cancelled', reason: 'deleted before it ran (no exit status)' };
  if (exit === 0) return { state: 'completed', reason: null };
  const kill = (f.flavour === 'torque' ? TORQUE_KILLS : PRO_KILLS)[exit];
  if (kill) return { state: kill.state, reason: `killed by PBS: ${kill.what} (Exit_status ${exit})` };
  // resources_used.walltime is sampled by the MoM (it can lag the kill by a polling cycle); the
  // job's start and end times are not, so the longer of the two counts.
  const used =
    f.usedSeconds !== null || f.elapsedSeconds != null
      ? Math.max(f.usedSeconds ?? 0, f.elapsedSeconds ?? 0)
      : null;
  const limit = f.limitSeconds;
  if (used !== null && limit !== null && limit > 0 && used >= limit)
    return { state: 'timeout', reason: `walltime exceeded (Exit_status ${exit})` };
  if (exit === 271) return { state: 'cancelled', reason: `deleted (Exit_status ${exit})` };
  if (exit === 143 && f.marker === undefined)
    return {
      state: 'cancelled',
      reason: 'terminated by SIGTERM (qdel, preemption or node shutdown; Exit_status 143, no exit marker)',
    };
  if (exit > 256) return { state: 'failed', reason: `killed by signal ${exit - 256}` };
  if (exit < 0) return { state: 'failed', reason: `PBS could not run the job (Exit_status ${exit})` };
  return { state: 'failed', reason: null };
}

/**
 * Turn one job record into a status. `marker` is the exit code the job script left in its marker
 * file, if any: it fills in a finished job's missing exit status and tells a TERM-trap exit (143,
 * no marker) from a command that itself exited 143.
 */
export function pbsJobStatus(
  record: PbsJobRecord,
  marker: number | undefined,
  flavour: PbsFlavour,
): JobStatus {
  const letter = (attr(record, 'job_state') ?? '').trim();
  const startedAt = pbsTimeToIso(attr(record, 'stime') ?? attr(record, 'start_time'));
  const node = execHosts(attr(record, 'exec_host'));
  const active = mapActiveState(letter, record);
  if (active) {
    // A marker of a job the scheduler still shows as running/exiting is not trusted: a job killed
    // by a signal (walltime, qdel) can leave one behind. The finished record settles it.
    return {
      jobId: record.id,
      state: active.state,
      reason: active.reason,
      startedAt: active.state === 'pending' ? null : startedAt,
      node,
      rawState: letter,
      final: false,
    };
  }
  const exitText = attr(record, 'Exit_status');
  let exit = exitText !== undefined && /^-?\d+$/.test(exitText.trim()) ? Number(exitText) : null;
  if (exit === null && marker !== undefined) exit = marker;
  const finishedAt = pbsTimeToIso(attr(record, 'obittime') ?? attr(record, 'comp_time'));
  const elapsedSeconds =
    startedAt && finishedAt ? Math.round((Date.parse(finishedAt) - Date.parse(startedAt)) / 1000) : null;
  const verdict = finishedVerdict({
    exit,
    usedSeconds: parseDuration(attr(record, 'resources_used.walltime')),
    limitSeconds: parseDuration(attr(record, 'Resource_List.walltime')),
    elapsedSeconds,
    flavour,
    ...(marker === undefined ? {} : { marker }),
  });
  return {
    jobId: record.id,
    state: verdict.state,
    reason: verdict.reason,
    exitCode: exit,
    startedAt,
    finishedAt,
    node,
    rawState: letter,
    final: true,
  };
}

/**
 * The verdict in the MoM's last `=>> PBS: job killed: <resource> <used> exceeded limit <limit>`
 * line of a job's stderr (PBS Pro and Torque write it when they kill a job over a limit). It is
 * the only record of such a kill once the server has forgotten the job (job history off), since
 * a killed job leaves no exit marker. Null when there is no such line.
 */
export function pbsKillVerdict(stderrTail: string): { state: JobState; reason: string } | null {
  let last: RegExpExecArray | null = null;
  for (const m of stderrTail.matchAll(/=>> PBS: job killed: ([a-z_]+)([^\n]*)/g)) last = m;
  if (!last) return null;
  const resource = last[1]!;
  const reason = `killed by PBS: ${`${resource}${last[2]!}`.trim()}`;
  if (resource === 'walltime') return { state: 'timeout', reason };
  if (/^(?:mem|vmem|pmem|pvmem)$/.test(resource)) return { state: 'out_of_memory', reason };
  return { state: 'failed', reason };
}

/**
 * qsub messages of queue and server limits on how many jobs (or how much of a resource) a user,
 * group or project may have queued (PBS Pro `max_queued`/`max_queued_res`, old `max_user_queuable`,
 * Torque `max_user_queuable`): the job is fine, there is just no room yet.
 */
export const QSUB_QUEUE_LIMIT =
  /Maximum number of jobs(?: in 'Q' state)?(?: for (?:user|group|project) \S+)? already in (?:queue|complex)|would exceed (?:queue \S+'s|complex's) per-(?:user|group|project) limit|would exceed (?:per-(?:user|group|project) |(?:user|group|project) \S+'s )?limit on resource|max_queued|max_user_queuable/i;

/** qsub messages of a server that cannot be reached or is busy. */
const QSUB_OUTAGE =
  /cannot connect to server|Connection refused|timed out|temporarily|Server is busy|pbs_connect|Error in pbs_submit|End of File|Communication failure/i;

/**
 * How a failed qsub should be treated: queue limits and outages are transient (the task waits
 * and is submitted again, the message shown as the reason); anything else (unknown queue, job
 * over a queue's resource limits, bad resource) is a permanent failure of the task.
 */
export function qsubFailure(message: string): { transient: boolean; reason: string } {
  if (QSUB_QUEUE_LIMIT.test(message))
    return { transient: true, reason: `queue limit reached, waiting for room: ${message}` };
  if (QSUB_OUTAGE.test(message)) return { transient: true, reason: message };
  return { transient: false, reason: message };
}
