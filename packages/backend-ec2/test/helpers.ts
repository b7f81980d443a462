import type { Ec2BackendConfig } from '@scripthut/config';
import type { SubmitRequest, TaskSpec, TrackedJob } from '@scripthut/core';
import { taskSpec } from '@scripthut/core/testing';

export function task(over: Partial<TaskSpec> = {}): TaskSpec {
  return taskSpec('build', { name: 'Build', command: 'echo hi', ...over });
}

let tagSeq = 0;
export function request(t: Partial<TaskSpec> = {}, over: Partial<SubmitRequest> = {}): SubmitRequest {
  const spec = task(t);
  return {
    runId: 'ab12cd34',
    taskId: spec.id,
    tag: `shab12cd34${(++tagSeq).toString(36).padStart(3, '0')}0`,
    workflowName: 'wf',
    task: spec,
    workingDir: spec.workingDir,
    env: { SCRIPTHUT_RUN_ID: 'ab12cd34', SCRIPTHUT_TASK_ID: spec.id },
    extraInit: '',
    stdoutPath: '',
    stderrPath: '',
    logDir: '',
    git: null,
    ...over,
  };
}

export function tracked(jobId: string, req: Pick<SubmitRequest, 'runId' | 'taskId' | 'tag'>): TrackedJob {
  return {
    jobId,
    runId: req.runId,
    taskId: req.taskId,
    tag: req.tag,
    stdoutPath: null,
    stderrPath: null,
    submittedAt: null,
    lastState: null,
    meta: {},
  };
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
