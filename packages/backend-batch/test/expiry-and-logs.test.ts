/**
 * What AWS forgets and where logs really are: DescribeJobs stops returning a finished job after
 * about a day; a retried job's running attempt is in `container`, not in `attempts[]`; the log group
 * is the job definition's; CloudWatch may answer empty pages before the end of a stream.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SubmitJobCommand } from '@aws-sdk/client-batch';
import { GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import type { LogRequest, TrackedJob } from '@scripthut/core';
import { afterAll, describe, expect, it } from 'vitest';
import { FakeAws } from './fake-aws.js';
import { harness, request } from './helpers.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'batch-data-'));
  dirs.push(d);
  return d;
}

const DAY = 24 * 3600 * 1000;

function job(jobId: string, submittedAtMs: number, over: Partial<TrackedJob> = {}): TrackedJob {
  return {
    jobId,
    runId: 'ab12cd34',
    taskId: 'build',
    tag: 'x',
    stdoutPath: null,
    stderrPath: null,
    submittedAt: new Date(submittedAtMs).toISOString(),
    lastState: null,
    meta: {},
    ...over,
  };
}
function logReq(jobId: string, meta: Record<string, unknown> = {}): LogRequest {
  return { jobId, runId: 'ab12cd34', taskId: 'build', path: null, stream: 'stdout', meta };
}

describe('jobs that expired from DescribeJobs', () => {
  it('the fake forgets a finished job after a day', async () => {
    const h = harness();
    const [out] = await h.backend.submit([request()]);
    const id = out!.ok ? out!.jobId : '';
    h.fake.settle();
    h.fake.advance(DAY + 1000);
    expect(h.fake.describeJobs({ jobs: [id] }).jobs).toEqual([]);
  });

  it('answers from the record made when the job was first seen finished, also after a restart', async () => {
    const fake = new FakeAws();
    const dir = dataDir();
    const h = harness({}, { dataDir: dir }, fake);
    fake.outcome = () => ({ exitCode: 3, logLines: ['working', 'it broke'] });
    const t0 = fake.now;
    const [out] = await h.backend.submit([request()]);
    const id = out!.ok ? out!.jobId : '';
    fake.settle();
    const seen = (await h.backend.status([job(id, t0)])).get(id)!;
    expect(seen).toMatchObject({ state: 'failed', exitCode: 3, final: true });

    fake.advance(2 * DAY);
    const later = (await h.backend.status([job(id, t0)])).get(id)!;
    expect(later).toEqual(seen);
    const log = await h.backend.readLog(logReq(id, out!.ok ? out!.meta : {}), {});
    expect(log.content).toBe('working\nit broke\n');

    // A new process (ScriptHut restarted) still knows, from the data dir.
    const again = harness({}, { dataDir: dir }, fake);
    expect((await again.backend.status([job(id, t0)])).get(id)).toEqual(seen);
    expect((await again.backend.readLog(logReq(id), {})).content).toBe('working\nit broke\n');
  });

  it('a job never seen finished is reported as expired from DescribeJobs, never lost or not started', async () => {
    const h = harness({}, { dataDir: dataDir() });
    const t0 = h.fake.now;
    const [out] = await h.backend.submit([request()]);
    const id = out!.ok ? out!.jobId : '';
    h.fake.settle(); // finished while ScriptHut was not looking...
    h.fake.advance(2 * DAY); // ...and forgotten by AWS
    const st = (await h.backend.status([job(id, t0)])).get(id)!;
    expect(st).toMatchObject({ state: 'failed', final: true });
    expect(st.reason).toMatch(/expired from DescribeJobs/);
    const log = await h.backend.readLog(logReq(id), {});
    expect(log.missing).toBe(true);
    expect(log.note).toMatch(/expired from DescribeJobs/);
    expect(log.note).not.toMatch(/not started/);
  });

  it('a job missing shortly after submission is unknown (the engine decides), not expired', async () => {
    const h = harness();
    const st = (await h.backend.status([job('00000000-0000-4000-8000-999999999999', h.fake.now)])).get(
      '00000000-0000-4000-8000-999999999999',
    )!;
    expect(st.state).toBe('unknown');
  });
});

describe('logs of retried jobs, log groups and empty pages', () => {
  it('always sends retryStrategy.attempts, so a definition cannot add retries the config did not ask for', async () => {
    const fake = new FakeAws();
    fake.registerJobDefinition({
      jobDefinitionName: 'retrying',
      type: 'container',
      retryStrategy: { attempts: 3 },
      containerProperties: { image: 'img:1', command: ['true'] },
    });
    const h = harness({ job_definition: 'retrying' }, {}, fake);
    fake.outcome = () => ({ exitCode: 1 });
    const [out] = await h.backend.submit([request()]);
    const input = h.mocks.batchMock.commandCalls(SubmitJobCommand)[0]!.args[0].input;
    expect(input.retryStrategy).toEqual({ attempts: 1 });
    fake.settle(40);
    const id = out!.ok ? out!.jobId : '';
    expect(fake.jobs.get(id)!.attempts).toHaveLength(1);
  });

  it('during a retry reads the running attempt, which is in container, not in attempts[]', async () => {
    const h = harness({ retry_attempts: 2 });
    h.fake.outcome = (j) =>
      (j.attempts ?? []).length === 0
        ? { exitCode: 1, logLines: ['attempt 1 failed'] }
        : { exitCode: 0, logLines: ['attempt 2 running'] };
    const [out] = await h.backend.submit([request()]);
    const id = out!.ok ? out!.jobId : '';
    for (let i = 0; i < 5; i++) h.fake.tick(); // attempt 1 ends → RUNNABLE
    for (let i = 0; i < 2; i++) h.fake.tick(); // attempt 2 STARTING → RUNNING
    const detail = h.fake.jobs.get(id)!;
    expect(detail.status).toBe('RUNNING');
    expect(detail.attempts).toHaveLength(1);
    const log = await h.backend.readLog(logReq(id), {});
    expect(log.content).toBe('attempt 2 running\n');
  });

  it('reads from the log group of the job definition (locked and revisions modes)', async () => {
    const fake = new FakeAws();
    fake.registerJobDefinition({
      jobDefinitionName: 'custom-logs',
      type: 'container',
      containerProperties: {
        image: 'img:1',
        command: ['true'],
        logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': '/team/batch' } },
      },
    });
    fake.outcome = () => ({ exitCode: 0, logLines: ['in the team group'] });
    for (const mode of ['locked', 'revisions'] as const) {
      const h = harness({ job_definition: 'custom-logs', job_definition_mode: mode }, {}, fake);
      const [out] = await h.backend.submit([request({ image: mode === 'revisions' ? 'img:2' : null })]);
      expect(out).toMatchObject({ ok: true, meta: { logGroup: '/team/batch' } });
      const id = out!.ok ? out!.jobId : '';
      fake.settle();
      const log = await h.backend.readLog(logReq(id, out!.ok ? out!.meta : {}), {});
      expect(log.content).toBe('in the team group\n');
      const groups = h.mocks.logsMock
        .commandCalls(GetLogEventsCommand)
        .map((c) => c.args[0].input.logGroupName);
      expect(new Set(groups)).toEqual(new Set(['/team/batch']));
    }
  });

  it('an empty page is not the end of the stream: paging stops when the token comes back unchanged', async () => {
    const h = harness();
    h.fake.logPageSize = 2;
    h.fake.logEmptyPages = true;
    h.fake.outcome = () => ({ exitCode: 0, logLines: ['a', 'b', 'c', 'd', 'e'] });
    const [out] = await h.backend.submit([request()]);
    const id = out!.ok ? out!.jobId : '';
    h.fake.settle();
    const log = await h.backend.readLog(logReq(id), {});
    expect(log.content).toBe('a\nb\nc\nd\ne\n');
    const next = await h.backend.readLog(logReq(id), { nextToken: log.nextToken, offset: log.nextOffset });
    expect(next.content).toBe('');
  });
});
