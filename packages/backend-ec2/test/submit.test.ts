import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { awsError } from './fake-aws.js';
import { request, tracked } from './helpers.js';
import { useUnitEnv } from './unit-env.js';

const env = useUnitEnv();
const make: typeof env.make = (cfg) => env.make(cfg);

describe('submit', () => {
  it('launches with the AMI, subnet, SGs, profile, type by partition, tags and terminate-on-shutdown', async () => {
    const b = make({ extra_tags: { Team: 'lab' } });
    const req = request({ id: 'train', partition: 'gpu', gres: 'gpu:1' });
    const [o] = await b.submit([req]);
    expect(o).toMatchObject({
      ok: true,
      taskId: 'train',
      meta: { instanceType: 'g4dn.xlarge', image: 'ghcr.io/org/image:latest' },
    });
    const input = env.fake.runInputs[0]!;
    expect(input).toMatchObject({
      ImageId: 'ami-0abc1234',
      SubnetId: 'subnet-0abc',
      SecurityGroupIds: ['sg-1'],
      InstanceType: 'g4dn.xlarge',
      IamInstanceProfile: { Arn: 'arn:aws:iam::123456789012:instance-profile/ScriptHutTask' },
      InstanceInitiatedShutdownBehavior: 'terminate',
      MinCount: 1,
      MaxCount: 1,
      ClientToken: req.tag,
    });
    const tags = Object.fromEntries(input.TagSpecifications![0]!.Tags!.map((t) => [t.Key, t.Value]));
    expect(tags).toEqual({
      Team: 'lab',
      'scripthut:backend': 'aws-ec2',
      'scripthut:run-id': 'ab12cd34',
      'scripthut:task-id': 'train',
      'scripthut:tag': req.tag,
      Name: 'scripthut-train',
    });
    const ud = Buffer.from(input.UserData!, 'base64').toString('utf8');
    expect(ud).toContain('--gpus all');
    expect(ud).toContain('-e SCRIPTHUT_TASK_ID=train');
    // The stored script lists env names only.
    expect(o?.ok && o.script).toContain('# Environment delivered by the backend');
  });

  it('keeps secrets out of the stored script but delivers them in the user-data', async () => {
    const b = make();
    const req = request({}, { env: { API_TOKEN: 's3cr3t-value' }, secretEnvNames: ['API_TOKEN'] });
    const [o] = await b.submit([req]);
    expect(o?.ok && o.script).not.toContain('s3cr3t-value');
    expect(b.renderScript(req)).not.toContain('s3cr3t-value');
    expect(Buffer.from(env.fake.runInputs[0]!.UserData!, 'base64').toString()).toContain(
      '-e API_TOKEN=s3cr3t-value',
    );
  });

  it('gzips large user-data and refuses what cannot fit in 16 KB', async () => {
    const b = make();
    const [big] = await b.submit([request({ id: 'big', command: `echo ${'x'.repeat(20_000)}` })]);
    expect(big).toMatchObject({ ok: true });
    const raw = Buffer.from(env.fake.runInputs[0]!.UserData!, 'base64');
    expect(raw[0]).toBe(0x1f);
    expect(gunzipSync(raw).toString()).toContain('#!/bin/bash');
    const random = Buffer.from(
      Array.from({ length: 30_000 }, () => Math.floor(Math.random() * 256)),
    ).toString('base64');
    const [huge] = await b.submit([request({ id: 'huge', command: `echo ${random}` })]);
    expect(huge).toMatchObject({ ok: false, transient: false });
    expect(!huge!.ok && huge!.error).toMatch(/16 KB/);
  });

  it('fails permanently without an image, on request errors; stays pending on throttling and capacity', async () => {
    const noImage = make({ default_image: null });
    const [a] = await noImage.submit([request()]);
    expect(a).toMatchObject({ ok: false, transient: false });
    expect(!a!.ok && a!.error).toMatch(/no container image/);

    const b = make({ ami: 'bogus' });
    const [c] = await b.submit([request()]);
    expect(c).toMatchObject({ ok: false, transient: false });

    const d = make();
    env.fake.failNext('RunInstances', 2);
    const [e] = await d.submit([request()]);
    expect(e).toMatchObject({ ok: true });
    expect(env.fake.calls.RunInstances).toBe(1 + 2 + 1); // bogus AMI, 2 throttled, 1 ok

    const before = env.fake.calls.RunInstances;
    env.fake.failNext('RunInstances', 1, () => awsError('InsufficientInstanceCapacity', 'no capacity', 400));
    const [g] = await d.submit([request()]);
    expect(g).toMatchObject({ ok: false, transient: true });
    expect(!g!.ok && g!.error).toMatch(/InsufficientInstanceCapacity/);
    expect(env.fake.calls.RunInstances).toBe((before ?? 0) + 1); // not hammered: the engine retries later
  });

  it('reports maxConcurrent = min(max_concurrent, max_instances) and never fails past max_instances', async () => {
    expect(make({ max_instances: 3, max_concurrent: 100 }).maxConcurrent).toBe(3);
    expect(make({ max_instances: 30, max_concurrent: 5 }).maxConcurrent).toBe(5);
    const b = make({ max_instances: 1 });
    const out = await b.submit([request({ id: 'a' }), request({ id: 'b' })]);
    expect(out[0]).toMatchObject({ ok: true });
    expect(out[1]).toMatchObject({ ok: false, transient: true });
    expect(env.fake.runInputs).toHaveLength(1);
    // A fresh process counts live tagged instances before launching (they hold slots too).
    const restarted = make({ max_instances: 1 });
    const [c] = await restarted.submit([request({ id: 'c' })]);
    expect(c).toMatchObject({ ok: false, transient: true });
  });

  it('a probe that cannot connect keeps the task running; one DescribeInstances per poll', async () => {
    const b = make();
    const req = request();
    const [o] = await b.submit([req]);
    const job = tracked((o as { jobId: string }).jobId, req);
    const first = await b.status([job]);
    expect(first.get(job.jobId)).toMatchObject({ state: 'pending' });
    await env.fake.start(job.jobId);
    const before = env.fake.describeInputs.length;
    const second = await b.status([job]);
    expect(env.fake.describeInputs.length - before).toBe(1);
    expect(env.fake.describeInputs.at(-1)!.Filters).toEqual([
      { Name: 'tag:scripthut:backend', Values: ['aws-ec2'] },
    ]);
    expect(second.get(job.jobId)).toMatchObject({ state: 'running' });
    expect(second.get(job.jobId)?.reason).toMatch(/probe failed, will retry/);
    await b.close();
  });

  it('throws a transient error when DescribeInstances keeps failing', async () => {
    const b = make();
    env.fake.failNext('DescribeInstances', 10);
    await expect(b.status([tracked('i-1', request())])).rejects.toMatchObject({ code: 'backend_transient' });
  });

  it('reports task slots as cluster info and readFile as unsupported', async () => {
    const b = make({ max_instances: 4 });
    await b.submit([request()]);
    const info = await b.clusterInfo();
    expect(info.partitions[0]).toMatchObject({ name: 'default', cpusTotal: 4, cpusIdle: 3 });
    await expect(b.readFile('x.json', null)).rejects.toMatchObject({ code: 'backend_permanent' });
  });
});
