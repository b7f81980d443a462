import { containerRequest, trackedJob } from '@scripthut/aws-common/testing';
import type { TaskSpec } from '@scripthut/core';
import { taskSpec } from '@scripthut/core/testing';
import { type BatchBackendConfig, type BatchBackendOptions, createBatchBackend } from '../src/index.js';
import { FakeAws } from './fake-aws.js';

export function task(over: Partial<TaskSpec> = {}): TaskSpec {
  return taskSpec('build', { name: 'Build', command: 'echo hi', ...over });
}

/** A submit request of task `build` with a fresh tag. */
export const request = containerRequest;

/** The job as the engine tracks it. */
export const tracked = (jobId: string, taskId = 't') => trackedJob(jobId, { taskId });

export const baseConfig: BatchBackendConfig = {
  aws: { region: 'us-east-1', job_queue: 'default-q' },
  job_definition: null,
  job_definition_mode: 'locked',
  default_image: 'ghcr.io/org/base:1',
  job_role_arn: null,
  execution_role_arn: null,
  retry_attempts: 1,
  log_group: '/aws/batch/job',
  max_concurrent: 50,
};

/** The command a job runs, decoded the way `bash -c` gets it. */
export function commandOf(input: { containerOverrides?: { command?: string[] } }): string[] {
  return input.containerOverrides?.command ?? [];
}

export interface Harness {
  fake: FakeAws;
  backend: ReturnType<typeof createBatchBackend>;
  mocks: ReturnType<FakeAws['install']>;
  warnings: string[];
  sleeps: number[];
}

export function harness(
  config: Partial<BatchBackendConfig> = {},
  opts: Partial<BatchBackendOptions> = {},
  fake = new FakeAws(),
): Harness {
  const mocks = fake.install();
  const warnings: string[] = [];
  const sleeps: number[] = [];
  const backend = createBatchBackend({
    name: 'aws-batch',
    config: { ...baseConfig, ...config },
    clients: { batch: mocks.batch, logs: mocks.logs },
    submitRatePerSecond: 1000,
    logger: { warn: (m) => warnings.push(m) },
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    now: () => fake.now,
    ...opts,
  });
  return { fake, backend, mocks, warnings, sleeps };
}
