/**
 * The jobs of the AWS Batch fake (fake-aws.ts): SubmitJob with Batch's checks, the lifecycle one step
 * per `tick()` (retries, the ECS container-overrides limit, array children), DescribeJobs/ListJobs
 * with retention, CancelJob and TerminateJob.
 */
import type {
  CancelJobCommandInput,
  DescribeJobsCommandInput,
  JobDetail,
  ListJobsCommandInput,
  SubmitJobCommandInput,
  TerminateJobCommandInput,
} from '@aws-sdk/client-batch';
import { ACCOUNT, awsError, FakeBatchResources, REGION } from './fake-aws-resources.js';

/** What happens to a job when it finishes. */
export interface JobOutcome {
  exitCode: number;
  /** statusReason on failure (default "Essential container in task exited"). */
  reason?: string;
  /** container.reason (e.g. "OutOfMemoryError: Container killed due to memory usage"). */
  containerReason?: string;
  /** Lines the job writes to its log stream. */
  logLines?: string[];
  /** The job keeps running (until a later `outcome` says otherwise). */
  hold?: boolean;
}

interface FakeJob extends JobDetail {
  submitInput: SubmitJobCommandInput;
  /** Attempts allowed (retryStrategy of the request, else of the definition, else 1). */
  maxAttempts: number;
  /** Array parent: the ids of its children once they exist. */
  children?: string[];
  /** Array child: its parent's id. */
  parentId?: string;
}

/** Statuses a job ends in. */
const FINAL: readonly string[] = ['SUCCEEDED', 'FAILED'];

const ORDER = ['SUBMITTED', 'PENDING', 'RUNNABLE', 'STARTING', 'RUNNING'] as const;

/** The limit ECS puts on the JSON of a task's container overrides (characters). */
export const ECS_OVERRIDES_LIMIT = 8192;
/** The limit Batch puts on a SubmitJob request. */
export const SUBMIT_JOB_LIMIT = 30 * 1024;
export const OVERRIDES_TOO_LONG = `Container Overrides length must be at most ${ECS_OVERRIDES_LIMIT}`;
const DAY = 24 * 3600 * 1000;

/** The fake's jobs on top of its queues, definitions and logs. */
export class FakeBatchJobs extends FakeBatchResources {
  readonly jobs = new Map<string, FakeJob>();
  /** Decides how a job's current attempt ends (`job.attempts.length` attempts ended before). */
  outcome: (job: JobDetail) => JobOutcome = () => ({ exitCode: 0 });
  /** How long DescribeJobs/ListJobs still return a job after it stopped. */
  retentionMs = DAY;
  private seq = 0;
  private taskSeq = 0;

  submitJob(input: SubmitJobCommandInput) {
    if (!input.jobName || !/^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/.test(input.jobName)) {
      throw awsError('ClientException', `invalid job name ${input.jobName}`, 400);
    }
    const size = Buffer.byteLength(JSON.stringify(input));
    if (size > SUBMIT_JOB_LIMIT)
      throw awsError(
        'ClientException',
        `Job size must be less than 30 KiB, got ${Math.ceil(size / 1024)} KiB`,
        400,
      );
    const queue = this.queues.get(input.jobQueue!.replace(/^arn:.*job-queue\//, ''));
    if (!queue) throw awsError('ClientException', `Job Queue ${input.jobQueue} not found`, 400);
    const def = this.lookupDefinition(input.jobDefinition!);
    if (!def) throw awsError('ClientException', `Job definition ${input.jobDefinition} not found`, 400);
    if (queue.schedulingPolicyArn) {
      if (!input.shareIdentifier)
        throw awsError('ClientException', 'shareIdentifier must be specified.', 400);
      if (input.schedulingPriorityOverride === undefined && def.schedulingPriority === undefined)
        throw awsError(
          'ClientException',
          'Either schedulingPriority in job definition or schedulingPriorityOverride should be specified.',
          400,
        );
    }
    if (this.platformOf(queue) === 'FARGATE') {
      if (!def.platformCapabilities?.includes('FARGATE'))
        throw awsError(
          'ClientException',
          `Job definition ${def.jobDefinitionArn} is not compatible with job queue ${queue.jobQueueName}: FARGATE platform capability required`,
          400,
        );
      this.checkFargateResources(
        input.containerOverrides?.resourceRequirements ?? def.containerProperties?.resourceRequirements ?? [],
      );
    } else if (def.platformCapabilities?.includes('FARGATE')) {
      throw awsError(
        'ClientException',
        `Job definition ${def.jobDefinitionArn} is not compatible with job queue ${queue.jobQueueName}: EC2 platform capability required`,
        400,
      );
    }
    const arraySize = input.arrayProperties?.size;
    if (arraySize !== undefined && (!Number.isInteger(arraySize) || arraySize < 2 || arraySize > 10_000))
      throw awsError('ClientException', 'Array properties size must be between 2 and 10000', 400);
    const jobId = `00000000-0000-4000-8000-${String(++this.seq).padStart(12, '0')}`;
    const job: FakeJob = {
      jobId,
      jobArn: `arn:aws:batch:${REGION}:${ACCOUNT}:job/${jobId}`,
      jobName: input.jobName,
      jobQueue: queue.jobQueueArn,
      status: 'SUBMITTED',
      createdAt: this.now,
      startedAt: undefined,
      jobDefinition: def.jobDefinitionArn,
      attempts: [],
      container: {
        image: def.containerProperties?.image,
        command: input.containerOverrides?.command,
        ...(def.containerProperties?.logConfiguration
          ? { logConfiguration: structuredClone(def.containerProperties.logConfiguration) }
          : {}),
      },
      ...(input.shareIdentifier ? { shareIdentifier: input.shareIdentifier } : {}),
      ...(queue.schedulingPolicyArn
        ? { schedulingPriority: input.schedulingPriorityOverride ?? def.schedulingPriority }
        : {}),
      submitInput: structuredClone(input),
      maxAttempts: input.retryStrategy?.attempts ?? def.retryStrategy?.attempts ?? 1,
      ...(arraySize !== undefined ? { arrayProperties: { size: arraySize, statusSummary: {} } } : {}),
    };
    this.jobs.set(jobId, job);
    return { jobId, jobName: input.jobName, jobArn: job.jobArn };
  }

  /** Creates the children of an array parent (its first step). */
  private spawnChildren(parent: FakeJob): void {
    if (parent.children) return;
    parent.children = [];
    for (let index = 0; index < parent.arrayProperties!.size!; index++) {
      const jobId = `${parent.jobId}:${index}`;
      const { children: _c, arrayProperties: _a, ...rest } = structuredClone(parent);
      this.jobs.set(jobId, {
        ...rest,
        jobId,
        jobArn: `${parent.jobArn}:${index}`,
        status: 'SUBMITTED',
        createdAt: this.now,
        arrayProperties: { index },
        parentId: parent.jobId,
      });
      parent.children.push(jobId);
    }
    parent.status = 'PENDING';
    this.summarise(parent);
  }

  /** The parent's status and statusSummary from its children (real Batch: SUBMITTED, PENDING, SUCCEEDED, FAILED). */
  private summarise(parent: FakeJob): void {
    const kids = (parent.children ?? []).map((id) => this.jobs.get(id)!);
    const summary: Record<string, number> = {};
    for (const k of kids) summary[k.status!] = (summary[k.status!] ?? 0) + 1;
    parent.arrayProperties = { ...parent.arrayProperties, statusSummary: summary };
    if (!kids.length || FINAL.includes(parent.status!)) return;
    if (kids.every((k) => FINAL.includes(k.status!))) {
      parent.status = kids.every((k) => k.status === 'SUCCEEDED') ? 'SUCCEEDED' : 'FAILED';
      parent.statusReason =
        parent.status === 'FAILED' ? 'Array Child Job failed' : 'Array Child Jobs succeeded';
      parent.stoppedAt = this.now;
    }
  }

  /** Runs `fn` on a parent's children (spawning them first), or on the job itself. */
  private eachTarget(job: FakeJob, fn: (j: FakeJob) => void): void {
    if (!job.arrayProperties?.size) {
      fn(job);
      if (job.parentId) this.summarise(this.jobs.get(job.parentId)!);
      return;
    }
    this.spawnChildren(job);
    for (const id of job.children!) fn(this.jobs.get(id)!);
    this.summarise(job);
  }

  /**
   * The container overrides ECS receives when Batch places the job: the request's overrides plus
   * the variables Batch adds. ECS refuses the task when their JSON is over 8192 characters.
   */
  ecsOverrides(job: FakeJob): Record<string, unknown> {
    const o = job.submitInput.containerOverrides ?? {};
    const queue = [...this.queues.values()].find((q) => q.jobQueueArn === job.jobQueue)!;
    const ce = [...this.computeEnvs.values()].find(
      (c) => c.computeEnvironmentArn === queue.computeEnvironmentOrder?.[0]?.computeEnvironment,
    )!;
    return {
      name: 'default',
      ...(o.command ? { command: o.command } : {}),
      environment: [
        ...(o.environment ?? []),
        { name: 'AWS_BATCH_JOB_ID', value: job.jobId },
        ...(job.parentId
          ? [{ name: 'AWS_BATCH_JOB_ARRAY_INDEX', value: String(job.arrayProperties!.index) }]
          : []),
        { name: 'AWS_BATCH_JQ_NAME', value: queue.jobQueueName },
        { name: 'AWS_BATCH_CE_NAME', value: ce.computeEnvironmentName },
        { name: 'AWS_BATCH_JOB_ATTEMPT', value: String((job.attempts?.length ?? 0) + 1) },
      ],
      ...(o.resourceRequirements ? { resourceRequirements: o.resourceRequirements } : {}),
    };
  }

  /** Where a job's container logs go: its definition's awslogs group, else /aws/batch/job. */
  logGroupOf(job: JobDetail): string {
    const lc = this.lookupDefinition(job.jobDefinition!)?.containerProperties?.logConfiguration;
    return (lc?.logDriver === 'awslogs' && lc.options?.['awslogs-group']) || '/aws/batch/job';
  }

  private view(job: FakeJob): JobDetail {
    const { submitInput: _, maxAttempts: _m, children: _c, parentId: _p, ...rest } = job;
    return structuredClone(rest);
  }

  /** False once a finished job is past the retention period: AWS no longer describes or lists it. */
  private visible(job: FakeJob): boolean {
    return job.stoppedAt === undefined || this.now - job.stoppedAt <= this.retentionMs;
  }

  /** Moves the clock (e.g. past the DescribeJobs retention) without advancing jobs. */
  advance(ms: number): void {
    this.now += ms;
  }

  describeJobs(input: DescribeJobsCommandInput) {
    const ids = input.jobs ?? [];
    if (ids.length > 100) throw awsError('ClientException', 'jobs: at most 100 job IDs', 400);
    return {
      jobs: ids
        .map((id) => this.jobs.get(id))
        .filter((j): j is FakeJob => Boolean(j) && this.visible(j!))
        .map((j) => this.view(j)),
    };
  }

  listJobs(input: ListJobsCommandInput) {
    const queue = this.queues.get(input.jobQueue ?? '');
    if (!queue) throw awsError('ClientException', `Job Queue ${input.jobQueue} not found`, 400);
    let jobs = [...this.jobs.values()].filter(
      (j) =>
        j.jobQueue === queue.jobQueueArn &&
        this.visible(j) &&
        // Children are listed only for their array (`arrayJobId`), never with the parents.
        (input.arrayJobId ? j.parentId === input.arrayJobId : !j.parentId),
    );
    const filter = input.filters?.[0];
    if (filter?.name === 'JOB_NAME') {
      const v = filter.values?.[0] ?? '';
      jobs = jobs.filter((j) => (v.endsWith('*') ? j.jobName!.startsWith(v.slice(0, -1)) : j.jobName === v));
    } else {
      jobs = jobs.filter((j) => j.status === (input.jobStatus ?? 'RUNNING'));
    }
    jobs.sort((a, b) => b.createdAt! - a.createdAt! || b.jobId!.localeCompare(a.jobId!));
    const start = Number(input.nextToken ?? 0);
    const size = input.maxResults ?? 100;
    const page = jobs.slice(start, start + size);
    return {
      jobSummaryList: page.map((j) => ({
        jobId: j.jobId,
        jobName: j.jobName,
        status: j.status,
        createdAt: j.createdAt,
        ...(j.arrayProperties
          ? { arrayProperties: { size: j.arrayProperties.size, index: j.arrayProperties.index } }
          : {}),
      })),
      nextToken: start + size < jobs.length ? String(start + size) : undefined,
    };
  }

  cancelJob(input: CancelJobCommandInput) {
    const job = this.jobs.get(input.jobId!);
    if (!job) throw awsError('ClientException', 'job not found', 400);
    this.eachTarget(job, (j) => {
      if (['SUBMITTED', 'PENDING', 'RUNNABLE'].includes(j.status!))
        this.finish(j, 'FAILED', input.reason!, undefined);
      j.isCancelled = true;
    });
    job.isCancelled = true;
    return {};
  }

  terminateJob(input: TerminateJobCommandInput) {
    const job = this.jobs.get(input.jobId!);
    if (!job) throw awsError('ClientException', 'job not found', 400);
    this.eachTarget(job, (j) => {
      if (!FINAL.includes(j.status!)) this.finish(j, 'FAILED', input.reason!, 137);
      j.isTerminated = true;
    });
    job.isTerminated = true;
    return {};
  }

  private finish(
    job: FakeJob,
    status: 'SUCCEEDED' | 'FAILED',
    reason: string | undefined,
    exitCode: number | undefined,
  ) {
    job.status = status;
    job.statusReason = reason;
    job.stoppedAt = this.now;
    if (job.container) job.container.exitCode = exitCode;
    // A job stopped while it had a container (STARTING/RUNNING) records that attempt.
    if (job.container?.logStreamName) this.recordAttempt(job, reason);
  }

  /** Appends the attempt that just ended to `attempts[]` (real Batch lists finished attempts only). */
  private recordAttempt(job: FakeJob, reason: string | undefined): void {
    const c = job.container!;
    job.attempts = [
      ...(job.attempts ?? []),
      {
        container: {
          logStreamName: c.logStreamName,
          exitCode: c.exitCode,
          ...(c.reason ? { reason: c.reason } : {}),
        },
        startedAt: job.startedAt,
        stoppedAt: this.now,
        statusReason: reason,
      },
    ];
  }

  /** Advance every unfinished job one lifecycle step. */
  tick(): void {
    this.now += 1000;
    const parents = [...this.jobs.values()].filter((j) => j.arrayProperties?.size);
    for (const job of [...this.jobs.values()]) {
      if (job.arrayProperties?.size) continue; // a parent follows its children
      const i = ORDER.indexOf(job.status as (typeof ORDER)[number]);
      if (i < 0) continue;
      if (i < ORDER.length - 1) {
        const next = ORDER[i + 1]!;
        if (next === 'STARTING' && JSON.stringify(this.ecsOverrides(job)).length > ECS_OVERRIDES_LIMIT) {
          // SubmitJob was accepted; ECS refuses the task when Batch places the job.
          this.finish(job, 'FAILED', OVERRIDES_TOO_LONG, undefined);
          continue;
        }
        job.status = next;
        if (job.status === 'RUNNABLE') job.statusReason = undefined;
        if (job.status === 'STARTING') {
          const stream = `${job.jobDefinition!.split('/').pop()!.split(':')[0]}/default/${(++this.taskSeq).toString(16).padStart(32, '0')}`;
          job.container = { ...job.container, logStreamName: stream, exitCode: undefined, reason: undefined };
        }
        if (job.status === 'RUNNING') {
          job.startedAt = this.now;
          const o = this.outcome(job);
          this.appendLog(
            job.container!.logStreamName!,
            o.logLines ?? [`hello from ${job.jobName}`],
            this.logGroupOf(job),
          );
        }
        continue;
      }
      const o = this.outcome(job);
      if (o.hold) continue;
      if (o.exitCode === 0) {
        this.finish(job, 'SUCCEEDED', 'Essential container in task exited', 0);
        continue;
      }
      if (o.containerReason) job.container!.reason = o.containerReason;
      const attempt = (job.attempts?.length ?? 0) + 1;
      if (attempt < job.maxAttempts) {
        // Retry: the attempt is recorded and the job queues again for a new container.
        job.container!.exitCode = o.exitCode;
        this.recordAttempt(job, o.reason ?? 'Essential container in task exited');
        job.status = 'RUNNABLE';
        job.container = {
          image: job.container!.image,
          command: job.container!.command,
          logConfiguration: job.container!.logConfiguration,
        };
        continue;
      }
      this.finish(job, 'FAILED', o.reason ?? 'Essential container in task exited', o.exitCode);
    }
    for (const parent of parents) {
      if (!parent.children) this.spawnChildren(parent);
      else this.summarise(parent);
    }
  }

  /** Tick until every job is terminal (or `max` ticks). */
  settle(max = 20): void {
    for (let i = 0; i < max; i++) {
      if ([...this.jobs.values()].every((j) => j.status === 'SUCCEEDED' || j.status === 'FAILED')) return;
      this.tick();
    }
  }
}
