import type { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { CloudWatchLogsClient as LogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { ECSClient } from '@aws-sdk/client-ecs';
import { awsNetworkError } from '@scripthut/aws-common/testing';
import { mockClient } from 'aws-sdk-client-mock';
import { createEcsBackend, type EcsBackend, type EcsBackendOptions } from '../src/index.js';
import { REGION } from './fake-ecs.js';

export type EcsTestConfig = EcsBackendOptions['config'];

/** A Fargate backend configuration that registers task definitions for `default_image`. */
export function config(over: Partial<EcsTestConfig> = {}): EcsTestConfig {
  return {
    aws: { profile: null, region: REGION, cluster_name: 'research' },
    max_concurrent: 100,
    task_definition: null,
    container_name: null,
    default_image: 'public.ecr.aws/docker/library/bash:5.2',
    task_role_arn: null,
    execution_role_arn: 'arn:aws:iam::123456789012:role/ecsTaskExecutionRole',
    launch_type: 'FARGATE',
    subnets: ['subnet-0abc'],
    security_groups: ['sg-0abc'],
    assign_public_ip: false,
    log_group: '/scripthut/ecs',
    ...over,
  };
}

/** A backend on the fake's clients: no pacing, fast retries, silent. */
export function backendOn(
  clients: { ecs: ECSClient; logs: CloudWatchLogsClient },
  over: Partial<EcsBackendOptions> = {},
): EcsBackend {
  return createEcsBackend({
    name: 'ecs',
    config: config(),
    clients,
    submitLimiter: { take: async () => {} },
    retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 },
    sleep: async () => {},
    logger: {},
    ...over,
  });
}

/** Clients whose every call fails the way an unreachable endpoint does. */
export function unreachableClients(): { ecs: ECSClient; logs: CloudWatchLogsClient } {
  const credentials = { accessKeyId: 'AKIAFAKE', secretAccessKey: 'fake' };
  const ecs = new ECSClient({ region: REGION, credentials });
  const logs = new LogsClient({ region: REGION, credentials });
  mockClient(ecs)
    .onAnyCommand()
    .callsFake(async () => {
      throw awsNetworkError('ECONNREFUSED');
    });
  mockClient(logs)
    .onAnyCommand()
    .callsFake(async () => {
      throw awsNetworkError('ECONNREFUSED');
    });
  return { ecs, logs };
}
