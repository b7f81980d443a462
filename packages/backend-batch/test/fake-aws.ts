/**
 * A stateful fake of the AWS Batch and CloudWatch Logs APIs ScriptHut uses, wired into real SDK
 * clients with aws-sdk-client-mock. Jobs walk SUBMITTED → PENDING → RUNNABLE → STARTING → RUNNING →
 * SUCCEEDED/FAILED one step per `tick()`; job definition revisions increase per name; throttling and
 * other failures can be injected per operation.
 */
import {
  BatchClient,
  CancelJobCommand,
  type CancelJobCommandInput,
  type ComputeEnvironmentDetail,
  DescribeComputeEnvironmentsCommand,
  type DescribeComputeEnvironmentsCommandInput,
  DescribeJobDefinitionsCommand,
  type DescribeJobDefinitionsCommandInput,
  DescribeJobQueuesCommand,
  type DescribeJobQueuesCommandInput,
  DescribeJobsCommand,
  type DescribeJobsCommandInput,
  type JobDefinition,
  type JobDetail,
  type JobQueueDetail,
  ListJobsCommand,
  type ListJobsCommandInput,
  RegisterJobDefinitionCommand,
  type RegisterJobDefinitionCommandInput,
  SubmitJobCommand,
  type SubmitJobCommandInput,
  TerminateJobCommand,
  type TerminateJobCommandInput,
} from '@aws-sdk/client-batch';
import {
  CloudWatchLogsClient,
  GetLogEventsCommand,
  type GetLogEventsCommandInput,
} from '@aws-sdk/client-cloudwatch-logs';
import { mockClient } from 'aws-sdk-client-mock';

export const ACCOUNT = '123456789012';
export const REGION = 'us-east-1';

type Op =
  | 'SubmitJob'
  | 'DescribeJobs'
  | 'ListJobs'
  | 'CancelJob'
  | 'TerminateJob'
  | 'RegisterJobDefinition'
  | 'DescribeJobDefinitions'
  | 'DescribeJobQueues'
  | 'DescribeComputeEnvironments'
  | 'GetLogEvents';

/** An SDK-shaped service error. */
export function awsError(name: string, message: string, httpStatusCode: number): Error {
  return Object.assign(new Error(message), {
    name,
    $fault: httpStatusCode >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode, requestId: 'fake-request' },
  });
}
export const throttled = () => awsError('TooManyRequestsException', 'Too Many Requests', 429);

/** What happens to a job when it finishes. */
export interface JobOutcome {
  exitCode: number;
  /** statusReason on failure (default "Essential container in task exited"). */
  reason?: string;
  /** container.reason (e.g. "OutOfMemoryError: Container killed due to memory usage"). */
  containerReason?: string;
  /** Lines the job writes to its log stream. */
  logLines?: string[];
}

interface FakeJob extends JobDetail {
  submitInput: SubmitJobCommandInput;
}

const ORDER = ['SUBMITTED', 'PENDING', 'RUNNABLE', 'STARTING', 'RUNNING'] as const;

export class FakeAws {
  now = 1_700_000_000_000;
  readonly jobDefs = new Map<string, JobDefinition[]>();
  readonly jobs = new Map<string, FakeJob>();
  readonly queues = new Map<string, JobQueueDetail>();
  readonly computeEnvs = new Map<string, ComputeEnvironmentDetail>();
  readonly logStreams = new Map<string, { timestamp: number; message: string }[]>();
  /** Operations → errors to throw on the next calls (shifted one per call). */
  private readonly failures = new Map<Op, (Error | 'apply-then-500')[]>();
  /** Counts of calls per operation (including failed ones). */
  readonly calls: Record<string, number> = {};
  /** Decides how a job ends. Default: exit 0 and one log line. */
  outcome: (job: JobDetail) => JobOutcome = () => ({ exitCode: 0 });
  /** Max events per GetLogEvents page (the real service pages at 1 MB / 10 000 events). */
  logPageSize = 10_000;
  private seq = 0;

  constructor() {
    this.addComputeEnvironment('ce-default', 256);
    this.addComputeEnvironment('ce-gpu', 64);
    this.addQueue('default-q', ['ce-default']);
    this.addQueue('gpu-q', ['ce-gpu', 'ce-default']);
  }

  addComputeEnvironment(name: string, maxvCpus: number, desiredvCpus = 0): void {
    this.computeEnvs.set(name, {
      computeEnvironmentName: name,
      computeEnvironmentArn: `arn:aws:batch:${REGION}:${ACCOUNT}:compute-environment/${name}`,
      state: 'ENABLED',
      status: 'VALID',
      type: 'MANAGED',
      computeResources: {
        type: 'EC2',
        minvCpus: 0,
        maxvCpus,
        desiredvCpus,
        subnets: ['subnet-1'],
        instanceRole: 'ecsInstanceRole',
      } as ComputeEnvironmentDetail['computeResources'],
    } as ComputeEnvironmentDetail);
  }

  addQueue(name: string, ces: string[]): void {
    this.queues.set(name, {
      jobQueueName: name,
      jobQueueArn: `arn:aws:batch:${REGION}:${ACCOUNT}:job-queue/${name}`,
      state: 'ENABLED',
      status: 'VALID',
      priority: 1,
      computeEnvironmentOrder: ces.map((ce, i) => ({
        order: i + 1,
        computeEnvironment: this.computeEnvs.get(ce)!.computeEnvironmentArn!,
      })),
    });
  }

  /** Make the next `n` calls of `op` fail with `error` (default: throttling). */
  failNext(op: Op, n = 1, error: Error | (() => Error) | 'apply-then-500' = throttled): void {
    const list = this.failures.get(op) ?? [];
    for (let i = 0; i < n; i++) list.push(typeof error === 'function' ? error() : error);
    this.failures.set(op, list);
  }

  private run<T>(op: Op, fn: () => T): T {
    this.calls[op] = (this.calls[op] ?? 0) + 1;
    const next = this.failures.get(op)?.shift();
    if (next === 'apply-then-500') {
      fn();
      throw awsError('ServerException', 'Internal server error', 500);
    }
    if (next) throw next;
    return fn();
  }

  // ---------- job definitions ----------

  registerJobDefinition(input: RegisterJobDefinitionCommandInput) {
    const name = input.jobDefinitionName!;
    if (!/^[A-Za-z0-9_-]{1,128}$/.test(name))
      throw awsError('ClientException', 'invalid jobDefinitionName', 400);
    const list = this.jobDefs.get(name) ?? [];
    const revision = list.length + 1;
    const def: JobDefinition = {
      ...(structuredClone(input) as JobDefinition),
      jobDefinitionName: name,
      jobDefinitionArn: `arn:aws:batch:${REGION}:${ACCOUNT}:job-definition/${name}:${revision}`,
      revision,
      status: 'ACTIVE',
      type: input.type,
    };
    list.push(def);
    this.jobDefs.set(name, list);
    return { jobDefinitionName: name, jobDefinitionArn: def.jobDefinitionArn, revision };
  }

  /** Find a definition the way SubmitJob does: ARN, `name:revision`, or bare name → latest ACTIVE. */
  lookupDefinition(ref: string): JobDefinition | undefined {
    const arnMatch = /^arn:aws:batch:[^:]+:\d+:job-definition\/(.+)$/.exec(ref);
    const body = arnMatch ? arnMatch[1]! : ref;
    const [name, rev] = body.split(':');
    const list = this.jobDefs.get(name!) ?? [];
    if (rev !== undefined) return list.find((d) => d.revision === Number(rev));
    return list.filter((d) => d.status === 'ACTIVE').sort((a, b) => b.revision! - a.revision!)[0];
  }

  describeJobDefinitions(input: DescribeJobDefinitionsCommandInput) {
    let defs: JobDefinition[];
    if (input.jobDefinitions?.length) {
      defs = input.jobDefinitions
        .map((r) => this.lookupDefinition(r))
        .filter((d): d is JobDefinition => Boolean(d));
    } else if (input.jobDefinitionName) {
      defs = [...(this.jobDefs.get(input.jobDefinitionName) ?? [])];
    } else {
      defs = [...this.jobDefs.values()].flat();
    }
    if (input.status) defs = defs.filter((d) => d.status === input.status);
    return { jobDefinitions: structuredClone(defs) };
  }

  // ---------- jobs ----------

  submitJob(input: SubmitJobCommandInput) {
    if (!input.jobName || !/^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/.test(input.jobName)) {
      throw awsError('ClientException', `invalid job name ${input.jobName}`, 400);
    }
    const queue = this.queues.get(input.jobQueue!.replace(/^arn:.*job-queue\//, ''));
    if (!queue) throw awsError('ClientException', `Job Queue ${input.jobQueue} not found`, 400);
    const def = this.lookupDefinition(input.jobDefinition!);
    if (!def) throw awsError('ClientException', `Job definition ${input.jobDefinition} not found`, 400);
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
      container: { image: def.containerProperties?.image, command: input.containerOverrides?.command },
      submitInput: structuredClone(input),
    };
    this.jobs.set(jobId, job);
    return { jobId, jobName: input.jobName, jobArn: job.jobArn };
  }

  private view(job: FakeJob): JobDetail {
    const { submitInput: _, ...rest } = job;
    return structuredClone(rest);
  }

  describeJobs(input: DescribeJobsCommandInput) {
    const ids = input.jobs ?? [];
    if (ids.length > 100) throw awsError('ClientException', 'jobs: at most 100 job IDs', 400);
    return {
      jobs: ids
        .map((id) => this.jobs.get(id))
        .filter((j): j is FakeJob => Boolean(j))
        .map((j) => this.view(j)),
    };
  }

  listJobs(input: ListJobsCommandInput) {
    const queue = this.queues.get(input.jobQueue ?? '');
    if (!queue) throw awsError('ClientException', `Job Queue ${input.jobQueue} not found`, 400);
    let jobs = [...this.jobs.values()].filter((j) => j.jobQueue === queue.jobQueueArn);
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
      })),
      nextToken: start + size < jobs.length ? String(start + size) : undefined,
    };
  }

  cancelJob(input: CancelJobCommandInput) {
    const job = this.jobs.get(input.jobId!);
    if (!job) throw awsError('ClientException', 'job not found', 400);
    if (['SUBMITTED', 'PENDING', 'RUNNABLE'].includes(job.status!))
      this.finish(job, 'FAILED', input.reason!, undefined);
    job.isCancelled = true;
    return {};
  }

  terminateJob(input: TerminateJobCommandInput) {
    const job = this.jobs.get(input.jobId!);
    if (!job) throw awsError('ClientException', 'job not found', 400);
    if (job.status !== 'SUCCEEDED' && job.status !== 'FAILED') this.finish(job, 'FAILED', input.reason!, 137);
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
    const last = job.attempts?.[job.attempts.length - 1];
    if (last) {
      last.stoppedAt = this.now;
      last.statusReason = reason;
      if (last.container) last.container.exitCode = exitCode;
    }
  }

  /** Advance every unfinished job one lifecycle step. */
  tick(): void {
    this.now += 1000;
    for (const job of this.jobs.values()) {
      const i = ORDER.indexOf(job.status as (typeof ORDER)[number]);
      if (i < 0) continue;
      if (i < ORDER.length - 1) {
        job.status = ORDER[i + 1];
        if (job.status === 'RUNNABLE') job.statusReason = undefined;
        if (job.status === 'STARTING') {
          const stream = `${job.jobDefinition!.split('/').pop()!.split(':')[0]}/default/${job.jobId}`;
          job.container = { ...job.container, logStreamName: stream };
          job.attempts = [
            ...(job.attempts ?? []),
            { container: { logStreamName: stream }, startedAt: this.now },
          ];
        }
        if (job.status === 'RUNNING') {
          job.startedAt = this.now;
          const o = this.outcome(job);
          this.appendLog(job.container!.logStreamName!, o.logLines ?? [`hello from ${job.jobName}`]);
        }
        continue;
      }
      const o = this.outcome(job);
      if (o.exitCode === 0) this.finish(job, 'SUCCEEDED', 'Essential container in task exited', 0);
      else {
        this.finish(job, 'FAILED', o.reason ?? 'Essential container in task exited', o.exitCode);
        if (o.containerReason) {
          job.container!.reason = o.containerReason;
          job.attempts![job.attempts!.length - 1]!.container!.reason = o.containerReason;
        }
      }
    }
  }

  /** Tick until every job is terminal (or `max` ticks). */
  settle(max = 20): void {
    for (let i = 0; i < max; i++) {
      if ([...this.jobs.values()].every((j) => j.status === 'SUCCEEDED' || j.status === 'FAILED')) return;
      this.tick();
    }
  }

  // ---------- queues / compute environments ----------

  describeJobQueues(input: DescribeJobQueuesCommandInput) {
    const all = [...this.queues.values()];
    if (input.jobQueues?.length) {
      return {
        jobQueues: all.filter(
          (q) => input.jobQueues!.includes(q.jobQueueName!) || input.jobQueues!.includes(q.jobQueueArn!),
        ),
      };
    }
    return { jobQueues: all };
  }

  describeComputeEnvironments(input: DescribeComputeEnvironmentsCommandInput) {
    const all = [...this.computeEnvs.values()];
    const want = input.computeEnvironments;
    return {
      computeEnvironments: want?.length
        ? all.filter(
            (c) => want.includes(c.computeEnvironmentArn!) || want.includes(c.computeEnvironmentName!),
          )
        : all,
    };
  }

  // ---------- logs ----------

  appendLog(stream: string, lines: string[], group = '/aws/batch/job'): void {
    const key = `${group}|${stream}`;
    const events = this.logStreams.get(key) ?? [];
    for (const message of lines) events.push({ timestamp: this.now, message });
    this.logStreams.set(key, events);
  }

  getLogEvents(input: GetLogEventsCommandInput) {
    const events = this.logStreams.get(`${input.logGroupName}|${input.logStreamName}`);
    if (!events) throw awsError('ResourceNotFoundException', 'The specified log stream does not exist.', 400);
    const limit = Math.min(input.limit ?? 10_000, this.logPageSize);
    let from: number;
    let to: number;
    const token = input.nextToken;
    if (token?.startsWith('f/')) {
      from = Number(token.slice(2));
      to = Math.min(events.length, from + limit);
    } else if (token?.startsWith('b/')) {
      to = Number(token.slice(2));
      from = Math.max(0, to - limit);
    } else if (input.startFromHead) {
      from = 0;
      to = Math.min(events.length, limit);
    } else {
      to = events.length;
      from = Math.max(0, to - limit);
    }
    return {
      events: events
        .slice(from, to)
        .map((e, i) => ({ ...e, ingestionTime: e.timestamp, eventId: String(from + i) })),
      // Like the real service: at the end of the stream the forward token passed in comes back unchanged.
      nextForwardToken: `f/${to}`,
      nextBackwardToken: `b/${from}`,
    };
  }

  /** Real SDK clients whose `send` is served by this fake, plus the stubs (for request assertions). */
  install() {
    const batch = new BatchClient({
      region: REGION,
      credentials: { accessKeyId: 'AKIAFAKE', secretAccessKey: 'fake' },
    });
    const logs = new CloudWatchLogsClient({
      region: REGION,
      credentials: { accessKeyId: 'AKIAFAKE', secretAccessKey: 'fake' },
    });
    const batchMock = mockClient(batch);
    const logsMock = mockClient(logs);
    batchMock.on(SubmitJobCommand).callsFake(async (i) => this.run('SubmitJob', () => this.submitJob(i)));
    batchMock
      .on(DescribeJobsCommand)
      .callsFake(async (i) => this.run('DescribeJobs', () => this.describeJobs(i)));
    batchMock.on(ListJobsCommand).callsFake(async (i) => this.run('ListJobs', () => this.listJobs(i)));
    batchMock.on(CancelJobCommand).callsFake(async (i) => this.run('CancelJob', () => this.cancelJob(i)));
    batchMock
      .on(TerminateJobCommand)
      .callsFake(async (i) => this.run('TerminateJob', () => this.terminateJob(i)));
    batchMock
      .on(RegisterJobDefinitionCommand)
      .callsFake(async (i) => this.run('RegisterJobDefinition', () => this.registerJobDefinition(i)));
    batchMock
      .on(DescribeJobDefinitionsCommand)
      .callsFake(async (i) => this.run('DescribeJobDefinitions', () => this.describeJobDefinitions(i)));
    batchMock
      .on(DescribeJobQueuesCommand)
      .callsFake(async (i) => this.run('DescribeJobQueues', () => this.describeJobQueues(i)));
    batchMock
      .on(DescribeComputeEnvironmentsCommand)
      .callsFake(async (i) =>
        this.run('DescribeComputeEnvironments', () => this.describeComputeEnvironments(i)),
      );
    logsMock
      .on(GetLogEventsCommand)
      .callsFake(async (i) => this.run('GetLogEvents', () => this.getLogEvents(i)));
    return { batch, logs, batchMock, logsMock };
  }
}
