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

/** A SubmitJob request ready to send, and the meta stored with the task(s) it runs. */
export interface PreparedJob {
  queue: string;
  input: SubmitJobCommandInput;
  meta: Record<string, unknown>;
}

/**
 * The SubmitJob input of `req` running `script` with `environment` (an array passes its dispatch
 * script and the environment its elements share): queue, job definition, overrides that fit,
 * timeout, retries, fair share. Throws an Error or a BackendError (transient when AWS could not be
 * asked). `options.label` names the job in errors; `options.nameTag` is the tag the job name carries
 * (an array's: its element 0's tag).
 */
export async function prepareJob(
  ctx: BatchContext,
  resolver: JobDefinitionResolver,
  queues: QueueDirectory,
  req: SubmitRequest,
  script: string,
  environment: { name: string; value: string }[],
  options: { label?: string; nameTag?: string } = {},
): Promise<PreparedJob> {
  const queue = resolveQueue(req.task, ctx.cfg.aws.job_queue);
  const facts = await queues.factsOf(queue);
  const resources =
    facts.platform === 'FARGATE' ? fargateResourceRequirements(req.task) : resourceRequirements(req.task);
  const resolved = await resolver.resolve(req.task.image ?? null, facts);
  const built = buildContainerOverrides({
    taskId: options.label ?? req.taskId,
    script,
    environment,
    resourceRequirements: resources,
  });
  const jobName = sanitizeJobName(options.nameTag ?? req.tag);
  const timeout = jobTimeout(req.task);
  const input: SubmitJobCommandInput = {
    jobName,
    jobQueue: queue,
    jobDefinition: resolved.jobDefinition,
    containerOverrides: built.overrides,
    ...(timeout ? { timeout } : {}),
    // Always sent: without it a definition's own retryStrategy would apply.
    retryStrategy: { attempts: ctx.cfg.retry_attempts },
    ...fairShareFields(ctx, facts, resolved.schedulingPriority),
  };
  const meta = {
    queue,
    jobDefinition: resolved.jobDefinition,
    jobName,
    image: resolved.image,
    logGroup: resolved.logGroup,
    platform: facts.platform,
    scriptCompressed: built.compressed,
    overridesBytes: built.size,
  };
  return { queue, input, meta };
}

/** What SubmitJob answered: the job id, or the failure (permanent, transient, maybe submitted). */
export type SentJob =
  | { ok: true; jobId: string }
  | { ok: false; error: string; transient: boolean; maybeSubmitted: boolean };

/**
 * Sends a prepared SubmitJob, paced by the token bucket; after an ambiguous failure the job is
 * looked up by its name so that a job AWS did create is adopted, not duplicated. Never throws.
 */
export async function sendJob(ctx: BatchContext, job: PreparedJob): Promise<SentJob> {
  const { queue, input } = job;
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
    return { ok: true, jobId };
  } catch (err) {
    const kind = ctx.aws.classify(err);
    if (kind === 'client')
      return {
        ok: false,
        transient: false,
        maybeSubmitted: false,
        error: `SubmitJob to queue ${queue} failed: ${errorText(err)}`,
      };
    return {
      ok: false,
      transient: true,
      // After a lost answer the job may exist: the engine looks its tag up before resubmitting.
      maybeSubmitted: kind === 'server' || kind === 'network',
      error: `SubmitJob to queue ${queue} did not go through (will retry): ${errorText(err)}`,
    };
  }
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
  let job: PreparedJob;
  try {
    job = await prepareJob(ctx, resolver, queues, req, script, environment);
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
  const sent = await sendJob(ctx, job);
  if (sent.ok) return { taskId: req.taskId, ok: true, jobId: sent.jobId, script, meta: job.meta };
  if (!sent.transient) return refused(req, sent.error, script);
  return {
    taskId: req.taskId,
    ok: false,
    transient: true,
    error: sent.error,
    script,
    ...(sent.maybeSubmitted ? { maybeSubmitted: true } : {}),
  };
}
