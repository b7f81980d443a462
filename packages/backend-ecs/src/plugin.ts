/**
 * The ECS backend as a plugin (`type: ecs`): its configuration fields, the checks across them, and
 * how a validated entry becomes a backend. Kept apart from the backend so that validating a
 * configuration does not load the AWS SDK.
 */
import { type BackendConfigIssue, defineBackend } from '@scripthut/core';
import { awsSection, imageRef, maxConcurrent, optText, text } from '@scripthut/core/config-fields';
import { z } from 'zod';

/** Default CloudWatch Logs group of the task definitions ScriptHut registers. */
export const DEFAULT_ECS_LOG_GROUP = '/scripthut/ecs';

/** The fields of a `type: ecs` entry (besides name, type, env and env_groups). */
export const ecsConfigSchema = z.strictObject({
  aws: awsSection({ cluster_name: text().describe('ECS cluster the tasks run in (name or ARN).') }),
  max_concurrent: maxConcurrent(),
  task_definition: optText().describe(
    'Registered task definition (family, family:revision or ARN) every task runs, verbatim. Either task_definition or default_image must be set.',
  ),
  container_name: optText().describe(
    "Container of task_definition that runs the task's script (default: its first essential container).",
  ),
  default_image: imageRef().describe(
    'Image of the task definitions ScriptHut registers (one per image; a task may name another with `image`).',
  ),
  task_role_arn: optText().describe('IAM role the containers assume (registered task definitions).'),
  execution_role_arn: optText().describe(
    'IAM role ECS uses to pull the image and send logs (registered task definitions; required on Fargate).',
  ),
  launch_type: z
    .enum(['FARGATE', 'EC2'])
    .default('FARGATE')
    .describe('FARGATE (serverless) or EC2 (container instances of the cluster).'),
  subnets: z
    .array(text())
    .default([])
    .describe('Subnet IDs of the tasks (awsvpc network mode; required on Fargate).'),
  security_groups: z.array(text()).default([]).describe('Security group IDs of the tasks (awsvpc).'),
  assign_public_ip: z
    .boolean()
    .default(false)
    .describe('Give each task a public IP (Fargate in subnets without a NAT gateway, to pull images).'),
  log_group: text()
    .default(DEFAULT_ECS_LOG_GROUP)
    .describe(
      "CloudWatch Logs group of registered task definitions (a task definition's own awslogs group wins).",
    ),
});

/** A validated `type: ecs` entry (snake_case, defaults applied). */
export type EcsBackendConfig = z.output<typeof ecsConfigSchema> & { name: string; type: 'ecs' };

const isUnset = (v: unknown) => v === undefined || v === null;
const isEmptyList = (v: unknown) => !Array.isArray(v) || v.length === 0;

/** `type: ecs`: each task is one ECS task (RunTask) on Fargate or the cluster's EC2 instances. */
export const ecsBackend = defineBackend({
  type: 'ecs',
  description: 'Amazon ECS: one task (RunTask) per ScriptHut task, on Fargate or EC2 capacity.',
  configSchema: ecsConfigSchema,
  configIssues(raw): BackendConfigIssue[] {
    const out: BackendConfigIssue[] = [];
    if (isUnset(raw.task_definition) && isUnset(raw.default_image))
      out.push({ path: [], message: 'an ecs backend needs task_definition or default_image' });
    if (!isUnset(raw.task_definition) && !isUnset(raw.default_image))
      out.push({
        path: ['default_image'],
        message:
          'default_image and task_definition exclude each other: ECS cannot change the image of a registered task definition',
      });
    const fargate = raw.launch_type === undefined || raw.launch_type === 'FARGATE';
    if (fargate && isEmptyList(raw.subnets))
      out.push({
        path: ['subnets'],
        message: 'Fargate tasks need at least one subnet (awsvpc network mode)',
      });
    if (fargate && isUnset(raw.task_definition) && isUnset(raw.execution_role_arn))
      out.push({
        path: ['execution_role_arn'],
        message:
          'Fargate task definitions that ScriptHut registers need execution_role_arn (to pull the image and send logs)',
      });
    return out;
  },
  async create(config, ctx) {
    const { createEcsBackend } = await import('./backend.js');
    return createEcsBackend({ name: config.name, config, dataDir: ctx.dataDir });
  },
});
