/**
 * A stateful fake of the AWS Batch and CloudWatch Logs APIs ScriptHut uses, wired into real SDK
 * clients with aws-sdk-client-mock. Jobs walk SUBMITTED → PENDING → RUNNABLE → STARTING → RUNNING →
 * SUCCEEDED/FAILED one step per `tick()`; job definition revisions increase per name; throttling and
 * other failures can be injected per operation. The state is split by API area: queues, compute
 * environments, job definitions and logs in fake-aws-resources.ts, jobs in fake-aws-jobs.ts; this
 * file wires them into the SDK clients.
 *
 * Behaviours of real AWS it models (each has a test in this package; which of them were ever seen
 * on a real account is listed in docs/aws.md):
 * - the ECS container-overrides limit: Batch accepts the SubmitJob, then the job goes FAILED with
 *   "Container Overrides length must be at most 8192" when it is placed, the length counting the
 *   AWS_BATCH_* variables Batch adds; a SubmitJob request over 30 KiB is refused at once;
 * - fair-share queues (a scheduling policy): SubmitJob without `shareIdentifier`, or without a
 *   scheduling priority (override or definition), is a ClientException;
 * - DescribeJobs and ListJobs forget a finished job `retentionMs` (about a day) after it stopped;
 * - retries: `attempts[]` lists FINISHED attempts only, the running attempt is in `container`;
 * - the log group of a job is its definition's awslogs group;
 * - GetLogEvents may return empty pages before the end of a stream (`logEmptyPages`): only a
 *   forward token that comes back unchanged means the end;
 * - Fargate queues: definitions need FARGATE platform capability and an execution role, vCPU and
 *   memory must be one of Fargate's combinations, no GPUs.
 * - array jobs (`arrayProperties.size` 2..10,000): the parent gets an ordinary job id and its
 *   children `<parent id>:<index>` appear at the parent's first step (not at SubmitJob); each child
 *   runs the parent's overrides with AWS_BATCH_JOB_ARRAY_INDEX set, walks its own lifecycle and
 *   writes its own log stream; the parent is SUBMITTED, PENDING, then SUCCEEDED when every child
 *   succeeded, else FAILED once all ended, with `arrayProperties.statusSummary` counting the
 *   children per status; ListJobs lists parents (children only with `arrayJobId`); CancelJob and
 *   TerminateJob on the parent act on every child, on a child on that child only.
 */
import {
  BatchClient,
  CancelJobCommand,
  DescribeComputeEnvironmentsCommand,
  DescribeJobDefinitionsCommand,
  DescribeJobQueuesCommand,
  DescribeJobsCommand,
  ListJobsCommand,
  RegisterJobDefinitionCommand,
  SubmitJobCommand,
  TerminateJobCommand,
} from '@aws-sdk/client-batch';
import { CloudWatchLogsClient, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { mockClient } from 'aws-sdk-client-mock';
import { FakeBatchJobs } from './fake-aws-jobs.js';
import { type BatchOp, REGION } from './fake-aws-resources.js';

export {
  ECS_OVERRIDES_LIMIT,
  type JobOutcome,
  OVERRIDES_TOO_LONG,
  SUBMIT_JOB_LIMIT,
} from './fake-aws-jobs.js';
export { ACCOUNT, awsError, REGION, throttled } from './fake-aws-resources.js';

export class FakeAws extends FakeBatchJobs {
  /** What the mocked clients call: the current round (with `latencyMs`), then {@link run}. */
  private async serve<T>(op: BatchOp, fn: () => T): Promise<T> {
    await this.answerRound();
    return this.run(op, fn);
  }

  /** Runs an operation the way the mocked clients do: counted, with injected failures first. */
  run<T>(op: BatchOp, fn: () => T): T {
    return this.perform(op, fn);
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
    batchMock.on(SubmitJobCommand).callsFake((i) => this.serve('SubmitJob', () => this.submitJob(i)));
    batchMock
      .on(DescribeJobsCommand)
      .callsFake((i) => this.serve('DescribeJobs', () => this.describeJobs(i)));
    batchMock.on(ListJobsCommand).callsFake((i) => this.serve('ListJobs', () => this.listJobs(i)));
    batchMock.on(CancelJobCommand).callsFake((i) => this.serve('CancelJob', () => this.cancelJob(i)));
    batchMock
      .on(TerminateJobCommand)
      .callsFake((i) => this.serve('TerminateJob', () => this.terminateJob(i)));
    batchMock
      .on(RegisterJobDefinitionCommand)
      .callsFake((i) => this.serve('RegisterJobDefinition', () => this.registerJobDefinition(i)));
    batchMock
      .on(DescribeJobDefinitionsCommand)
      .callsFake((i) => this.serve('DescribeJobDefinitions', () => this.describeJobDefinitions(i)));
    batchMock
      .on(DescribeJobQueuesCommand)
      .callsFake((i) => this.serve('DescribeJobQueues', () => this.describeJobQueues(i)));
    batchMock
      .on(DescribeComputeEnvironmentsCommand)
      .callsFake((i) => this.serve('DescribeComputeEnvironments', () => this.describeComputeEnvironments(i)));
    logsMock.on(GetLogEventsCommand).callsFake((i) => this.serve('GetLogEvents', () => this.getLogEvents(i)));
    return { batch, logs, batchMock, logsMock };
  }
}
