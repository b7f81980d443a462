import {
  CancelJobCommand,
  DescribeJobsCommand,
  ListJobsCommand,
  SubmitJobCommand,
  TerminateJobCommand,
} from '@aws-sdk/client-batch';
import { BackendError } from '@scripthut/core';
import { describe, expect, it } from 'vitest';
import { awsError, FakeAws } from './fake-aws.js';
import { harness, request, tracked } from './helpers.js';

async function submitOk(h: ReturnType<typeof harness>, n = 1, t = {}) {
  const outs = await h.backend.submit(Array.from({ length: n }, (_, i) => request({ id: `t${i}`, ...t })));
  return outs.map((o) => {
    if (!o.ok) throw new Error(o.error);
    return o.jobId;
  });
}

describe('status', () => {
  it('follows a job through the Batch lifecycle', async () => {
    const h = harness();
    const [id] = await submitOk(h);
    const seen: string[] = [];
    for (let i = 0; i < 7; i++) {
      const s = (await h.backend.status([tracked(id!)])).get(id!)!;
      seen.push(`${s.rawState}:${s.state}${s.final ? ':final' : ''}`);
      h.fake.tick();
    }
    expect(seen).toEqual([
      'SUBMITTED:pending',
      'PENDING:pending',
      'RUNNABLE:pending',
      'STARTING:running',
      'RUNNING:running',
      'SUCCEEDED:completed:final',
      'SUCCEEDED:completed:final',
    ]);
    const done = (await h.backend.status([tracked(id!)])).get(id!)!;
    expect(done).toMatchObject({
      exitCode: 0,
      startedAt: expect.any(String),
      finishedAt: expect.any(String),
    });
  });

  it('uses statusReason (or the status word) as the pending reason', async () => {
    const h = harness();
    const [id] = await submitOk(h);
    h.fake.jobs.get(id!)!.statusReason = 'MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT';
    expect((await h.backend.status([tracked(id!)])).get(id!)).toMatchObject({
      state: 'pending',
      reason: 'MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT',
    });
    h.fake.jobs.get(id!)!.statusReason = undefined;
    expect((await h.backend.status([tracked(id!)])).get(id!)!.reason).toBe('SUBMITTED');
  });

  it('reports failures with exit code and reason, timeouts and OOM kills', async () => {
    const h = harness();
    const ids = await submitOk(h, 3);
    const byId = new Map(ids.map((id, i) => [id, i]));
    h.fake.outcome = (job) => {
      const i = byId.get(job.jobId!);
      if (i === 0) return { exitCode: 3 };
      if (i === 1) return { exitCode: 137, reason: 'Job attempt duration exceeded timeout' };
      return { exitCode: 137, containerReason: 'OutOfMemoryError: Container killed due to memory usage' };
    };
    h.fake.settle();
    const st = await h.backend.status(ids.map((id) => tracked(id)));
    expect(st.get(ids[0]!)).toMatchObject({
      state: 'failed',
      exitCode: 3,
      reason: 'Essential container in task exited',
      final: true,
    });
    expect(st.get(ids[1]!)).toMatchObject({ state: 'timeout', exitCode: 137, final: true });
    expect(st.get(ids[2]!)).toMatchObject({ state: 'out_of_memory', exitCode: 137 });
    expect(st.get(ids[2]!)!.reason).toContain('OutOfMemoryError');
  });

  it('describes all tracked jobs in chunks of 100, whatever queue they went to; unknown ids → unknown', async () => {
    const h = harness();
    const a = await submitOk(h, 130, { partition: 'gpu-q' });
    const b = await submitOk(h, 120);
    const all = [...a, ...b, 'missing-job-id'].map((id) => tracked(id));
    h.fake.settle();
    const st = await h.backend.status(all);
    expect(st.size).toBe(251);
    const sizes = h.mocks.batchMock
      .commandCalls(DescribeJobsCommand)
      .map((c) => c.args[0].input.jobs!.length);
    expect(sizes).toEqual([100, 100, 51]);
    expect([...a, ...b].every((id) => st.get(id)!.state === 'completed')).toBe(true);
    expect(st.get('missing-job-id')).toMatchObject({ state: 'unknown' });
    // one DescribeJobs per 100 jobs and nothing else
    expect(h.mocks.batchMock.commandCalls(ListJobsCommand)).toHaveLength(0);
  });

  it('throws a transient BackendError when DescribeJobs keeps failing, after retries', async () => {
    const h = harness({}, { retry: { maxAttempts: 3 } });
    const [id] = await submitOk(h);
    h.fake.failNext('DescribeJobs', 5, () => awsError('ServerException', 'boom', 500));
    const err = await h.backend.status([tracked(id!)]).catch((e) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect((err as BackendError).transient).toBe(true);
    expect(h.fake.calls.DescribeJobs).toBe(3);
    expect(h.backend.health()).toMatchObject({ connected: false });
    expect(h.backend.health().lastError).toContain('ServerException');
  });
});

describe('throttling', () => {
  it('retries throttled SubmitJob calls with capped, jittered backoff and the task still goes through', async () => {
    const h = harness({}, { retry: { maxAttempts: 8, baseDelayMs: 100, maxDelayMs: 400 } });
    h.fake.failNext('SubmitJob', 5);
    const [out] = await h.backend.submit([request()]);
    expect(out!.ok).toBe(true);
    expect(h.fake.calls.SubmitJob).toBe(6);
    expect(h.fake.jobs.size).toBe(1);
    expect(h.sleeps).toHaveLength(5);
    expect(h.sleeps.every((d) => d >= 0 && d <= 400)).toBe(true);
  });

  it('returns a transient outcome (never a failure) when throttling outlasts the retries', async () => {
    const h = harness({}, { retry: { maxAttempts: 3 } });
    h.fake.failNext('SubmitJob', 10);
    const [out] = await h.backend.submit([request()]);
    expect(out).toMatchObject({ ok: false, transient: true });
    expect(out!.ok === false && out!.error).toContain('TooManyRequestsException');
    expect(h.fake.jobs.size).toBe(0);
  });

  it('retries throttled DescribeJobs, RegisterJobDefinition and GetLogEvents', async () => {
    const h = harness();
    h.fake.failNext('DescribeJobDefinitions', 2, () => awsError('ThrottlingException', 'Rate exceeded', 400));
    h.fake.failNext('RegisterJobDefinition', 2);
    const [id] = await submitOk(h);
    h.fake.settle();
    h.fake.failNext('DescribeJobs', 3);
    expect((await h.backend.status([tracked(id!)])).get(id!)!.state).toBe('completed');
    h.fake.failNext('GetLogEvents', 2);
    const log = await h.backend.readLog(
      { jobId: id!, runId: 'r', taskId: 't0', path: null, stream: 'stdout', meta: {} },
      {},
    );
    expect(log.content).toContain('hello from');
  });

  it('adopts the job when SubmitJob answered 5xx after creating it (no duplicate)', async () => {
    const h = harness();
    h.fake.failNext('SubmitJob', 1, 'apply-then-500');
    const [out] = await h.backend.submit([request()]);
    expect(out!.ok).toBe(true);
    expect(h.fake.jobs.size).toBe(1);
    expect(out!.ok && out!.jobId).toBe([...h.fake.jobs.keys()][0]);
    expect(h.mocks.batchMock.commandCalls(SubmitJobCommand)).toHaveLength(1);
  });

  it('paces every SubmitJob, retry, CancelJob and TerminateJob through the rate limiter', async () => {
    // The token bucket's own pacing is tested with a fake clock in aws-common; here: that every
    // paced call waits for a token first, retries included.
    const events: string[] = [];
    const h = harness({}, { submitLimiter: { take: async () => void events.push('token') } });
    h.mocks.batchMock.on(SubmitJobCommand).callsFake(async (input) => {
      events.push('SubmitJob');
      return h.fake.run('SubmitJob', () => h.fake.submitJob(input));
    });
    h.fake.failNext('SubmitJob', 1);
    const outs = await h.backend.submit([request({ id: 'a' }), request({ id: 'b' })]);
    expect(outs.every((o) => o.ok)).toBe(true);
    expect(events.filter((e) => e === 'SubmitJob')).toHaveLength(3); // one throttled, retried
    expect(events.filter((e) => e === 'token')).toHaveLength(3);
    // Each SubmitJob had its own token before it was sent (calls may interleave).
    let tokens = 0;
    let sends = 0;
    for (const e of events) {
      if (e === 'token') tokens++;
      else expect(tokens).toBeGreaterThan(sends++);
    }
    events.length = 0;
    await h.backend.cancel([tracked(outs[0]!.ok ? outs[0]!.jobId : '')]);
    expect(events).toEqual(['token', 'token']);
  });
});

describe('cancel', () => {
  it('calls CancelJob then TerminateJob with the ScriptHut reason; the job reads as cancelled', async () => {
    const h = harness();
    const [queued, running] = await submitOk(h, 2);
    for (let i = 0; i < 4; i++) h.fake.tick();
    h.fake.jobs.get(queued!)!.status = 'RUNNABLE';
    await h.backend.cancel([tracked(queued!), tracked(running!)]);
    const cancels = h.mocks.batchMock.commandCalls(CancelJobCommand).map((c) => c.args[0].input);
    const terms = h.mocks.batchMock.commandCalls(TerminateJobCommand).map((c) => c.args[0].input);
    expect(cancels).toEqual(
      expect.arrayContaining([
        { jobId: queued, reason: 'Cancelled via ScriptHut' },
        { jobId: running, reason: 'Cancelled via ScriptHut' },
      ]),
    );
    expect(terms).toHaveLength(2);
    const st = await h.backend.status([tracked(queued!), tracked(running!)]);
    expect(st.get(queued!)!.state).toBe('cancelled');
    expect(st.get(running!)!.state).toBe('cancelled');
  });

  it('is best effort: an error on one job does not stop the others', async () => {
    const h = harness();
    const [a] = await submitOk(h, 1);
    await h.backend.cancel([tracked('nope'), tracked(a!)]);
    expect(h.fake.jobs.get(a!)!.status).toBe('FAILED');
    expect(h.warnings.some((w) => w.includes('nope'))).toBe(true);
  });
});

describe('findByTags', () => {
  it('finds jobs on any queue by exact job name', async () => {
    const h = harness();
    const r1 = request({ id: 'x', partition: 'gpu-q' });
    const r2 = request({ id: 'y' });
    const outs = await h.backend.submit([r1, r2]);
    const found = await h.backend.findByTags([r1.tag, r2.tag, 'shab12cd34zzz']);
    expect(found).toEqual(
      new Map([
        [r1.tag, outs[0]!.ok ? outs[0]!.jobId : ''],
        [r2.tag, outs[1]!.ok ? outs[1]!.jobId : ''],
      ]),
    );
  });

  it('after a restart (fresh backend) searches every queue, with one prefix query per queue for many tags', async () => {
    const fake = new FakeAws();
    const h1 = harness({}, {}, fake);
    const reqs = Array.from({ length: 8 }, (_, i) =>
      request({ id: `t${i}`, partition: i % 2 ? 'gpu-q' : 'normal' }),
    );
    const outs = await h1.backend.submit(reqs);
    const h2 = harness({}, {}, fake);
    const found = await h2.backend.findByTags(reqs.map((r) => r.tag));
    expect(found.size).toBe(8);
    reqs.forEach((r, i) => {
      expect(found.get(r.tag)).toBe(outs[i]!.ok ? outs[i]!.jobId : null);
    });
    const listCalls = h2.mocks.batchMock.commandCalls(ListJobsCommand).map((c) => c.args[0].input);
    expect(listCalls).toHaveLength(2);
    expect(
      listCalls.every((c) => c.filters?.[0]?.name === 'JOB_NAME' && c.filters[0].values?.[0]?.endsWith('*')),
    ).toBe(true);
  });
});
