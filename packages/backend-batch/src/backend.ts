/**
 * The AWS Batch backend: wires the AWS clients, the caller, the queue directory and the job
 * definition resolver into the core {@link Backend} contract. Submission, status, logs and queues
 * live in their own modules.
 */
import { BatchClient, CancelJobCommand, TerminateJobCommand } from '@aws-sdk/client-batch';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import {
  type AwsBackendCommonOptions,
  awsBackendKit,
  awsClientConfig,
  errorText,
  localCommandRunner,
  TokenBucket,
} from '@scripthut/aws-common';
import { type Backend, BackendError, type TrackedJob } from '@scripthut/core';
import { createBatchArrays, parseBatchElementJobId } from './arrays.js';
import type { BatchBackendConfig, BatchContext, FinishedBatchJob, RateLimiter } from './context.js';
import { type JobDefinitionMode, JobDefinitionResolver } from './job-definitions.js';
import { readBatchLog } from './logs.js';
import { CANCEL_REASON, renderBatchScript } from './mapping.js';
import { QueueDirectory } from './queues.js';
import { batchStatus, findByTags } from './status.js';
import { submitOne } from './submit.js';

export type { BatchBackendConfig, BatchLogger, FinishedBatchJob, RateLimiter } from './context.js';

/**
 * Options of {@link createBatchBackend}. With `dataDir`, the final status and log stream of each
 * finished job are recorded in `<dataDir>/batch-jobs/<run id>.jsonl`, so that they are still known
 * after DescribeJobs has forgotten the job (about a day after it stopped) and after a restart.
 * `retry` defaults to 6 attempts, 200 ms first ceiling, 20 s cap; `now` tells expired jobs.
 */
export interface BatchBackendOptions extends AwsBackendCommonOptions {
  config: BatchBackendConfig;
  /** Injected SDK clients (tests, custom endpoints). Created from `config.aws` when absent. */
  clients?: { batch?: BatchClient; logs?: CloudWatchLogsClient };
  /** SubmitJob/CancelJob/TerminateJob calls per second (token bucket; default 20, keep below 50). */
  submitRatePerSecond?: number;
  /** Replaces the token bucket that paces SubmitJob/CancelJob/TerminateJob (tests). */
  submitLimiter?: RateLimiter;
  /** Timeout of commands run by {@link Backend.commandRunner} in ms (default 60 000). */
  commandTimeoutMs?: number;
  /**
   * Offer {@link Backend.arrays} whatever `config.array` says (the plugin does: the engine then
   * applies the backend's `array` or the workflow's own per run). Default: only with `array: auto`.
   */
  arrays?: boolean;
}

/** The Batch backend: the core {@link Backend} plus a few Batch-specific read-only facts. */
export interface BatchBackend extends Backend {
  readonly type: 'batch';
  /** Job definition strategy in use. */
  readonly jobDefinitionMode: JobDefinitionMode;
}

export { localCommandRunner };

/**
 * The job ids to cancel for `jobs`: each job's id, except that every element of an array job being
 * cancelled at once (all `arraySize` of them) is ONE cancel of the array job, which Batch passes on
 * to its children; a part of an array is cancelled element by element (`<array job id>:<i>`).
 */
export function cancelTargets(jobs: readonly TrackedJob[]): string[] {
  const ids = new Set<string>();
  const elements = new Map<string, { size: number; indexes: Set<number>; ids: string[] }>();
  for (const j of jobs) {
    if (!j.jobId) continue;
    const el = parseBatchElementJobId(j.jobId);
    const size = j.meta?.arraySize;
    if (!el || typeof size !== 'number' || j.meta?.arrayJobId !== el.arrayJobId) {
      ids.add(j.jobId);
      continue;
    }
    const group = elements.get(el.arrayJobId) ?? { size, indexes: new Set(), ids: [] };
    group.indexes.add(el.index);
    group.ids.push(j.jobId);
    elements.set(el.arrayJobId, group);
  }
  for (const [arrayJobId, g] of elements) {
    if (g.indexes.size === g.size) ids.add(arrayJobId);
    else for (const id of g.ids) ids.add(id);
  }
  return [...ids];
}

/**
 * Create the AWS Batch backend.
 *
 * @example
 * ```ts
 * const backend = createBatchBackend({
 *   name: 'aws-batch',
 *   config: { aws: { region: 'us-east-1', job_queue: 'my-queue' }, job_definition_mode: 'locked',
 *     default_image: 'ghcr.io/org/image:latest', retry_attempts: 1, log_group: '/aws/batch/job',
 *     max_concurrent: 100 },
 *   dataDir: '/home/me/.cache/scripthut',
 * });
 * const [outcome] = await backend.submit([request]);
 * ```
 */
export function createBatchBackend(options: BatchBackendOptions): BatchBackend {
  const cfg = options.config;
  const region = cfg.aws.region;
  const { aws, finished, log, now } = awsBackendKit<FinishedBatchJob>(options, {
    type: 'batch',
    endpoint: `AWS Batch ${region} (queue ${cfg.aws.job_queue})`,
    recordsDir: 'batch-jobs',
  });
  const warn = (m: string, f?: Record<string, unknown>) => log.warn?.(m, f);

  let batch = options.clients?.batch;
  let logs = options.clients?.logs;
  const ownBatch = !batch;
  const ownLogs = !logs;
  // The named profile or the default chain; the SDK's retries off (the caller retries), timeouts on.
  if (!batch) batch = new BatchClient(awsClientConfig({ region, profile: cfg.aws.profile }));
  if (!logs) logs = new CloudWatchLogsClient(awsClientConfig({ region, profile: cfg.aws.profile }));

  const ctx: BatchContext = {
    name: options.name,
    cfg,
    region,
    batch,
    logs,
    aws,
    bucket: options.submitLimiter ?? new TokenBucket(options.submitRatePerSecond ?? 20),
    log,
    now,
    finished,
    usedQueues: new Set([cfg.aws.job_queue]),
  };
  const queues = new QueueDirectory(batch, aws, region, (m) => warn(m));
  const resolver = new JobDefinitionResolver(
    batch,
    aws,
    {
      jobDefinition: cfg.job_definition ?? null,
      mode: cfg.job_definition_mode,
      defaultImage: cfg.default_image ?? null,
      jobRoleArn: cfg.job_role_arn ?? null,
      executionRoleArn: cfg.execution_role_arn ?? null,
      logGroup: cfg.log_group,
      region,
      assignPublicIp: cfg.assign_public_ip ?? false,
      backendName: options.name,
    },
    { warn, info: (m, f) => log.info?.(m, f) },
  );
  const batchClient = batch;
  const logsClient = logs;
  const arrays =
    (options.arrays ?? cfg.array === 'auto') ? createBatchArrays(ctx, resolver, queues) : undefined;

  return {
    name: options.name,
    type: 'batch',
    maxConcurrent: cfg.max_concurrent,
    jobDefinitionMode: resolver.mode,
    renderScript: renderBatchScript,
    submit: (requests) => Promise.all(requests.map((r) => submitOne(ctx, resolver, queues, r))),
    status: (jobs) => batchStatus(ctx, jobs),
    findByTags: (tags) => findByTags(ctx, queues, tags),
    ...(arrays ? { arrays } : {}),

    async cancel(jobs) {
      const ids = cancelTargets(jobs);
      const outage: BackendError[] = [];
      await Promise.all(
        ids.map(async (jobId) => {
          // CancelJob stops a queued job, TerminateJob a running one: both, best effort.
          for (const [label, Command] of [
            ['CancelJob', CancelJobCommand],
            ['TerminateJob', TerminateJobCommand],
          ] as const) {
            try {
              await aws.call(label, () => batchClient.send(new Command({ jobId, reason: CANCEL_REASON })), {
                before: () => ctx.bucket.take(),
              });
            } catch (err) {
              const e = aws.toBackendError(err, `${label} ${jobId}`);
              // AWS could not be reached: the engine must retry the cancel, not take it as done.
              if (e.transient) outage.push(e);
              else warn(`${label} ${jobId} failed: ${errorText(err)}`, { jobId });
            }
          }
        }),
      );
      if (outage.length > 0) throw outage[0];
    },

    readLog: (request, opts) => readBatchLog(ctx, request, opts),

    async readFile(path) {
      throw new BackendError(
        `cannot read ${path}: AWS Batch has no shell or shared filesystem to read files from, so generates_source is not supported on Batch backends (use a Slurm, PBS or local backend for tasks that generate tasks)`,
        { transient: false },
      );
    },

    clusterInfo: () =>
      queues.clusterInfo([...ctx.usedQueues], cfg.aws.job_queue, {
        region,
        jobQueue: cfg.aws.job_queue,
        jobDefinitionMode: resolver.mode,
      }),

    commandRunner: () => localCommandRunner(options.commandTimeoutMs ?? 60_000),
    health: () => aws.health(),

    async close() {
      if (ownBatch) batchClient.destroy();
      if (ownLogs) logsClient.destroy();
    },
  };
}
