import { containerRequest, trackedJob } from '@scripthut/aws-common/testing';
import type { SubmitRequest, TrackedJob } from '@scripthut/core';
import type { Ec2BackendConfig } from '../src/plugin.js';

/** A submit request of task `build` with a fresh tag. */
export const request = containerRequest;

/** The job as the engine tracks it after submitting `req`. */
export function tracked(jobId: string, req: Pick<SubmitRequest, 'runId' | 'taskId' | 'tag'>): TrackedJob {
  return trackedJob(jobId, { runId: req.runId, taskId: req.taskId, tag: req.tag });
}

export function config(over: Partial<Ec2BackendConfig> = {}): Ec2BackendConfig {
  return {
    name: 'aws-ec2',
    type: 'ec2',
    aws: { region: 'us-east-2', profile: null },
    ami: 'ami-0abc1234',
    subnet_id: 'subnet-0abc',
    security_group_ids: ['sg-1'],
    instance_types: { default: 'c5.xlarge', gpu: 'g4dn.xlarge' },
    instance_profile_arn: 'arn:aws:iam::123456789012:instance-profile/ScriptHutTask',
    default_image: 'ghcr.io/org/image:latest',
    ssh_user: 'ec2-user',
    max_instances: 20,
    max_concurrent: 100,
    idle_terminate_seconds: 1800,
    startup_timeout_seconds: 600,
    tag_prefix: 'scripthut',
    extra_tags: {},
    ...over,
  } as Ec2BackendConfig;
}
