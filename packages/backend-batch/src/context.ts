/** What the parts of the Batch backend share: configuration, clients, the AWS caller and state. */
import type { BatchClient } from '@aws-sdk/client-batch';
import type { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import type { AwsBackendLogger, AwsCaller, FinishedJobStore } from '@scripthut/aws-common';
import type { JobStatus } from '@scripthut/core';

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
  /** Share identifier of jobs sent to fair-share queues (queues with a scheduling policy). */
  share_identifier?: string | null;
  /** `schedulingPriorityOverride` (0..9999) of jobs sent to fair-share queues. */
  scheduling_priority?: number | null;
  /** Fargate job definitions ScriptHut registers get a public IP (subnets without a NAT gateway). */
  assign_public_ip?: boolean;
  /**
   * `auto` (the configuration's default): ready tasks of a run that Batch cannot tell apart go out
   * as ONE array job (see `arrays.ts`); `off`: one job per task. Unset here: `off`.
   */
  array?: 'auto' | 'off';
  /** Smallest group submitted as an array (>= 2; read by the engine). */
  array_min_size?: number;
}

/** Structured logger; every method optional. Messages never contain credentials or env values. */
export type BatchLogger = AwsBackendLogger;

/** What the backend records about a job the first time it sees it finished. */
export interface FinishedBatchJob {
  status: JobStatus;
  logStream: string | null;
  logGroup: string;
}

/** Paces calls: `take()` resolves when the next call may go (e.g. a `TokenBucket`). */
export interface RateLimiter {
  take(): Promise<void>;
}

/** Shared by the backend's modules. */
export interface BatchContext {
  name: string;
  cfg: BatchBackendConfig;
  region: string;
  batch: BatchClient;
  logs: CloudWatchLogsClient;
  aws: AwsCaller;
  /** Paces SubmitJob, CancelJob and TerminateJob. */
  bucket: RateLimiter;
  log: BatchLogger;
  now: () => number;
  /** Final statuses and log streams, kept because DescribeJobs forgets finished jobs. */
  finished: FinishedJobStore<FinishedBatchJob>;
  /** Queues this process submitted to (searched by findByTags). */
  usedQueues: Set<string>;
}
