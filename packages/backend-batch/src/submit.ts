/**
 * Submission of one task as one Batch job: the queue's demands (fair share, Fargate), the job
 * definition, container overrides that fit, and SubmitJob paced by a token bucket, with a lookup
 * by job name after an ambiguous failure so that a job AWS did create is adopted, not duplicated.
 */
import { ListJobsCommand, SubmitJobCommand, type SubmitJobCommandInput } from '@aws-sdk/client-batch';
import { errorText } from '@scripthut/aws-common';
import { BackendError, type SubmitOutcome, type SubmitRequest } from '@scripthut/core';
import type { BatchContext } from './context.js';
import type { JobDefinitionResolver } from './job-definitions.js';
import {
  batchEnvAndDir,
  environmentOverrides,
  fargateResourceRequirements,
  jobTimeout,
  renderBatchScript,
  resolveQueue,
  resourceRequirements,
  sanitizeJobName,
} from './mapping.js';
import { buildContainerOverrides } from './overrides.js';
import type { QueueDirectory, QueueFacts } from './queues.js';

/** A job found by name. */
export interface NamedJob {
  jobId: string;
  jobName: string;
}

/** Jobs whose name matches `namePattern` (exact, or `prefix*`) in `queue`, most recent first. */
export async function jobsNamed(ctx: BatchContext, queue: string, namePattern: string): Promise<NamedJob[]> {
  const found: NamedJob[] = [];
  let nextToken: string | undefined;
  let pages = 0;
  do {
    const out = await ctx.aws.call('ListJobs', () =>
      ctx.batch.send(
        new ListJobsCommand({
          jobQueue: queue,
          filters: [{ name: 'JOB_NAME', values: [namePattern] }],
          maxResults: 100,
          nextToken,
        }),
      ),
    );
    for (const s of out.jobSummaryList ?? []) {
      if (s.jobId && s.jobName) found.push({ jobId: s.jobId, jobName: s.jobName });
    }
    nextToken = out.nextToken;
  } while (nextToken && ++pages < 50);
  return found;
}

/** Share identifier and priority for a fair-share queue; nothing for a FIFO queue. */
function fairShareFields(
  ctx: BatchContext,
  queue: QueueFacts,
  definitionPriority: number | null,
): Pick<SubmitJobCommandInput, 'shareIdentifier' | 'schedulingPriorityOverride'> {
  const share = ctx.cfg.share_identifier ?? null;
  const priority = ctx.cfg.scheduling_priority ?? null;
  if (!queue.described) {
    // The queue could not be read: trust the configuration.
    if (!share) return {};
    return { shareIdentifier: share, schedulingPriorityOverride: priority ?? definitionPriority ?? 0 };
  }
  if (!queue.schedulingPolicyArn) return {};
  if (!share) {
    throw new BackendError(
      `job queue ${queue.name} has a fair-share scheduling policy (${queue.schedulingPolicyArn}), so AWS Batch ` +
        `refuses jobs without a share identifier: set share_identifier (and optionally scheduling_priority) on backend ${ctx.name}`,
      { transient: false },
    );
  }
  // A priority is required too: the configured one, else the definition's own, else 0.
  if (priority !== null) return { shareIdentifier: share, schedulingPriorityOverride: priority };
  if (definitionPriority !== null) return { shareIdentifier: share };
  return { shareIdentifier: share, schedulingPriorityOverride: 0 };
}

/** A permanent failure outcome. */
function refused(req: SubmitRequest, error: string, script?: string): SubmitOutcome {
  return { taskId: req.taskId, ok: false, transient: false, error, ...(script ? { script } : {}) };
}

/** Submits one request (never throws: failures are outcomes). */
export async function submitOne(
  ctx: BatchContext,
  resolver: JobDefinitionResolver,
  queues: QueueDirectory,
  req: SubmitRequest,
): Promise<SubmitOutcome> {
  let script: string;
  let environment: { name: string; value: string }[];
  try {
    script = renderBatchScript(req);
    environment = environmentOverrides(batchEnvAndDir(req).env);
  } catch (err) {
    return refused(req, `cannot build the job: ${errorText(err)}`);
  }
  const queue = resolveQueue(req.task, ctx.cfg.aws.job_queue);
  let input: SubmitJobCommandInput;
  let meta: Record<string, unknown>;
  try {
    const facts = await queues.factsOf(queue);
    const resources =
      facts.platform === 'FARGATE' ? fargateResourceRequirements(req.task) : resourceRequirements(req.task);
    const resolved = await resolver.resolve(req.task.image ?? null, facts);
    const built = buildContainerOverrides({
      taskId: req.taskId,
      script,
      environment,
      resourceRequirements: resources,
    });
    const jobName = sanitizeJobName(req.tag);
    const timeout = jobTimeout(req.task);
    input = {
      jobName,
      jobQueue: queue,
      jobDefinition: resolved.jobDefinition,
      containerOverrides: built.overrides,
      ...(timeout ? { timeout } : {}),
      // Always sent: without it a definition's own retryStrategy would apply.
      retryStrategy: { attempts: ctx.cfg.retry_attempts },
      ...fairShareFields(ctx, facts, resolved.schedulingPriority),
    };
    meta = {
      queue,
      jobDefinition: resolved.jobDefinition,
      jobName,
      image: resolved.image,
      logGroup: resolved.logGroup,
      platform: facts.platform,
      scriptCompressed: built.compressed,
      overridesBytes: built.size,
    };
  } catch (err) {
    const e = err instanceof BackendError ? err : null;
    return {
      taskId: req.taskId,
      ok: false,
      transient: e?.transient ?? false,
      error: e ? e.message : errorText(err),
      script,
    };
  }
  ctx.usedQueues.add(queue);
  try {
    const jobId = await ctx.aws.call(
      'SubmitJob',
      async () => {
        const out = await ctx.batch.send(new SubmitJobCommand(input));
        if (!out.jobId) throw new Error('SubmitJob returned no jobId');
        return out.jobId;
      },
      {
        before: () => ctx.bucket.take(),
        // The job may have been created although no answer came back: look before resubmitting.
        recover: async () => (await jobsNamed(ctx, queue, input.jobName!))[0]?.jobId,
      },
    );
    return { taskId: req.taskId, ok: true, jobId, script, meta };
  } catch (err) {
    const kind = ctx.aws.classify(err);
    if (kind === 'client')
      return refused(req, `SubmitJob to queue ${queue} failed: ${errorText(err)}`, script);
    return {
      taskId: req.taskId,
      ok: false,
      transient: true,
      error: `SubmitJob to queue ${queue} did not go through (will retry): ${errorText(err)}`,
      script,
      // After a lost answer the job may exist: the engine looks its tag up before resubmitting.
      ...(kind === 'server' || kind === 'network' ? { maybeSubmitted: true } : {}),
    };
  }
}
