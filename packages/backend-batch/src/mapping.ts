/**
 * How a ScriptHut task maps onto AWS Batch: job name, queue, resource requirements, timeout, the
 * generated script (environment delivered out of band) and the git clone block.
 */
import type { JobStatus as BatchJobStatus, JobDetail, ResourceRequirement } from '@aws-sdk/client-batch';
import { containerEnvAndDir, FARGATE_SIZES, gpuCount, renderContainerScript } from '@scripthut/aws-common';
import type { JobStatus, SubmitRequest, TaskSpec } from '@scripthut/core';
import { isValidEnvName } from '@scripthut/core';

export { DEFAULT_CLONE_DIR, FARGATE_SIZES, gitCloneBlock, gpuCount } from '@scripthut/aws-common';

/** The working dir and environment of a request once git workflow rules are applied. */
export const batchEnvAndDir: (request: SubmitRequest) => { env: Record<string, string>; workingDir: string } =
  containerEnvAndDir;

/**
 * The job script for a request: shebang, banner, the environment NAMES in a comment (values travel
 * in `containerOverrides.environment`), `extra_init`, the git clone block, checked `cd`, command.
 */
export const renderBatchScript: (request: SubmitRequest) => string = renderContainerScript;

/** The task partition that means "no partition": submit to `aws.job_queue`. */
export const DEFAULT_PARTITION = 'normal';
/** Reason passed to CancelJob/TerminateJob; also how cancelled jobs are recognised. */
export const CANCEL_REASON = 'Cancelled via ScriptHut';

/** Batch job name: `[A-Za-z0-9_-]`, at most 128 characters, never empty. */
export function sanitizeJobName(name: string): string {
  const s = name.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 128);
  return s === '' ? 'scripthut' : s;
}

/** The queue a task goes to: its partition unless unset/`normal`, else the default queue. */
export function resolveQueue(task: Pick<TaskSpec, 'partition'>, defaultQueue: string): string {
  const p = task.partition?.trim();
  return p && p !== DEFAULT_PARTITION ? p : defaultQueue;
}

/** VCPU, MEMORY (MiB) and GPU requirements of a task, as Batch wants them (string values). */
export function resourceRequirements(
  task: Pick<TaskSpec, 'cpus' | 'memoryMiB' | 'gres'>,
): ResourceRequirement[] {
  const reqs: ResourceRequirement[] = [
    { type: 'VCPU', value: String(Math.max(1, Math.ceil(task.cpus || 1))) },
    { type: 'MEMORY', value: String(Math.max(4, Math.round(task.memoryMiB || 2048))) },
  ];
  const gpus = gpuCount(task.gres);
  if (gpus > 0) reqs.push({ type: 'GPU', value: String(gpus) });
  return reqs;
}

/**
 * VCPU and MEMORY of a task on Fargate: the smallest valid Fargate combination with at least the
 * task's CPUs and memory (Fargate accepts nothing else). Throws for GPU tasks (Fargate has no
 * GPUs) and for tasks larger than 16 vCPU / 120 GiB.
 */
export function fargateResourceRequirements(
  task: Pick<TaskSpec, 'id' | 'cpus' | 'memoryMiB' | 'gres'>,
): ResourceRequirement[] {
  if (gpuCount(task.gres) > 0)
    throw new Error(
      `task "${task.id}" asks for GPUs (${task.gres}), which AWS Batch on Fargate does not offer`,
    );
  const cpus = task.cpus > 0 ? task.cpus : 1;
  const memory = task.memoryMiB > 0 ? task.memoryMiB : 2048;
  for (const size of FARGATE_SIZES) {
    if (size.vcpu < cpus) continue;
    const mem = size.memory.find((m) => m >= memory);
    if (mem !== undefined)
      return [
        { type: 'VCPU', value: String(size.vcpu) },
        { type: 'MEMORY', value: String(mem) },
      ];
  }
  throw new Error(
    `task "${task.id}" asks for ${cpus} vCPU and ${memory} MiB, more than AWS Batch on Fargate offers (16 vCPU, 122880 MiB)`,
  );
}

/** `timeout.attemptDurationSeconds` when the limit is at least 60 s (Batch's minimum), else nothing. */
export function jobTimeout(
  task: Pick<TaskSpec, 'timeLimitSeconds'>,
): { attemptDurationSeconds: number } | undefined {
  const s = Math.floor(task.timeLimitSeconds);
  return Number.isFinite(s) && s >= 60 ? { attemptDurationSeconds: s } : undefined;
}

/** `containerOverrides.environment` entries, sorted by name. Invalid names are rejected. */
export function environmentOverrides(env: Record<string, string>): { name: string; value: string }[] {
  return Object.keys(env)
    .sort()
    .map((name) => {
      if (!isValidEnvName(name))
        throw new Error(`invalid environment variable name: ${JSON.stringify(name)}`);
      return { name, value: env[name]! };
    });
}

const PENDING: readonly string[] = ['SUBMITTED', 'PENDING', 'RUNNABLE'];
const RUNNING: readonly string[] = ['STARTING', 'RUNNING'];

function iso(ms: number | undefined): string | null {
  return typeof ms === 'number' && Number.isFinite(ms) && ms > 0 ? new Date(ms).toISOString() : null;
}

/** Translate a DescribeJobs entry into ScriptHut's normalised job status. */
export function mapJobDetail(job: JobDetail): JobStatus {
  const status = (job.status ?? '') as BatchJobStatus | '';
  const lastAttempt = job.attempts?.length ? job.attempts[job.attempts.length - 1] : undefined;
  const base: JobStatus = {
    jobId: job.jobId ?? '',
    state: 'unknown',
    rawState: status || null,
    startedAt: iso(job.startedAt ?? lastAttempt?.startedAt),
    finishedAt: iso(job.stoppedAt ?? lastAttempt?.stoppedAt),
    node: lastAttempt?.container?.containerInstanceArn ?? job.container?.containerInstanceArn ?? null,
  };
  if (PENDING.includes(status))
    return { ...base, state: 'pending', reason: job.statusReason || status, final: false };
  if (RUNNING.includes(status)) return { ...base, state: 'running', reason: null, final: false };
  if (status === 'SUCCEEDED') {
    return {
      ...base,
      state: 'completed',
      exitCode: job.container?.exitCode ?? lastAttempt?.container?.exitCode ?? 0,
      final: true,
    };
  }
  if (status === 'FAILED') {
    const exitCode = job.container?.exitCode ?? lastAttempt?.container?.exitCode ?? null;
    const containerReason = job.container?.reason ?? lastAttempt?.container?.reason ?? '';
    const reason = [job.statusReason, containerReason].filter(Boolean).join(': ') || 'FAILED';
    let state: JobStatus['state'] = 'failed';
    if (job.statusReason === CANCEL_REASON || (job.isCancelled && !job.startedAt)) state = 'cancelled';
    else if (/attempt duration|timed? ?out|timeout/i.test(job.statusReason ?? '')) state = 'timeout';
    else if (/OutOfMemory/i.test(containerReason) || /OutOfMemory/i.test(job.statusReason ?? ''))
      state = 'out_of_memory';
    return { ...base, state, exitCode, reason, final: true };
  }
  return { ...base, reason: status || null };
}
