/**
 * The EC2 backend as a plugin (`type: ec2`): its configuration fields, their parsed type, and how
 * a validated entry becomes a backend. Kept apart from the backend so that validating a
 * configuration does not load the AWS SDK.
 */
import { defineBackend } from '@scripthut/core';
import {
  awsSection,
  imageRef,
  int,
  maxConcurrent,
  optText,
  partitionMap,
  stringMap,
  text,
} from '@scripthut/core/config-fields';
import { z } from 'zod';

/** The fields of a `type: ec2` entry (besides name, type, env and env_groups). */
export const ec2ConfigSchema = z.strictObject({
  aws: awsSection({}),
  ami: text().describe(
    'AMI for every task instance: sshd, SSM Agent and ec2-instance-connect; docker is installed at boot when missing.',
  ),
  subnet_id: text().describe('Subnet where task instances launch.'),
  security_group_ids: z.array(text()).default([]).describe('Security group IDs (inbound 22 not required).'),
  instance_types: stringMap()
    .default({ default: 'c5.xlarge' })
    .describe('task.partition -> EC2 instance type; unknown partitions use "default".'),
  instance_profile_arn: optText().describe('IAM instance profile attached to each task instance.'),
  default_image: imageRef().describe('Default container image.'),
  ssh_user: text().default('ec2-user').describe('OS user scripthut logs in as.'),
  max_instances: int(1).default(20).describe('Hard cap on concurrent task instances (>= 1).'),
  max_concurrent: maxConcurrent(),
  idle_terminate_seconds: int(60)
    .default(1800)
    .describe('Safety slack past task.time_limit before self-termination (>= 60).'),
  startup_timeout_seconds: int(60)
    .default(600)
    .describe(
      'Fail a task whose instance is not running in time, or running but never reachable over SSM/SSH in time (>= 60).',
    ),
  tag_prefix: text().default('scripthut').describe('Tag namespace of scripthut-owned instances.'),
  extra_tags: stringMap().default({}).describe('Additional tags for every launched instance.'),
  ...partitionMap(),
});

/** A validated `type: ec2` entry (snake_case, defaults applied). */
export type Ec2BackendConfig = z.output<typeof ec2ConfigSchema> & { name: string; type: 'ec2' };

/** `type: ec2`: one EC2 instance per task. */
export const ec2Backend = defineBackend({
  type: 'ec2',
  description: 'AWS EC2: one instance per task.',
  configSchema: ec2ConfigSchema,
  async create(config, ctx) {
    const { createEc2Backend } = await import('./backend.js');
    return createEc2Backend({ name: config.name, config, dataDir: ctx.dataDir });
  },
});
