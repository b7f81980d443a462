/**
 * The ECS backend: wires the AWS clients, the caller and the task definitions into the core
 * {@link Backend} contract. Submission, status and logs live in their own modules.
 */
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeClustersCommand, ECSClient } from '@aws-sdk/client-ecs';
import {
  type AwsBackendCommonOptions,
  awsBackendKit,
  awsClientConfig,
  localCommandRunner,
  renderContainerScript,
  TokenBucket,
} from '@scripthut/aws-common';
import { type Backend, BackendError, type ClusterInfo } from '@scripthut/core';
import type { EcsContext, FinishedEcsTask, RateLimiter } from './context.js';
import { readEcsLog } from './logs.js';
import { startedByOf } from './mapping.js';
import type { EcsBackendConfig } from './plugin.js';
import { TaskDefinitions } from './task-definitions.js';
import { cancelTasks, ecsStatus, submitOne, tasksByTag } from './tasks.js';

export type { EcsLogger, FinishedEcsTask, RateLimiter } from './context.js';

/**
 * Options of {@link createEcsBackend}. With `dataDir`, the verdict and log stream of each stopped
 * task are recorded in `<dataDir>/ecs-tasks/<run id>.jsonl`, so that they are still known after
 * DescribeTasks has forgotten the task (about an hour after it stopped) and after a restart.
 */
export interface EcsBackendOptions extends AwsBackendCommonOptions {
  config: Omit<EcsBackendConfig, 'name' | 'type'>;
  /** Injected SDK clients (tests, custom endpoints). Created from `config.aws` when absent. */
  clients?: { ecs?: ECSClient; logs?: CloudWatchLogsClient };
  /** RunTask/StopTask calls per second (token bucket; default 10). */
  submitRatePerSecond?: number;
  /** Replaces the token bucket that paces RunTask/StopTask (tests). */
  submitLimiter?: RateLimiter;
  /** Timeout of commands run by {@link Backend.commandRunner} in ms (default 60 000). */
  commandTimeoutMs?: number;
}

/** The ECS backend: the core {@link Backend} plus the task definitions in use. */
export interface EcsBackend extends Backend {
  readonly type: 'ecs';
  /** The task definitions of this backend (fixed, or registered per image). */
  readonly definitions: TaskDefinitions;
}

/**
 * Create the ECS backend.
 *
 * @example
 * ```ts
 * const backend = createEcsBackend({
 *   name: 'ecs',
 *   config: { aws: { profile: null, region: 'us-east-1', cluster_name: 'research' }, max_concurrent: 50,
 *     task_definition: null, container_name: null, default_image: 'python:3.12-slim',
 *     task_role_arn: null, execution_role_arn: 'arn:aws:iam::123456789012:role/ecsTaskExecutionRole',
 *     launch_type: 'FARGATE', subnets: ['subnet-0abc'], security_groups: [], assign_public_ip: true,
 *     log_group: '/scripthut/ecs' },
 *   dataDir: '/home/me/.cache/scripthut',
 * });
 * const [outcome] = await backend.submit([request]);
 * ```
 */
export function createEcsBackend(options: EcsBackendOptions): EcsBackend {
  const cfg = options.config;
  const region = cfg.aws.region;
  const cluster = cfg.aws.cluster_name;
  const { aws, finished, log, now } = awsBackendKit<FinishedEcsTask>(options, {
    type: 'ecs',
    endpoint: `Amazon ECS ${region} (cluster ${cluster})`,
    recordsDir: 'ecs-tasks',
  });
  const ownEcs = !options.clients?.ecs;
  const ownLogs = !options.clients?.logs;
  // The named profile or the default chain; the SDK's retries off (the caller retries), timeouts on.
  const ecs = options.clients?.ecs ?? new ECSClient(awsClientConfig({ region, profile: cfg.aws.profile }));
  const logs =
    options.clients?.logs ?? new CloudWatchLogsClient(awsClientConfig({ region, profile: cfg.aws.profile }));
  const ctx: EcsContext = {
    name: options.name,
    cfg,
    cluster,
    ecs,
    logs,
    aws,
    bucket: options.submitLimiter ?? new TokenBucket(options.submitRatePerSecond ?? 10),
    log,
    now,
    finished,
    startedBy: startedByOf(options.name),
  };
  const definitions = new TaskDefinitions(ctx);

  return {
    name: options.name,
    type: 'ecs',
    maxConcurrent: cfg.max_concurrent,
    definitions,
    renderScript: renderContainerScript,
    submit: (requests) =>
      Promise.all(requests.map((r) => submitOne(ctx, definitions, r, renderContainerScript(r)))),
    status: (jobs) => ecsStatus(ctx, jobs),
    async findByTags(tags) {
      const found = await tasksByTag(ctx, tags);
      return new Map([...found].map(([tag, task]) => [tag, (task.taskArn ?? '').split('/').pop() ?? '']));
    },
    cancel: (jobs) => cancelTasks(ctx, jobs),
    readLog: (request, opts) => readEcsLog(ctx, request, opts),

    async readFile(path) {
      throw new BackendError(
        `cannot read ${path}: ECS tasks have no shared filesystem ScriptHut can read, so generates_source is not supported on ECS backends (use a Slurm, PBS or local backend for tasks that generate tasks)`,
        { transient: false },
      );
    },

    async clusterInfo(): Promise<ClusterInfo> {
      const res = await aws
        .call('DescribeClusters', () => ecs.send(new DescribeClustersCommand({ clusters: [cluster] })))
        .catch((err) => {
          throw aws.toBackendError(err, 'DescribeClusters');
        });
      const c = res.clusters?.[0];
      return {
        cpusIdle: null,
        cpusTotal: null,
        partitions: [],
        facts: {
          region,
          cluster,
          launchType: cfg.launch_type,
          status: c?.status ?? 'not found',
          runningTasks: String(c?.runningTasksCount ?? 0),
          pendingTasks: String(c?.pendingTasksCount ?? 0),
          containerInstances: String(c?.registeredContainerInstancesCount ?? 0),
        },
      };
    },

    commandRunner: () => localCommandRunner(options.commandTimeoutMs ?? 60_000),
    health: () => aws.health(),

    async close() {
      if (ownEcs) ecs.destroy();
      if (ownLogs) logs.destroy();
    },
  };
}
