/**
 * Job queues: what a queue demands of a submission (a fair-share scheduling policy wants a share
 * identifier and a priority; a Fargate queue wants Fargate definitions and sizes), read once per
 * queue, and the cluster information built from queues and compute environments.
 */
import {
  type BatchClient,
  type ComputeEnvironmentDetail,
  DescribeComputeEnvironmentsCommand,
  DescribeJobQueuesCommand,
  type JobQueueDetail,
} from '@aws-sdk/client-batch';
import { type AwsCaller, chunk, errorText, SettledCache } from '@scripthut/aws-common';
import { BackendError, type ClusterInfo, type PartitionInfo } from '@scripthut/core';

/** Where a queue runs its jobs. */
export type BatchPlatform = 'EC2' | 'FARGATE';

/** What the backend knows about one job queue. */
export interface QueueFacts {
  name: string;
  /** The scheduling policy of a fair-share queue; null for a FIFO queue. */
  schedulingPolicyArn: string | null;
  platform: BatchPlatform;
  /** False when the queue could not be described (no permission): the configuration is trusted. */
  described: boolean;
}

/** Reads and caches job queues. */
export class QueueDirectory {
  private readonly facts = new SettledCache<string, QueueFacts>();
  private warnedUndescribable = false;

  constructor(
    private readonly batch: BatchClient,
    private readonly aws: AwsCaller,
    private readonly region: string,
    private readonly warn: (message: string) => void,
  ) {}

  /**
   * The facts of a queue (DescribeJobQueues + DescribeComputeEnvironments, once per queue). Throws
   * a permanent BackendError for a queue that does not exist, a transient one during outages.
   */
  factsOf(queue: string): Promise<QueueFacts> {
    return this.facts.get(queue, () => this.read(queue));
  }

  private async read(queue: string): Promise<QueueFacts> {
    let detail: JobQueueDetail | undefined;
    try {
      [detail] = await this.describe([queue]);
    } catch (err) {
      const e = this.aws.toBackendError(err, `DescribeJobQueues ${queue}`);
      if (e.transient) throw e;
      return this.undescribable(queue, err);
    }
    if (!detail) {
      throw new BackendError(`job queue ${queue} not found in ${this.region}`, {
        transient: false,
        command: `DescribeJobQueues ${queue}`,
      });
    }
    let platform: BatchPlatform = 'EC2';
    const firstCe = detail.computeEnvironmentOrder?.[0]?.computeEnvironment;
    if (firstCe) {
      try {
        const [ce] = await this.computeEnvironments([firstCe]);
        // A queue's compute environments are all EC2/SPOT or all FARGATE/FARGATE_SPOT.
        if (ce?.computeResources?.type?.startsWith('FARGATE')) platform = 'FARGATE';
      } catch (err) {
        const e = this.aws.toBackendError(err, 'DescribeComputeEnvironments');
        if (e.transient) throw e;
        this.warn(
          `cannot read the compute environments of job queue ${queue} (${errorText(err)}): assuming EC2`,
        );
      }
    }
    return {
      name: queue,
      schedulingPolicyArn: detail.schedulingPolicyArn ?? null,
      platform,
      described: true,
    };
  }

  private undescribable(queue: string, err: unknown): QueueFacts {
    if (!this.warnedUndescribable) {
      this.warnedUndescribable = true;
      this.warn(
        `DescribeJobQueues is not allowed (${errorText(err)}): submitting as configured, without checking the queue's ` +
          'scheduling policy or platform (grant batch:DescribeJobQueues and batch:DescribeComputeEnvironments)',
      );
    }
    return { name: queue, schedulingPolicyArn: null, platform: 'EC2', described: false };
  }

  /** DescribeJobQueues of `names`, or of every queue (paged) when `names` is null. */
  async describe(names: string[] | null): Promise<JobQueueDetail[]> {
    const queues: JobQueueDetail[] = [];
    let nextToken: string | undefined;
    do {
      const res = await this.aws.call('DescribeJobQueues', () =>
        this.batch.send(
          new DescribeJobQueuesCommand(names ? { jobQueues: names } : { nextToken, maxResults: 100 }),
        ),
      );
      queues.push(...(res.jobQueues ?? []));
      nextToken = names ? undefined : res.nextToken;
    } while (nextToken);
    return queues;
  }

  private async computeEnvironments(arns: string[]): Promise<ComputeEnvironmentDetail[]> {
    const out: ComputeEnvironmentDetail[] = [];
    for (const part of chunk(arns, 100)) {
      const res = await this.aws.call('DescribeComputeEnvironments', () =>
        this.batch.send(new DescribeComputeEnvironmentsCommand({ computeEnvironments: part })),
      );
      out.push(...(res.computeEnvironments ?? []));
    }
    return out;
  }

  /** CPUs of the compute environments behind `queues` (idle = max − desired), one partition per queue. */
  async clusterInfo(
    queueNames: string[],
    defaultQueue: string,
    facts: Record<string, string>,
  ): Promise<ClusterInfo> {
    let queues: JobQueueDetail[];
    try {
      queues = await this.describe(queueNames);
    } catch (err) {
      throw this.aws.toBackendError(err, 'DescribeJobQueues');
    }
    const ceArns = [
      ...new Set(
        queues.flatMap((q) => (q.computeEnvironmentOrder ?? []).map((c) => c.computeEnvironment ?? '')),
      ),
    ].filter(Boolean);
    const ces = new Map<string, { max: number; desired: number }>();
    try {
      for (const ce of await this.computeEnvironments(ceArns)) {
        const value = {
          max: ce.computeResources?.maxvCpus ?? 0,
          desired: ce.computeResources?.desiredvCpus ?? 0,
        };
        if (ce.computeEnvironmentArn) ces.set(ce.computeEnvironmentArn, value);
        if (ce.computeEnvironmentName) ces.set(ce.computeEnvironmentName, value);
      }
    } catch (err) {
      throw this.aws.toBackendError(err, 'DescribeComputeEnvironments');
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
    let total = 0;
    let desired = 0;
    for (const arn of ceArns) {
      const e = ces.get(arn);
      if (!e) continue;
      total += e.max;
      desired += e.desired;
    }
    return { cpusTotal: total, cpusIdle: Math.max(0, total - desired), partitions, facts };
  }
}
