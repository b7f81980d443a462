import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { containerRequest, trackedJob } from '@scripthut/aws-common/testing';
import type { SubmitOutcome, SubmitRequest, TrackedJob } from '@scripthut/core';
import { beforeEach, describe, expect, it } from 'vitest';
import { CANCEL_REASON, ecsBackend, ecsConfigSchema, REGISTERED_CONTAINER } from '../src/index.js';
import { awsError, FakeEcs } from './fake-ecs.js';
import { backendOn, config } from './helpers.js';

let fake: FakeEcs;
let clients: ReturnType<FakeEcs['install']>;
beforeEach(() => {
  fake = new FakeEcs();
  clients = fake.install();
});

function tracked(outcome: SubmitOutcome, req: SubmitRequest): TrackedJob {
  if (!outcome.ok) throw new Error(outcome.error);
  return trackedJob(outcome.jobId, {
    runId: req.runId,
    taskId: req.taskId,
    tag: req.tag,
    meta: outcome.meta ?? {},
  });
}

describe('submission', () => {
  it('registers one task definition per image, shared by concurrent tasks and found again after a restart', async () => {
    const backend = backendOn(clients);
    const outcomes = await backend.submit([
      containerRequest(),
      containerRequest(),
      containerRequest({ image: 'python:3.12' }),
    ]);
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(fake.calls.RegisterTaskDefinition).toBe(2);
    const families = [...fake.definitions.keys()];
    expect(families).toHaveLength(2);
    const [first] = fake.definitions.get(families[0]!)!;
    expect(first).toMatchObject({
      requiresCompatibilities: ['FARGATE'],
      networkMode: 'awsvpc',
      executionRoleArn: 'arn:aws:iam::123456789012:role/ecsTaskExecutionRole',
      containerDefinitions: [
        {
          name: REGISTERED_CONTAINER,
          image: 'public.ecr.aws/docker/library/bash:5.2',
          logConfiguration: {
            logDriver: 'awslogs',
            options: {
              'awslogs-group': '/scripthut/ecs',
              'awslogs-region': 'us-east-1',
              'awslogs-stream-prefix': 'scripthut',
            },
          },
        },
      ],
    });
    // A restarted control plane reuses the active revision instead of registering another one.
    await backendOn(clients).submit([containerRequest()]);
    expect(fake.calls.RegisterTaskDefinition).toBe(2);
  });

  it('RunTask: the tag in group, the backend in startedBy, Fargate size, network, env out of the script, time limit', async () => {
    const backend = backendOn(clients);
    const req = containerRequest(
      { cpus: 3, memory: '5G', memoryMiB: 5120, timeLimitSeconds: 600 },
      { env: { SCRIPTHUT_RUN_ID: 'ab12cd34', API_TOKEN: 's3cret-value' }, secretEnvNames: ['API_TOKEN'] },
    );
    const [outcome] = await backend.submit([req]);
    expect(outcome).toMatchObject({ ok: true });
    const input = fake.runInputs[0]!;
    expect(input).toMatchObject({
      cluster: 'research',
      launchType: 'FARGATE',
      count: 1,
      startedBy: 'scripthut/ecs',
      group: `scripthut:${req.tag}`,
      networkConfiguration: {
        awsvpcConfiguration: {
          subnets: ['subnet-0abc'],
          securityGroups: ['sg-0abc'],
          assignPublicIp: 'DISABLED',
        },
      },
      overrides: { cpu: '4096', memory: '8192' },
    });
    const container = input.overrides!.containerOverrides![0]!;
    expect(container.command!.slice(0, 6)).toEqual(['timeout', '-k', '30', '600', 'bash', '-c']);
    expect(container.environment).toContainEqual({ name: 'API_TOKEN', value: 's3cret-value' });
    // The secret travels in the overrides' environment only, never in the script.
    expect(container.command!.join(' ')).not.toContain('s3cret-value');
    expect(outcome!.ok && outcome!.script).not.toContain('s3cret-value');
    expect(outcome!.ok && outcome!.meta).toMatchObject({
      container: REGISTERED_CONTAINER,
      logGroup: '/scripthut/ecs',
      logStream: `scripthut/${REGISTERED_CONTAINER}/${outcome!.ok ? outcome!.jobId : ''}`,
    });
  });

  it('a script that would pass the 8 KiB overrides limit is compressed; one that cannot fit fails alone', async () => {
    const backend = backendOn(clients);
    const big = containerRequest({ command: `echo ${'x'.repeat(20_000)}` });
    const huge = containerRequest({}, { env: { BLOB: 'y'.repeat(9000), SCRIPTHUT_RUN_ID: 'ab12cd34' } });
    const [ok, refused] = await backend.submit([big, huge]);
    expect(ok).toMatchObject({ ok: true });
    const command = fake.runInputs[0]!.overrides!.containerOverrides![0]!.command!;
    expect(command.join(' ')).toContain('base64 -d | gzip -dc');
    expect(refused).toMatchObject({ ok: false, transient: false });
    expect(refused!.ok === false && refused!.error).toContain('BLOB (9000 bytes)');
    expect(fake.calls.RunTask).toBe(1);
  });

  it('EC2 launch type: container-level cpu, memory and GPUs; bridge networking without subnets', async () => {
    const backend = backendOn(clients, {
      config: config({ launch_type: 'EC2', subnets: [], security_groups: [] }),
    });
    const [outcome] = await backend.submit([containerRequest({ cpus: 2, memoryMiB: 3000, gres: 'gpu:1' })]);
    expect(outcome).toMatchObject({ ok: true });
    const family = [...fake.definitions.keys()][0]!;
    expect(fake.definitions.get(family)![0]).toMatchObject({
      networkMode: 'bridge',
      requiresCompatibilities: ['EC2'],
    });
    const input = fake.runInputs[0]!;
    expect(input.networkConfiguration).toBeUndefined();
    expect(input.overrides!.containerOverrides![0]).toMatchObject({
      cpu: 2048,
      memory: 3000,
      resourceRequirements: [{ type: 'GPU', value: '1' }],
    });
  });

  it('a fixed task definition runs verbatim; another image, an unknown definition or container fail for good', async () => {
    fake.registerTaskDefinition({
      family: 'analysis',
      requiresCompatibilities: ['FARGATE'],
      networkMode: 'awsvpc',
      cpu: '1024',
      memory: '2048',
      containerDefinitions: [
        { name: 'sidecar', image: 'envoy:1', essential: false },
        { name: 'main', image: 'org/analysis:7', essential: true },
      ],
    });
    const fixed = (over = {}) =>
      backendOn(clients, { config: config({ task_definition: 'analysis', default_image: null, ...over }) });
    const [ok, other] = await fixed().submit([
      containerRequest(),
      containerRequest({ image: 'python:3.12' }),
    ]);
    expect(ok).toMatchObject({ ok: true, meta: { container: 'main' } });
    expect(fake.runInputs[0]!.taskDefinition).toMatch(/task-definition\/analysis:1$/);
    expect(fake.runInputs[0]!.overrides!.containerOverrides![0]!.name).toBe('main');
    expect(other).toMatchObject({ ok: false, transient: false });
    expect(other!.ok === false && other!.error).toContain('ECS cannot change the image');
    const [unknown] = await fixed({ task_definition: 'nope' }).submit([containerRequest()]);
    expect(unknown).toMatchObject({
      ok: false,
      transient: false,
      error: 'task definition nope does not exist (or cannot be described)',
    });
    const [noContainer] = await fixed({ container_name: 'web' }).submit([containerRequest()]);
    expect(noContainer!.ok === false && noContainer!.error).toContain(
      'has no container "web" (it has: sidecar, main)',
    );
    expect(fake.calls.RunTask).toBe(1);
  });

  it('throttling is retried; a refused request fails alone; no capacity is transient', async () => {
    const backend = backendOn(clients);
    fake.failNext('RunTask', 2);
    const [throttledOk] = await backend.submit([containerRequest()]);
    expect(throttledOk).toMatchObject({ ok: true });
    fake.failNext('RunTask', 1, awsError('AccessDeniedException', 'not allowed to run tasks', 400));
    const [denied] = await backend.submit([containerRequest()]);
    expect(denied).toMatchObject({ ok: false, transient: false });
    expect(denied!.ok === false && denied!.error).toContain('AccessDeniedException');
    fake.capacityShortage = 1;
    const [full] = await backend.submit([containerRequest()]);
    expect(full).toMatchObject({
      ok: false,
      transient: true,
      error: 'RunTask started no task: RESOURCE:MEMORY',
    });
  });
});

describe('status and verdicts', () => {
  it('maps exit codes, the time limit, memory kills, failed starts and cancels; one DescribeTasks per 100 tasks', async () => {
    const backend = backendOn(clients);
    const reqs = Array.from({ length: 6 }, () => containerRequest());
    const outcomes = await backend.submit(reqs);
    const jobs = outcomes.map((o, i) => tracked(o, reqs[i]!));
    const [ok, bad, slow, fat, broken, cancelled] = jobs as [
      TrackedJob,
      TrackedJob,
      TrackedJob,
      TrackedJob,
      TrackedJob,
      TrackedJob,
    ];
    fake.exit(ok.jobId, 0);
    fake.exit(bad.jobId, 2);
    fake.exit(slow.jobId, 124);
    fake.exit(fat.jobId, 137, 'OutOfMemoryError: Container killed due to memory usage');
    fake.failToStart(
      broken.jobId,
      'CannotPullContainerError: pull image manifest has been retried 5 time(s)',
    );
    await backend.cancel([cancelled]);
    const before = fake.calls.DescribeTasks ?? 0;
    const st = await backend.status(jobs);
    expect(fake.calls.DescribeTasks! - before).toBe(1);
    expect(st.get(ok.jobId)).toMatchObject({ state: 'completed', exitCode: 0, final: true });
    expect(st.get(bad.jobId)).toMatchObject({ state: 'failed', exitCode: 2, final: true });
    expect(st.get(slow.jobId)).toMatchObject({ state: 'timeout', exitCode: 124 });
    expect(st.get(fat.jobId)).toMatchObject({ state: 'out_of_memory' });
    expect(st.get(broken.jobId)).toMatchObject({ state: 'failed', exitCode: null });
    expect(st.get(broken.jobId)!.reason).toContain('CannotPullContainerError');
    expect(st.get(cancelled.jobId)).toMatchObject({
      state: 'cancelled',
      reason: expect.stringContaining(CANCEL_REASON),
    });
  });

  it('after ECS forgets a stopped task, its verdict and log come from the records (also after a restart)', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'scripthut-ecs-'));
    try {
      const backend = backendOn(clients, { dataDir });
      const req = containerRequest();
      fake.printOnStart.set(req.tag, ['hello from ecs']);
      const [outcome] = await backend.submit([req]);
      const job = tracked(outcome!, req);
      fake.exit(job.jobId, 0);
      expect((await backend.status([job])).get(job.jobId)).toMatchObject({ state: 'completed' });
      fake.forget(job.jobId);
      const restarted = backendOn(clients, { dataDir });
      expect((await restarted.status([job])).get(job.jobId)).toMatchObject({
        state: 'completed',
        exitCode: 0,
      });
      const log = await restarted.readLog(
        { jobId: job.jobId, runId: job.runId, taskId: job.taskId, path: null, stream: 'stdout', meta: {} },
        {},
      );
      expect(log.content).toBe('hello from ecs\n');
      // Without a record, a task ECS does not know is unknown (lost only after the engine's grace).
      const other = trackedJob('ffffffff000000000000000000000000', { runId: 'ab12cd34' });
      expect((await restarted.status([other])).get(other.jobId)).toMatchObject({ state: 'unknown' });
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('findByTags lists only this backend’s tasks, with one ListTasks per desired status, whatever the number of tags', async () => {
    const backend = backendOn(clients);
    const mine = [containerRequest(), containerRequest()];
    await backend.submit(mine);
    const stranger = backendOn(clients, { name: 'other-ecs' });
    const theirs = containerRequest();
    await stranger.submit([theirs]);
    const before = fake.calls.ListTasks ?? 0;
    const found = await backend.findByTags([...mine.map((r) => r.tag), theirs.tag]);
    expect([...found.keys()].sort()).toEqual(mine.map((r) => r.tag).sort());
    expect(fake.calls.ListTasks! - before).toBe(2);
  });
});

describe('plugin', () => {
  it('the schema fills the defaults; the cross-field checks name the field', () => {
    const parsed = ecsConfigSchema.parse({
      aws: { region: 'eu-west-1', cluster_name: 'c' },
      default_image: 'python:3.12',
      execution_role_arn: 'arn:aws:iam::1:role/x',
      subnets: ['subnet-1'],
    });
    expect(parsed).toMatchObject({
      launch_type: 'FARGATE',
      log_group: '/scripthut/ecs',
      max_concurrent: 100,
      assign_public_ip: false,
    });
    expect(ecsBackend.configIssues!({ aws: {}, launch_type: 'EC2', default_image: 'x' })).toEqual([]);
    expect(
      ecsBackend.configIssues!({ launch_type: 'EC2', task_definition: 'a', default_image: 'b' }),
    ).toEqual([
      {
        path: ['default_image'],
        message:
          'default_image and task_definition exclude each other: ECS cannot change the image of a registered task definition',
      },
    ]);
    expect(() =>
      ecsConfigSchema.parse({ aws: { region: 'r', cluster_name: 'c' }, default_image: '--privileged' }),
    ).toThrow();
  });

  it('create() builds the backend from a validated entry', async () => {
    const backend = await ecsBackend.create(
      { name: 'prod', type: 'ecs', ...config() },
      { dataDir: mkdtempSync(join(tmpdir(), 'scripthut-ecs-')), warn: () => {}, secretEnvNames: [] },
    );
    expect([backend.name, backend.type, backend.maxConcurrent]).toEqual(['prod', 'ecs', 100]);
    expect(backend.health().endpoint).toBe('Amazon ECS us-east-1 (cluster research)');
    await backend.close();
  });
});
