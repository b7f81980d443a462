/**
 * The AWS Batch backend as a plugin (`type: batch`): its configuration fields, the checks across
 * them, and how a validated entry becomes a backend. Kept apart from the backend so that validating
 * a configuration does not load the AWS SDK.
 */
import { type BackendConfigIssue, defineBackend } from '@scripthut/core';
import {
  awsSection,
  imageRef,
  int,
  maxConcurrent,
  optText,
  partitionMap,
  text,
} from '@scripthut/core/config-fields';
import { z } from 'zod';

const isUnset = (v: unknown) => v === undefined || v === null;

/** `type: batch`: AWS Batch jobs (containers). */
export const batchBackend = defineBackend({
  type: 'batch',
  description: 'AWS Batch (API based, containers).',
  configSchema: z.strictObject({
    aws: awsSection({ job_queue: text().describe('Default AWS Batch job queue.') }),
    job_definition: optText().describe(
      'Pre-registered job definition (name, name:revision or ARN). Either job_definition or default_image must be set.',
    ),
    job_definition_mode: z
      .enum(['locked', 'revisions'])
      .default('locked')
      .describe(
        '"locked": submit against job_definition verbatim; "revisions": register new revisions per image.',
      ),
    default_image: imageRef().describe(
      'Default container image used when auto-registering a job definition.',
    ),
    job_role_arn: optText().describe('IAM role the container assumes (auto-registration only).'),
    execution_role_arn: optText().describe(
      'IAM role ECS uses to pull images and push logs (auto-registration only).',
    ),
    retry_attempts: int(1, 10)
      .default(1)
      .describe("retryStrategy.attempts (1..10), always sent (a job definition's own retries never apply)."),
    log_group: text()
      .default('/aws/batch/job')
      .describe("CloudWatch Logs group of the container logs (a job definition's own awslogs group wins)."),
    share_identifier: text()
      .regex(/^[A-Za-z0-9_]{1,255}\*?$/, {
        error: 'expected up to 255 letters, digits or "_" (optionally followed by "*")',
      })
      .nullable()
      .default(null)
      .describe(
        'Share identifier of jobs sent to a fair-share job queue (one with a scheduling policy, which refuses jobs without one); not sent to FIFO queues.',
      ),
    scheduling_priority: int(0, 9999)
      .nullable()
      .default(null)
      .describe(
        "schedulingPriorityOverride (0..9999) of jobs on fair-share queues; null: the job definition's own, else 0.",
      ),
    assign_public_ip: z
      .boolean()
      .default(false)
      .describe(
        'Fargate queues: job definitions ScriptHut registers get a public IP (needed to pull images in subnets without a NAT gateway).',
      ),
    max_concurrent: maxConcurrent(),
    array: z
      .enum(['auto', 'off'])
      .default('auto')
      .describe(
        'auto (default): ready tasks of a run that AWS Batch cannot tell apart (queue, cpus, memory, time limit, gpus, image, secret variables) go out as ONE array job (arrayProperties.size), as long as its command fits in the container overrides; off: one job per task. A workflow, source or project may set its own `array`.',
      ),
    array_min_size: int(2)
      .default(2)
      .describe(
        'Smallest group of such tasks submitted as an array (>= 2); smaller groups go one job per task.',
      ),
    ...partitionMap(),
  }),
  configIssues(raw): BackendConfigIssue[] {
    if (isUnset(raw.job_definition) && isUnset(raw.default_image))
      return [{ path: [], message: 'a batch backend needs job_definition or default_image' }];
    if (raw.job_definition_mode === 'revisions' && isUnset(raw.job_definition))
      return [
        {
          path: ['job_definition_mode'],
          message:
            'job_definition_mode "revisions" needs job_definition (the template to register revisions of)',
        },
      ];
    return [];
  },
  async create(config, ctx) {
    const { createBatchBackend } = await import('./backend.js');
    // Always capable: the engine applies `array` (or the workflow's own) per run.
    return createBatchBackend({ name: config.name, config, dataDir: ctx.dataDir, arrays: true });
  },
});
