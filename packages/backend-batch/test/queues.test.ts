/**
 * What a job queue demands of a submission: fair-share queues (a scheduling policy) refuse jobs
 * without a share identifier and a scheduling priority; Fargate queues need Fargate job
 * definitions, valid vCPU/memory combinations and no GPUs. The backend reads each queue once
 * (DescribeJobQueues + DescribeComputeEnvironments) and submits accordingly.
 */
import {
  DescribeJobQueuesCommand,
  RegisterJobDefinitionCommand,
  SubmitJobCommand,
} from '@aws-sdk/client-batch';
import { describe, expect, it } from 'vitest';
import { awsError, FakeAws } from './fake-aws.js';
import { harness, request, tracked } from './helpers.js';

function inputs(h: ReturnType<typeof harness>) {
  return h.mocks.batchMock.commandCalls(SubmitJobCommand).map((c) => c.args[0].input);
}

function fairShareFake() {
  const fake = new FakeAws();
  fake.addQueue('fair-q', ['ce-default'], { schedulingPolicy: 'lab-policy' });
  return fake;
}

describe('fair-share queues', () => {
  it('the fake refuses a job without shareIdentifier, as AWS does', async () => {
    const h = harness({}, {}, fairShareFake());
    await h.backend.submit([request()]);
    const def = inputs(h)[0]!.jobDefinition!;
    const err = await h.mocks.batch
      .send(new SubmitJobCommand({ jobName: 'x', jobQueue: 'fair-q', jobDefinition: def }))
      .catch((e) => e);
    expect(err).toMatchObject({ name: 'ClientException', message: 'shareIdentifier must be specified.' });
  });

  it('without share_identifier a task on a fair-share queue fails with a clear error and no SubmitJob', async () => {
    const h = harness({ aws: { region: 'us-east-1', job_queue: 'fair-q' } }, {}, fairShareFake());
    const [out] = await h.backend.submit([request({ id: 'fs' })]);
    expect(out).toMatchObject({ ok: false, transient: false });
    const error = out!.ok ? '' : out!.error;
    expect(error).toContain('job queue fair-q has a fair-share scheduling policy');
    expect(error).toContain('share_identifier');
    expect(inputs(h)).toHaveLength(0);
  });

  it('with share_identifier and scheduling_priority the job is accepted and runs', async () => {
    const h = harness(
      { aws: { region: 'us-east-1', job_queue: 'fair-q' }, share_identifier: 'lab', scheduling_priority: 40 },
      {},
      fairShareFake(),
    );
    const [out] = await h.backend.submit([request()]);
    expect(out).toMatchObject({ ok: true });
    expect(inputs(h)[0]).toMatchObject({ shareIdentifier: 'lab', schedulingPriorityOverride: 40 });
    const id = out!.ok ? out!.jobId : '';
    h.fake.settle();
    expect((await h.backend.status([tracked(id)])).get(id)).toMatchObject({ state: 'completed' });
    expect(h.fake.jobs.get(id)).toMatchObject({ shareIdentifier: 'lab', schedulingPriority: 40 });
  });

  it('sends priority 0 when neither the config nor the job definition has one', async () => {
    const h = harness(
      { aws: { region: 'us-east-1', job_queue: 'fair-q' }, share_identifier: 'lab' },
      {},
      fairShareFake(),
    );
    const [out] = await h.backend.submit([request()]);
    expect(out).toMatchObject({ ok: true });
    expect(inputs(h)[0]).toMatchObject({ shareIdentifier: 'lab', schedulingPriorityOverride: 0 });
  });

  it("keeps a locked definition's own schedulingPriority when scheduling_priority is not set", async () => {
    const fake = fairShareFake();
    fake.registerJobDefinition({
      jobDefinitionName: 'prio',
      type: 'container',
      schedulingPriority: 7,
      containerProperties: { image: 'img:1', command: ['true'] },
    });
    const h = harness(
      { aws: { region: 'us-east-1', job_queue: 'fair-q' }, share_identifier: 'lab', job_definition: 'prio' },
      {},
      fake,
    );
    const [out] = await h.backend.submit([request()]);
    expect(out).toMatchObject({ ok: true });
    expect(inputs(h)[0]!.shareIdentifier).toBe('lab');
    expect(inputs(h)[0]).not.toHaveProperty('schedulingPriorityOverride');
  });

  it('does not send share fields to a FIFO queue, and reads each queue once', async () => {
    const h = harness({ share_identifier: 'lab', scheduling_priority: 5 }, {}, fairShareFake());
    await h.backend.submit([request(), request(), request({ partition: 'fair-q' })]);
    const [a, b, c] = inputs(h).sort((x, y) => x.jobQueue!.localeCompare(y.jobQueue!));
    expect(a).not.toHaveProperty('shareIdentifier');
    expect(b).not.toHaveProperty('schedulingPriorityOverride');
    expect(c).toMatchObject({ jobQueue: 'fair-q', shareIdentifier: 'lab', schedulingPriorityOverride: 5 });
    const queueCalls = h.mocks.batchMock.commandCalls(DescribeJobQueuesCommand).length;
    await h.backend.submit([request(), request({ partition: 'fair-q' })]);
    expect(h.mocks.batchMock.commandCalls(DescribeJobQueuesCommand).length).toBe(queueCalls);
  });

  it('when the queue cannot be described (no permission) it falls back to the configuration', async () => {
    const h = harness(
      { aws: { region: 'us-east-1', job_queue: 'fair-q' }, share_identifier: 'lab' },
      {},
      fairShareFake(),
    );
    h.fake.failNext('DescribeJobQueues', 1, () => awsError('AccessDeniedException', 'not authorized', 403));
    const [out] = await h.backend.submit([request()]);
    expect(out).toMatchObject({ ok: true });
    expect(inputs(h)[0]).toMatchObject({ shareIdentifier: 'lab', schedulingPriorityOverride: 0 });
    expect(h.warnings.some((w) => /DescribeJobQueues/.test(w))).toBe(true);
  });
});

describe('Fargate queues', () => {
  function fargateFake() {
    const fake = new FakeAws();
    fake.addFargateEnvironment('ce-fargate', 64);
    fake.addQueue('fargate-q', ['ce-fargate']);
    return fake;
  }
  const execRole = 'arn:aws:iam::123456789012:role/BatchExec';
  const fargateCfg = {
    aws: { region: 'us-east-1', job_queue: 'fargate-q' },
    execution_role_arn: execRole,
  };

  it('auto-registers a Fargate definition and rounds vCPU/memory up to a valid combination', async () => {
    const h = harness({ ...fargateCfg, assign_public_ip: true }, {}, fargateFake());
    const [out] = await h.backend.submit([request({ cpus: 3, memoryMiB: 5000 })]);
    expect(out).toMatchObject({ ok: true });
    const [reg] = h.mocks.batchMock.commandCalls(RegisterJobDefinitionCommand).map((c) => c.args[0].input);
    expect(reg).toMatchObject({
      platformCapabilities: ['FARGATE'],
      containerProperties: {
        executionRoleArn: execRole,
        networkConfiguration: { assignPublicIp: 'ENABLED' },
        fargatePlatformConfiguration: { platformVersion: 'LATEST' },
        resourceRequirements: [
          { type: 'VCPU', value: '0.25' },
          { type: 'MEMORY', value: '512' },
        ],
      },
    });
    expect(inputs(h)[0]!.containerOverrides!.resourceRequirements).toEqual([
      { type: 'VCPU', value: '4' },
      { type: 'MEMORY', value: '8192' },
    ]);
    const id = out!.ok ? out!.jobId : '';
    h.fake.settle();
    expect((await h.backend.status([tracked(id)])).get(id)).toMatchObject({ state: 'completed' });
  });

  it('small tasks get a fractional vCPU; public IP stays off unless configured', async () => {
    const h = harness(fargateCfg, {}, fargateFake());
    const [out] = await h.backend.submit([request({ cpus: 0.5, memoryMiB: 512 })]);
    expect(out).toMatchObject({ ok: true });
    expect(inputs(h)[0]!.containerOverrides!.resourceRequirements).toEqual([
      { type: 'VCPU', value: '0.5' },
      { type: 'MEMORY', value: '1024' },
    ]);
    const reg = h.mocks.batchMock.commandCalls(RegisterJobDefinitionCommand)[0]!.args[0].input;
    expect(reg.containerProperties!.networkConfiguration).toEqual({ assignPublicIp: 'DISABLED' });
  });

  it('refuses GPU tasks, too-large tasks and a missing execution role with clear errors', async () => {
    const h = harness(fargateCfg, {}, fargateFake());
    const [gpu, huge] = await h.backend.submit([
      request({ id: 'g', gres: 'gpu:1' }),
      request({ id: 'h', cpus: 32, memoryMiB: 1024 }),
    ]);
    expect(gpu).toMatchObject({ ok: false, transient: false });
    expect(gpu!.ok ? '' : gpu!.error).toMatch(/task "g".*GPU.*Fargate/);
    expect(huge!.ok ? '' : huge!.error).toMatch(/task "h".*32 vCPU.*Fargate/);
    const noRole = harness({ aws: fargateCfg.aws }, {}, fargateFake());
    const [r] = await noRole.backend.submit([request()]);
    expect(r).toMatchObject({ ok: false, transient: false });
    expect(r!.ok ? '' : r!.error).toMatch(/execution_role_arn/);
    expect(inputs(h)).toHaveLength(0);
  });

  it('a locked EC2 definition on a Fargate queue is refused before submission', async () => {
    const fake = fargateFake();
    fake.registerJobDefinition({
      jobDefinitionName: 'ec2-only',
      type: 'container',
      containerProperties: { image: 'img:1', command: ['true'] },
    });
    const h = harness({ ...fargateCfg, job_definition: 'ec2-only' }, {}, fake);
    const [out] = await h.backend.submit([request()]);
    expect(out).toMatchObject({ ok: false, transient: false });
    expect(out!.ok ? '' : out!.error).toMatch(/ec2-only is for EC2 but job queue fargate-q runs on FARGATE/);
    expect(inputs(h)).toHaveLength(0);
  });
});
