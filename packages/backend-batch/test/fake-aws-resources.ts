/**
 * The part of the AWS Batch fake (fake-aws.ts) that jobs refer to: the clock, compute environments,
 * job queues (fair-share with a scheduling policy), job definitions (revisions per name, Fargate's
 * rules) and CloudWatch Logs streams (paged the way GetLogEvents pages).
 */
import type {
  ComputeEnvironmentDetail,
  DescribeComputeEnvironmentsCommandInput,
  DescribeJobDefinitionsCommandInput,
  DescribeJobQueuesCommandInput,
  JobDefinition,
  JobQueueDetail,
  RegisterJobDefinitionCommandInput,
} from '@aws-sdk/client-batch';
import type { GetLogEventsCommandInput } from '@aws-sdk/client-cloudwatch-logs';
import {
  awsServiceError as awsError,
  FakeAwsService,
  fakeLogEventsPage,
} from '@scripthut/aws-common/testing';

export const ACCOUNT = '123456789012';
export const REGION = 'us-east-1';

/** The operations of the fake (each can be counted, throttled or failed). */
export type BatchOp =
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

/** SDK-shaped errors (shared with the other AWS backends' fakes). */
export { awsServiceError as awsError } from '@scripthut/aws-common/testing';

export const throttled = () => awsError('TooManyRequestsException', 'Too Many Requests', 429);

/** Fargate's valid vCPU → memory (MiB) combinations. */
const FARGATE_MEMORY: Record<string, number[]> = {
  '0.25': [512, 1024, 2048],
  '0.5': [1024, 2048, 3072, 4096],
  '1': range(2048, 8192, 1024),
  '2': range(4096, 16384, 1024),
  '4': range(8192, 30720, 1024),
  '8': range(16384, 61440, 4096),
  '16': range(32768, 122880, 8192),
};
function range(from: number, to: number, step: number): number[] {
  const out: number[] = [];
  for (let v = from; v <= to; v += step) out.push(v);
  return out;
}

/** Compute environments, queues, job definitions and log streams of the fake; jobs: fake-aws-jobs.ts. */
export class FakeBatchResources extends FakeAwsService<BatchOp> {
  now = 1_700_000_000_000;
  readonly jobDefs = new Map<string, JobDefinition[]>();
  readonly queues = new Map<string, JobQueueDetail>();
  readonly computeEnvs = new Map<string, ComputeEnvironmentDetail>();
  readonly logStreams = new Map<string, { timestamp: number; message: string }[]>();
  /** Max events per GetLogEvents page (the real service pages at 1 MB / 10 000 events). */
  logPageSize = 10_000;
  /** Every page of events is preceded by an empty page with a new forward token. */
  logEmptyPages = false;

  constructor() {
    super({ throttled });
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

  /** A Fargate compute environment. */
  addFargateEnvironment(name: string, maxvCpus: number): void {
    this.addComputeEnvironment(name, maxvCpus);
    this.computeEnvs.get(name)!.computeResources!.type = 'FARGATE';
  }

  /** A job queue; with `schedulingPolicy` it is a fair-share queue. */
  addQueue(name: string, ces: string[], options: { schedulingPolicy?: string } = {}): void {
    this.queues.set(name, {
      jobQueueName: name,
      jobQueueArn: `arn:aws:batch:${REGION}:${ACCOUNT}:job-queue/${name}`,
      state: 'ENABLED',
      status: 'VALID',
      priority: 1,
      ...(options.schedulingPolicy
        ? {
            schedulingPolicyArn: `arn:aws:batch:${REGION}:${ACCOUNT}:scheduling-policy/${options.schedulingPolicy}`,
          }
        : {}),
      computeEnvironmentOrder: ces.map((ce, i) => ({
        order: i + 1,
        computeEnvironment: this.computeEnvs.get(ce)!.computeEnvironmentArn!,
      })),
    });
  }

  // ---------- job definitions ----------

  registerJobDefinition(input: RegisterJobDefinitionCommandInput) {
    const name = input.jobDefinitionName!;
    if (!/^[A-Za-z0-9_-]{1,128}$/.test(name))
      throw awsError('ClientException', 'invalid jobDefinitionName', 400);
    if (input.platformCapabilities?.includes('FARGATE')) {
      if (!input.containerProperties?.executionRoleArn)
        throw awsError('ClientException', 'Fargate job definitions require an executionRoleArn', 400);
      this.checkFargateResources(input.containerProperties.resourceRequirements ?? []);
    }
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

  protected platformOf(queue: JobQueueDetail): 'EC2' | 'FARGATE' {
    const ce = [...this.computeEnvs.values()].find(
      (c) => c.computeEnvironmentArn === queue.computeEnvironmentOrder?.[0]?.computeEnvironment,
    );
    return ce?.computeResources?.type?.startsWith('FARGATE') ? 'FARGATE' : 'EC2';
  }

  protected checkFargateResources(reqs: { type?: string; value?: string }[]): void {
    const get = (t: string) => reqs.find((r) => r.type === t)?.value;
    if (get('GPU')) throw awsError('ClientException', 'GPU resources are not supported on Fargate', 400);
    const vcpu = get('VCPU');
    const memory = Number(get('MEMORY'));
    if (vcpu === undefined && !get('MEMORY')) return;
    if (!vcpu || !FARGATE_MEMORY[vcpu]?.includes(memory))
      throw awsError(
        'ClientException',
        `Fargate resource requirements are invalid: VCPU ${vcpu} with MEMORY ${memory} is not a supported combination`,
        400,
      );
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
    return fakeLogEventsPage(events, input, { pageSize: this.logPageSize, emptyPages: this.logEmptyPages });
  }
}
