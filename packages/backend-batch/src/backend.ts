import {
  BatchClient,
  CancelJobCommand,
  DescribeComputeEnvironmentsCommand,
  DescribeJobQueuesCommand,
  DescribeJobsCommand,
  type JobDetail,
  type JobQueueDetail,
  ListJobsCommand,
  SubmitJobCommand,
  type SubmitJobCommandInput,
  TerminateJobCommand,
} from '@aws-sdk/client-batch';
import {
  CloudWatchLogsClient,
  GetLogEventsCommand,
  type GetLogEventsCommandInput,
} from '@aws-sdk/client-cloudwatch-logs';
import {
  type AwsErrorKind,
  awsCredentials,
  backoffDelay,
  classifyAwsError,
  localCommandRunner,
  type RetryPolicy,
  realSleep,
  type Sleep,
  TokenBucket,
  withRetry,
} from '@scripthut/aws-common';
import {
  type Backend,
  BackendError,
  type BackendHealth,
  type ClusterInfo,
  type JobStatus,
  type LogChunk,
  type LogReadOptions,
  type LogRequest,
  type PartitionInfo,
  type SubmitOutcome,
  type SubmitRequest,
} from '@scripthut/core';
import { type JobDefinitionMode, JobDefinitionResolver } from './job-definitions.js';
import {
  batchEnvAndDir,
  CANCEL_REASON,
  environmentOverrides,
  jobTimeout,
  mapJobDetail,
  renderBatchScript,
  resolveQueue,
  resourceRequirements,
  sanitizeJobName,
} from './mapping.js';

/** The `backends[]` entry of type `batch`, as validated by @scripthut/config (snake_case). */
export interface BatchBackendConfig {
  aws: { profile?: string | null; region: string; job_queue: string };
  job_definition?: string | null;
  job_definition_mode: 'locked' | 'revisions';
  default_image?: string | null;
  job_role_arn?: string | null;
  execution_role_arn?: string | null;
  retry_attempts: number;
  log_group: string;
  max_concurrent: number;
}

/** Structured logger; every method optional. Messages never contain credentials or env values. */
export interface BatchLogger {
  debug?(message: string, fields?: Record<string, unknown>): void;
  info?(message: string, fields?: Record<string, unknown>): void;
  warn?(message: string, fields?: Record<string, unknown>): void;
  error?(message: string, fields?: Record<string, unknown>): void;
}

export interface BatchBackendOptions {
  name: string;
  config: BatchBackendConfig;
  /** Injected SDK clients (tests, custom endpoints). Created from `config.aws` when absent. */
  clients?: { batch?: BatchClient; logs?: CloudWatchLogsClient };
  /** SubmitJob/CancelJob/TerminateJob calls per second (token bucket; default 20, keep below 50). */
  submitRatePerSecond?: number;
  logger?: BatchLogger;
  /** Backoff policy for throttled / failed AWS calls (default 6 attempts, 200 ms base, 20 s cap). */
  retry?: RetryPolicy;
  /** Injected sleep (tests). */
  sleep?: Sleep;
  /** Timeout of commands run by {@link Backend.commandRunner} in ms (default 60 000). */
  commandTimeoutMs?: number;
}

/** The Batch backend: the core {@link Backend} plus a few Batch-specific read-only facts. */
export interface BatchBackend extends Backend {
  readonly type: 'batch';
  /** Job definition strategy in use. */
  readonly jobDefinitionMode: JobDefinitionMode;
}

const DESCRIBE_CHUNK = 100;
const STDERR_NOTE =
  'AWS Batch writes stdout and stderr to a single CloudWatch Logs stream: stderr is merged into the output stream (see the output tab).';

function errorText(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

function toBackendError(err: unknown, label: string): BackendError {
  if (err instanceof BackendError) return err;
  const kind = classifyAwsError(err);
  const text = errorText(err);
  const hint = kind === 'credentials' ? ' (check the AWS credentials / profile ScriptHut runs with)' : '';
  return new BackendError(`${label} failed: ${text}${hint}`, {
    transient: kind !== 'client',
    cause: err,
    command: label,
    output: text.slice(0, 2000),
  });
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function commonPrefix(values: readonly string[]): string {
  if (!values.length) return '';
  let p = values[0]!;
  for (const v of values) while (!v.startsWith(p)) p = p.slice(0, -1);
  return p;
}

export { localCommandRunner };

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
 * });
 * const [outcome] = await backend.submit([request]);
 * ```
 */
export function createBatchBackend(options: BatchBackendOptions): BatchBackend {
  const cfg = options.config;
  const region = cfg.aws.region;
  const defaultQueue = cfg.aws.job_queue;
  const policy: RetryPolicy = options.retry ?? {};
  const sleep = options.sleep ?? realSleep;
  const log = options.logger ?? {
    warn: (m: string) => console.warn(`[batch:${options.name}] ${m}`),
    error: (m: string) => console.error(`[batch:${options.name}] ${m}`),
  };
  const warn = (m: string, f?: Record<string, unknown>) => log.warn?.(m, f);

  let batch = options.clients?.batch;
  let logs = options.clients?.logs;
  const ownBatch = !batch;
  const ownLogs = !logs;
  if (!batch || !logs) {
    // Credentials: the named profile (shared config/credentials files, SSO) or the default chain
    // (environment, shared files, instance/task role). Never stored, never logged.
    const credentials = awsCredentials(cfg.aws.profile);
    // Retries are ours (backoff with jitter + throttling awareness), so the SDK's are off.
    if (!batch) batch = new BatchClient({ region, credentials, maxAttempts: 1 });
    if (!logs) logs = new CloudWatchLogsClient({ region, credentials, maxAttempts: 1 });
  }
  const batchClient = batch;
  const logsClient = logs;

  const bucket = new TokenBucket(options.submitRatePerSecond ?? 20);
  const usedQueues = new Set<string>([defaultQueue]);
  const health: BackendHealth = {
    connected: true,
    lastError: null,
    endpoint: `AWS Batch ${region} (queue ${defaultQueue})`,
  };
  const ok = () => {
    health.connected = true;
    health.lastError = null;
  };
  const failed = (err: unknown) => {
    health.connected = false;
    health.lastError = errorText(err).slice(0, 500);
  };

  const onRetry = (label: string) => (err: unknown, kind: AwsErrorKind, attempt: number, delay: number) => {
    log.debug?.(`${label}: ${kind} error, retry ${attempt} in ${delay} ms`, { error: errorText(err) });
  };

  /** An AWS call with backoff; health tracks the outcome. */
  async function call<T>(label: string, fn: () => Promise<T>): Promise<T> {
    try {
      const out = await withRetry(fn, { policy, sleep, onRetry: onRetry(label) });
      ok();
      return out;
    } catch (err) {
      if (classifyAwsError(err) !== 'client') failed(err);
      throw err;
    }
  }

  const resolver = new JobDefinitionResolver(
    batchClient,
    call,
    {
      jobDefinition: cfg.job_definition ?? null,
      mode: cfg.job_definition_mode,
      defaultImage: cfg.default_image ?? null,
      jobRoleArn: cfg.job_role_arn ?? null,
      executionRoleArn: cfg.execution_role_arn ?? null,
      logGroup: cfg.log_group,
      region,
    },
    { warn, info: (m, f) => log.info?.(m, f) },
  );

  /** Jobs named exactly `name` in `queue`, most recent first (ListJobs with a JOB_NAME filter). */
  async function jobsNamed(
    queue: string,
    namePattern: string,
  ): Promise<{ jobId: string; jobName: string }[]> {
    const found: { jobId: string; jobName: string }[] = [];
    let nextToken: string | undefined;
    let pages = 0;
    do {
      const out = await call('ListJobs', () =>
        batchClient.send(
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

  async function submitOne(req: SubmitRequest): Promise<SubmitOutcome> {
    let script: string;
    let environment: { name: string; value: string }[];
    try {
      script = renderBatchScript(req);
      environment = environmentOverrides(batchEnvAndDir(req).env);
    } catch (err) {
      return {
        taskId: req.taskId,
        ok: false,
        transient: false,
        error: `cannot build the job: ${errorText(err)}`,
      };
    }
    let resolved: Awaited<ReturnType<JobDefinitionResolver['resolve']>>;
    try {
      resolved = await resolver.resolve(req.task.image ?? null);
    } catch (err) {
      const e = toBackendError(err, 'resolve job definition');
      return { taskId: req.taskId, ok: false, transient: e.transient, error: e.message, script };
    }
    const queue = resolveQueue(req.task, defaultQueue);
    const jobName = sanitizeJobName(req.tag);
    const timeout = jobTimeout(req.task);
    const input: SubmitJobCommandInput = {
      jobName,
      jobQueue: queue,
      jobDefinition: resolved.jobDefinition,
      containerOverrides: {
        command: ['bash', '-c', script],
        resourceRequirements: resourceRequirements(req.task),
        environment,
      },
      ...(timeout ? { timeout } : {}),
      ...(cfg.retry_attempts > 1 ? { retryStrategy: { attempts: cfg.retry_attempts } } : {}),
    };
    usedQueues.add(queue);
    const meta = { queue, jobDefinition: resolved.jobDefinition, jobName, image: resolved.image };
    const maxAttempts = Math.max(1, policy.maxAttempts ?? 6);
    let lastErr: unknown;
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      await bucket.take();
      try {
        const out = await batchClient.send(new SubmitJobCommand(input));
        ok();
        if (!out.jobId) throw new Error('SubmitJob returned no jobId');
        return { taskId: req.taskId, ok: true, jobId: out.jobId, script, meta };
      } catch (err) {
        lastErr = err;
        const kind = classifyAwsError(err);
        if (kind === 'client') {
          return {
            taskId: req.taskId,
            ok: false,
            transient: false,
            error: `SubmitJob to queue ${queue} failed: ${errorText(err)}`,
            script,
          };
        }
        failed(err);
        if (kind === 'credentials') break;
        if (kind === 'server' || kind === 'network') {
          // The job may have been created even though we got no answer: look before resubmitting.
          try {
            const existing = await jobsNamed(queue, jobName);
            if (existing[0]) return { taskId: req.taskId, ok: true, jobId: existing[0].jobId, script, meta };
          } catch {
            // Listing failed too: fall through to backoff.
          }
        }
        if (attempt + 1 < maxAttempts) {
          const delay = backoffDelay(attempt, policy);
          onRetry('SubmitJob')(err, kind, attempt + 1, delay);
          await sleep(delay);
        }
      }
    }
    return {
      taskId: req.taskId,
      ok: false,
      transient: true,
      error: `SubmitJob to queue ${queue} did not go through (will retry): ${errorText(lastErr)}`,
      script,
    };
  }

  async function describeJobs(ids: readonly string[]): Promise<JobDetail[]> {
    const out: JobDetail[] = [];
    for (const ids100 of chunk(ids, DESCRIBE_CHUNK)) {
      try {
        const res = await call('DescribeJobs', () =>
          batchClient.send(new DescribeJobsCommand({ jobs: ids100 })),
        );
        out.push(...(res.jobs ?? []));
      } catch (err) {
        throw toBackendError(err, `DescribeJobs (${ids100.length} jobs)`);
      }
    }
    return out;
  }

  async function logStreamOf(jobId: string): Promise<string | null> {
    const [job] = await describeJobs([jobId]);
    if (!job) return null;
    const attempts = job.attempts ?? [];
    const last = attempts[attempts.length - 1];
    return last?.container?.logStreamName ?? job.container?.logStreamName ?? null;
  }

  async function getEvents(input: GetLogEventsCommandInput) {
    try {
      return await call('GetLogEvents', () => logsClient.send(new GetLogEventsCommand(input)));
    } catch (err) {
      if ((err as { name?: string }).name === 'ResourceNotFoundException') return null;
      throw toBackendError(err, `GetLogEvents ${input.logGroupName}`);
    }
  }

  async function describeQueues(names: string[] | null): Promise<JobQueueDetail[]> {
    const queues: JobQueueDetail[] = [];
    let nextToken: string | undefined;
    do {
      const res = await call('DescribeJobQueues', () =>
        batchClient.send(
          new DescribeJobQueuesCommand(names ? { jobQueues: names } : { nextToken, maxResults: 100 }),
        ),
      );
      queues.push(...(res.jobQueues ?? []));
      nextToken = names ? undefined : res.nextToken;
    } while (nextToken);
    return queues;
  }

  const backend: BatchBackend = {
    name: options.name,
    type: 'batch',
    maxConcurrent: cfg.max_concurrent,
    jobDefinitionMode: resolver.mode,

    renderScript: renderBatchScript,

    async submit(requests) {
      return Promise.all(requests.map((r) => submitOne(r)));
    },

    async status(jobs) {
      const ids = [...new Set(jobs.map((j) => j.jobId).filter(Boolean))];
      const result = new Map<string, JobStatus>();
      for (const job of await describeJobs(ids)) {
        if (job.jobId) result.set(job.jobId, mapJobDetail(job));
      }
      for (const id of ids) {
        if (!result.has(id))
          result.set(id, { jobId: id, state: 'unknown', reason: 'not known to AWS Batch' });
      }
      return result;
    },

    async findByTags(tags) {
      const wanted = new Map<string, string>(tags.map((t) => [sanitizeJobName(t), t]));
      const result = new Map<string, string>();
      if (!wanted.size) return result;
      const queues = new Set(usedQueues);
      try {
        for (const q of await describeQueues(null)) if (q.jobQueueName) queues.add(q.jobQueueName);
      } catch (err) {
        log.debug?.('DescribeJobQueues failed; searching known queues only', { error: errorText(err) });
      }
      const names = [...wanted.keys()];
      const prefix = commonPrefix(names);
      // One prefix query per queue when the tags share a prefix (typically the run id); else one per tag.
      const patterns = names.length > 3 && prefix.length >= 4 ? [`${prefix}*`] : names;
      try {
        for (const queue of queues) {
          for (const pattern of patterns) {
            for (const j of await jobsNamed(queue, pattern)) {
              const tag = wanted.get(j.jobName);
              if (tag && !result.has(tag)) result.set(tag, j.jobId);
            }
          }
        }
      } catch (err) {
        throw toBackendError(err, 'ListJobs');
      }
      return result;
    },

    async cancel(jobs) {
      const ids = [...new Set(jobs.map((j) => j.jobId).filter(Boolean))];
      await Promise.all(
        ids.map(async (jobId) => {
          for (const [label, Command] of [
            ['CancelJob', CancelJobCommand],
            ['TerminateJob', TerminateJobCommand],
          ] as const) {
            try {
              await call(label, async () => {
                await bucket.take();
                return batchClient.send(new Command({ jobId, reason: CANCEL_REASON }));
              });
            } catch (err) {
              warn(`${label} ${jobId} failed: ${errorText(err)}`, { jobId });
            }
          }
        }),
      );
    },

    async readLog(request: LogRequest, opts: LogReadOptions): Promise<LogChunk> {
      const start = opts.offset ?? 0;
      if (request.stream === 'stderr') return { content: '', nextOffset: start, note: STDERR_NOTE };
      if (!request.jobId) return { content: '', nextOffset: start, missing: true };
      const stream = await logStreamOf(request.jobId);
      if (!stream)
        return { content: '', nextOffset: start, missing: true, note: 'the job has not started yet' };
      const maxBytes = opts.maxBytes ?? 1024 * 1024;
      const base = { logGroupName: cfg.log_group, logStreamName: stream };

      if (opts.tailBytes !== undefined && opts.offset === undefined && !opts.nextToken) {
        const res = await getEvents({
          ...base,
          startFromHead: false,
          limit: Math.max(1, Math.min(10_000, opts.tailBytes)),
        });
        if (!res) return { content: '', nextOffset: 0, missing: true };
        let content = (res.events ?? []).map((e) => `${e.message ?? ''}\n`).join('');
        const buf = Buffer.from(content, 'utf8');
        if (buf.length > opts.tailBytes) content = buf.subarray(buf.length - opts.tailBytes).toString('utf8');
        return { content, nextOffset: Buffer.byteLength(content), nextToken: res.nextForwardToken ?? null };
      }

      // From the head (skipping `offset` bytes) or from a continuation token, paging forward.
      let token = opts.nextToken ?? undefined;
      let skip = token ? 0 : start;
      let content = '';
      let bytes = 0;
      for (let page = 0; page < 100 && bytes < maxBytes; page++) {
        const res = await getEvents({ ...base, startFromHead: true, ...(token ? { nextToken: token } : {}) });
        if (!res)
          return { content, nextOffset: start + bytes, missing: page === 0, nextToken: token ?? null };
        for (const e of res.events ?? []) {
          let text = `${e.message ?? ''}\n`;
          if (skip > 0) {
            const b = Buffer.from(text, 'utf8');
            if (b.length <= skip) {
              skip -= b.length;
              continue;
            }
            text = b.subarray(skip).toString('utf8');
            skip = 0;
          }
          content += text;
          bytes += Buffer.byteLength(text);
        }
        const next = res.nextForwardToken;
        const done = !next || next === token || (res.events ?? []).length === 0;
        token = next ?? token;
        if (done) break;
      }
      return { content, nextOffset: start + bytes, nextToken: token ?? null };
    },

    async readFile(path) {
      throw new BackendError(
        `cannot read ${path}: AWS Batch has no shell or shared filesystem to read files from, so generates_source is not supported on Batch backends (use a Slurm, PBS or local backend for tasks that generate tasks)`,
        { transient: false },
      );
    },

    async clusterInfo(): Promise<ClusterInfo> {
      let queues: JobQueueDetail[];
      try {
        queues = await describeQueues([...usedQueues]);
      } catch (err) {
        throw toBackendError(err, 'DescribeJobQueues');
      }
      const ceArns = [
        ...new Set(
          queues.flatMap((q) => (q.computeEnvironmentOrder ?? []).map((c) => c.computeEnvironment ?? '')),
        ),
      ].filter(Boolean);
      const ces = new Map<string, { max: number; desired: number }>();
      try {
        for (const part of chunk(ceArns, 100)) {
          const res = await call('DescribeComputeEnvironments', () =>
            batchClient.send(new DescribeComputeEnvironmentsCommand({ computeEnvironments: part })),
          );
          for (const ce of res.computeEnvironments ?? []) {
            const value = {
              max: ce.computeResources?.maxvCpus ?? 0,
              desired: ce.computeResources?.desiredvCpus ?? 0,
            };
            if (ce.computeEnvironmentArn) ces.set(ce.computeEnvironmentArn, value);
            if (ce.computeEnvironmentName) ces.set(ce.computeEnvironmentName, value);
          }
        }
      } catch (err) {
        throw toBackendError(err, 'DescribeComputeEnvironments');
      }
      const partitions: PartitionInfo[] = queues.map((q) => {
        const envs = (q.computeEnvironmentOrder ?? []).map((c) => ces.get(c.computeEnvironment ?? ''));
        const total = envs.reduce((n, e) => n + (e?.max ?? 0), 0);
        const used = envs.reduce((n, e) => n + (e?.desired ?? 0), 0);
        return {
          name: q.jobQueueName ?? '?',
          isDefault: q.jobQueueName === defaultQueue,
          state: `${q.state ?? '?'}/${q.status ?? '?'}`,
          cpusTotal: total,
          cpusAllocated: used,
          cpusIdle: Math.max(0, total - used),
        };
      });
      const seen = new Set<string>();
      let total = 0;
      let desired = 0;
      for (const arn of ceArns) {
        const e = ces.get(arn);
        if (!e || seen.has(arn)) continue;
        seen.add(arn);
        total += e.max;
        desired += e.desired;
      }
      return {
        cpusTotal: total,
        cpusIdle: Math.max(0, total - desired),
        partitions,
        facts: { region, jobQueue: defaultQueue, jobDefinitionMode: resolver.mode },
      };
    },

    commandRunner() {
      return localCommandRunner(options.commandTimeoutMs ?? 60_000);
    },

    health() {
      return { ...health };
    },

    async close() {
      if (ownBatch) batchClient.destroy();
      if (ownLogs) logsClient.destroy();
    },
  };
  return backend;
}
