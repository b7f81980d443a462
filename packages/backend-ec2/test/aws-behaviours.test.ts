/**
 * Behaviours of real EC2 the first fakes did not know: eventual consistency right after launch
 * (TerminateInstances answers InvalidInstanceID.NotFound, and one unknown id fails the whole call),
 * IMDSv2's hop limit (containers on the docker bridge need 2), network errors that carry
 * `$metadata` but no HTTP status, and instances that run but never answer a probe.
 */
import { TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { BackendError } from '@scripthut/core';
import { describe, expect, it } from 'vitest';
import { FakeAws, networkError } from './fake-aws.js';
import { request, tracked } from './helpers.js';
import { useUnitEnv } from './unit-env.js';

const env = useUnitEnv();
const make: typeof env.make = (cfg) => env.make(cfg);

async function launch(b: ReturnType<typeof make>, id: string) {
  const req = request({ id });
  const [o] = await b.submit([req]);
  if (!o?.ok) throw new Error(`launch failed: ${JSON.stringify(o)}`);
  return tracked(o.jobId, req);
}

describe('TerminateInstances right after launch (eventual consistency)', () => {
  it('the fake fails the whole call when one id is not visible yet', async () => {
    const b = make();
    env.fake.consistencyDelay = 1;
    const a = await launch(b, 'a');
    env.fake.consistencyDelay = 0;
    const c = await launch(b, 'c');
    const err = await env.clients.ec2
      .send(
        new TerminateInstancesCommand({
          InstanceIds: [a.jobId, c.jobId],
        }),
      )
      .catch((e) => e);
    expect(err).toMatchObject({ name: 'InvalidInstanceID.NotFound' });
    expect(env.fake.instances.get(c.jobId)!.State!.Name).toBe('pending'); // nothing was terminated
  });

  it('terminates the visible ones at once and keeps the early one pending until EC2 knows it', async () => {
    const b = make();
    env.fake.consistencyDelay = 3;
    const early = await launch(b, 'early');
    env.fake.consistencyDelay = 0;
    const other = await launch(b, 'other');
    await b.cancel([early, other]);
    expect(env.fake.instances.get(other.jobId)!.State!.Name).toBe('shutting-down');
    expect(env.fake.instances.get(early.jobId)!.State!.Name).toBe('pending'); // not visible yet
    // The next polls retry it; it is terminated as soon as EC2 knows it.
    for (let i = 0; i < 3 && env.fake.instances.get(early.jobId)!.State!.Name === 'pending'; i++) {
      const st = await b.status([early, other]);
      expect(st.get(early.jobId)).toMatchObject({ state: 'cancelled', final: true });
    }
    expect(['shutting-down', 'terminated']).toContain(env.fake.instances.get(early.jobId)!.State!.Name);
    expect(b.activeInstances()).toEqual([]);
  });

  it('drops an id EC2 never knows once the grace has passed and DescribeInstances confirms it', async () => {
    const b = make();
    const real = await launch(b, 'real');
    const ghost = { ...real, jobId: 'i-0000000000000dead', taskId: 'ghost' };
    await b.cancel([ghost, real]);
    expect(env.fake.instances.get(real.jobId)!.State!.Name).toBe('shutting-down');
    expect(env.warnings.some((w) => w.includes('i-0000000000000dead') && w.includes('unknown to EC2'))).toBe(
      true,
    );
    const calls = env.fake.calls.TerminateInstances ?? 0;
    await b.status([real]);
    expect(env.fake.calls.TerminateInstances ?? 0).toBe(calls); // not retried for ever
  });
});

describe('cancel when TerminateInstances does not go through', () => {
  it('throws a transient error and records nothing; the retried cancel terminates and records', async () => {
    const b = make();
    const job = await launch(b, 'stubborn');
    // Five attempts for the cancel, five for the pending terminate the next poll retries.
    env.fake.failNext('TerminateInstances', 10, () => networkError('ECONNRESET', 'socket hang up'));
    const err = await b.cancel([job]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect((err as BackendError).transient).toBe(true);
    expect(env.fake.instances.get(job.jobId)!.State!.Name).toBe('pending'); // still running up
    expect((await b.status([job])).get(job.jobId)?.state).not.toBe('cancelled');
    // The engine retries the cancel (the poll above also retried the pending terminate).
    await b.cancel([job]);
    expect(['shutting-down', 'terminated']).toContain(env.fake.instances.get(job.jobId)!.State!.Name);
    expect((await b.status([job])).get(job.jobId)).toMatchObject({ state: 'cancelled', final: true });
  });
});

describe('launch request', () => {
  it('sets IMDSv2 with a hop limit of 2, so containers on the docker bridge get the role credentials', async () => {
    const b = make();
    const job = await launch(b, 'imds');
    expect(env.fake.runInputs[0]!.MetadataOptions).toEqual({
      HttpTokens: 'required',
      HttpEndpoint: 'enabled',
      HttpPutResponseHopLimit: 2,
    });
    expect(env.fake.instances.get(job.jobId)!.containerCredentials).toBe(true);
    // The fake's model: EC2's default hop limit leaves containers without credentials.
    expect(
      FakeAws.containerCredentials({ MinCount: 1, MaxCount: 1, MetadataOptions: { HttpTokens: 'required' } }),
    ).toBe(false);
  });

  it('network errors (EPROTO, ECONNRESET: $metadata but no HTTP status) are retried, not permanent', async () => {
    const b = make();
    env.fake.failNext('RunInstances', 1, () => networkError('EPROTO'));
    env.fake.failNext('RunInstances', 1, () => networkError('ECONNABORTED', 'socket aborted'));
    const [o] = await b.submit([request({ id: 'net' })]);
    expect(o).toMatchObject({ ok: true });
    expect(env.fake.calls.RunInstances).toBe(3);
    expect(env.fake.instances.size).toBe(1); // the same ClientToken each time

    env.fake.failNext('RunInstances', 10, () => networkError('ECONNRESET', 'socket hang up'));
    const [later] = await b.submit([request({ id: 'net2' })]);
    expect(later).toMatchObject({ ok: false, transient: true, maybeSubmitted: true });
  });
});

describe('startup_timeout_seconds also bounds running → first answered probe', () => {
  it('fails and terminates an instance that runs but never answers, with what to check', async () => {
    const b = make({ startup_timeout_seconds: 120 });
    const job = await launch(b, 'mute');
    await env.fake.start(job.jobId);
    const first = await b.status([job]);
    expect(first.get(job.jobId)).toMatchObject({ state: 'running' });
    env.clock += 60_000;
    expect((await b.status([job])).get(job.jobId)).toMatchObject({ state: 'running' });
    env.clock += 61_000;
    const st = (await b.status([job])).get(job.jobId)!;
    expect(st).toMatchObject({ state: 'failed', final: true });
    expect(st.reason).toMatch(/never answered a probe/);
    expect(st.reason).toMatch(/SSM agent/);
    expect(st.reason).toMatch(/ec2-instance-connect/);
    expect(env.fake.instances.get(job.jobId)!.State!.Name).toBe('shutting-down');
    await b.close();
  });
});
