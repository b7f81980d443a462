/**
 * Job status: batched DescribeJobs (100 ids per call, whatever queue), the record made the first
 * time a job is seen finished (DescribeJobs forgets finished jobs after about a day), and the
 * crash-recovery lookup by job name.
 */
import { DescribeJobsCommand, type JobDetail } from '@aws-sdk/client-batch';
import { chunk, errorText } from '@scripthut/aws-common';
import type { JobStatus, TrackedJob } from '@scripthut/core';
import type { BatchContext } from './context.js';
import { mapJobDetail, sanitizeJobName } from './mapping.js';
import type { QueueDirectory } from './queues.js';
import { jobsNamed } from './submit.js';

/** Job ids per DescribeJobs call (the API's maximum). */
const DESCRIBE_CHUNK = 100;

/**
 * A job DescribeJobs no longer returns this long after its submission is taken to have expired
 * (AWS keeps a finished job describable for about a day after it stops); a job missing sooner is
 * `unknown` and the engine's lost-job grace applies.
 */
export const DESCRIBE_EXPIRY_HORIZON_MS = 12 * 3600 * 1000;

/** DescribeJobs of `ids`, 100 per call; throws a BackendError. */
export async function describeJobs(ctx: BatchContext, ids: readonly string[]): Promise<JobDetail[]> {
  const out: JobDetail[] = [];
  for (const ids100 of chunk(ids, DESCRIBE_CHUNK)) {
    try {
      const res = await ctx.aws.call('DescribeJobs', () =>
        ctx.batch.send(new DescribeJobsCommand({ jobs: ids100 })),
      );
      out.push(...(res.jobs ?? []));
    } catch (err) {
      throw ctx.aws.toBackendError(err, `DescribeJobs (${ids100.length} jobs)`);
    }
  }
  return out;
}

/**
 * The log stream of a job's CURRENT attempt: `container` holds the attempt that runs (or ran last);
 * `attempts[]` lists finished attempts only, so during a retry its last entry is the previous one.
 */
export function logStreamOf(job: JobDetail): string | null {
  const attempts = job.attempts ?? [];
  return job.container?.logStreamName ?? attempts[attempts.length - 1]?.container?.logStreamName ?? null;
}

/** The log group of a job: its container's awslogs group, else the one of its submission, else `log_group`. */
export function logGroupOf(ctx: BatchContext, job: JobDetail | null, meta: Record<string, unknown>): string {
  const lc = job?.container?.logConfiguration;
  const fromJob = lc?.logDriver === 'awslogs' ? lc.options?.['awslogs-group'] : undefined;
  if (fromJob) return fromJob;
  return typeof meta.logGroup === 'string' && meta.logGroup ? meta.logGroup : ctx.cfg.log_group;
}

/** Records a job seen finished (once), so that it can be answered for after AWS forgets it. */
export function recordFinished(
  ctx: BatchContext,
  runId: string,
  job: JobDetail,
  status: JobStatus,
  meta: Record<string, unknown>,
): void {
  if (!status.final || !job.jobId || ctx.finished.get(runId, job.jobId)) return;
  ctx.finished.put(runId, job.jobId, {
    status,
    logStream: logStreamOf(job),
    logGroup: logGroupOf(ctx, job, meta),
  });
}

/** What a job missing from DescribeJobs is. */
function missingStatus(ctx: BatchContext, job: TrackedJob): JobStatus {
  const recorded = ctx.finished.get(job.runId, job.jobId);
  if (recorded) return recorded.status;
  const submitted = job.submittedAt ? Date.parse(job.submittedAt) : Number.NaN;
  const age = ctx.now() - submitted;
  if (Number.isFinite(age) && age > DESCRIBE_EXPIRY_HORIZON_MS) {
    return {
      jobId: job.jobId,
      state: 'failed',
      final: true,
      exitCode: null,
      rawState: null,
      reason:
        `expired from DescribeJobs: AWS Batch no longer describes job ${job.jobId} (submitted ${Math.round(age / 3_600_000)} h ago; ` +
        'it keeps finished jobs for about a day) and ScriptHut never saw it finish, so its outcome is unknown ' +
        `(its log is in CloudWatch Logs group ${logGroupOf(ctx, null, job.meta)})`,
    };
  }
  return { jobId: job.jobId, state: 'unknown', reason: 'not known to AWS Batch' };
}

/** Status of many jobs: one DescribeJobs per 100 ids. */
export async function batchStatus(ctx: BatchContext, jobs: TrackedJob[]): Promise<Map<string, JobStatus>> {
  const byId = new Map<string, TrackedJob>();
  for (const j of jobs) if (j.jobId) byId.set(j.jobId, j);
  const result = new Map<string, JobStatus>();
  for (const detail of await describeJobs(ctx, [...byId.keys()])) {
    if (!detail.jobId) continue;
    const st = mapJobDetail(detail);
    result.set(detail.jobId, st);
    const tracked = byId.get(detail.jobId);
    if (tracked) recordFinished(ctx, tracked.runId, detail, st, tracked.meta);
  }
  for (const [id, job] of byId) if (!result.has(id)) result.set(id, missingStatus(ctx, job));
  return result;
}

function commonPrefix(values: readonly string[]): string {
  if (!values.length) return '';
  let p = values[0]!;
  for (const v of values) while (!v.startsWith(p)) p = p.slice(0, -1);
  return p;
}

/**
 * Jobs named after `tags` on every queue (DescribeJobQueues) plus the queues used by this process:
 * one `prefix*` ListJobs per queue when the tags share a prefix (typically the run id), else one
 * per tag.
 */
export async function findByTags(
  ctx: BatchContext,
  queues: QueueDirectory,
  tags: string[],
): Promise<Map<string, string>> {
  const wanted = new Map<string, string>(tags.map((t) => [sanitizeJobName(t), t]));
  const result = new Map<string, string>();
  if (!wanted.size) return result;
  const queueNames = new Set(ctx.usedQueues);
  try {
    for (const q of await queues.describe(null)) if (q.jobQueueName) queueNames.add(q.jobQueueName);
  } catch (err) {
    ctx.log.debug?.('DescribeJobQueues failed; searching known queues only', { error: errorText(err) });
  }
  const names = [...wanted.keys()];
  const prefix = commonPrefix(names);
  const patterns = names.length > 3 && prefix.length >= 4 ? [`${prefix}*`] : names;
  try {
    for (const queue of queueNames) {
      for (const pattern of patterns) {
        for (const j of await jobsNamed(ctx, queue, pattern)) {
          const tag = wanted.get(j.jobName);
          if (tag && !result.has(tag)) result.set(tag, j.jobId);
        }
      }
    }
  } catch (err) {
    throw ctx.aws.toBackendError(err, 'ListJobs');
  }
  return result;
}
