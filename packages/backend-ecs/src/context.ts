/** What the parts of the ECS backend share: configuration, clients, the AWS caller and state. */

import type { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import type { ECSClient } from '@aws-sdk/client-ecs';
import type { AwsBackendLogger, AwsCaller, FinishedJobStore } from '@scripthut/aws-common';
import type { JobStatus } from '@scripthut/core';
import type { EcsBackendConfig } from './plugin.js';

/** Structured logger; every method optional. Messages never contain credentials or env values. */
export type EcsLogger = AwsBackendLogger;

/** Where a task's container logs go (CloudWatch Logs, awslogs driver), or null without awslogs. */
export interface LogTarget {
  group: string;
  /** `awslogs-stream-prefix`: the stream is `<prefix>/<container>/<task id>`. */
  prefix: string;
}

/** What the backend records about a task the first time it sees it stopped (ECS forgets it). */
export interface FinishedEcsTask {
  status: JobStatus;
  logGroup: string | null;
  logStream: string | null;
}

/** Paces calls: `take()` resolves when the next call may go (e.g. a `TokenBucket`). */
export interface RateLimiter {
  take(): Promise<void>;
}

/** Shared by the backend's modules. */
export interface EcsContext {
  name: string;
  cfg: Omit<EcsBackendConfig, 'name' | 'type'>;
  cluster: string;
  ecs: ECSClient;
  logs: CloudWatchLogsClient;
  aws: AwsCaller;
  /** Paces RunTask and StopTask. */
  bucket: RateLimiter;
  log: EcsLogger;
  now: () => number;
  /** Final statuses and log streams, kept because DescribeTasks forgets stopped tasks. */
  finished: FinishedJobStore<FinishedEcsTask>;
  /** `startedBy` of every task of this backend. */
  startedBy: string;
}
