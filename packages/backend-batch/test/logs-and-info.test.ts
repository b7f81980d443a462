import { GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { BackendError } from '@scripthut/core';
import { describe, expect, it } from 'vitest';
import { harness, request } from './helpers.js';

const logReq = (jobId: string | null, stream: 'stdout' | 'stderr' = 'stdout') => ({
  jobId,
  runId: 'r',
  taskId: 't',
  path: null,
  stream,
  meta: {},
});

async function startedJob(lines: string[]) {
  const h = harness();
  h.fake.logPageSize = 3;
  h.fake.outcome = () => ({ exitCode: 0, logLines: lines });
  const [out] = await h.backend.submit([request()]);
  if (!out!.ok) throw new Error('submit failed');
  for (let i = 0; i < 4; i++) h.fake.tick(); // → RUNNING, logs written
  return { h, jobId: out!.jobId };
}

describe('readLog', () => {
  it('pages through the whole stream with nextForwardToken and returns the token for follow', async () => {
    const lines = Array.from({ length: 10 }, (_, i) => `line ${i}`);
    const { h, jobId } = await startedJob(lines);
    const chunk = await h.backend.readLog(logReq(jobId), {});
    expect(chunk.content).toBe(lines.map((l) => `${l}\n`).join(''));
    expect(chunk.nextOffset).toBe(Buffer.byteLength(chunk.content));
    expect(chunk.nextToken).toBe('f/10');
    const calls = h.mocks.logsMock.commandCalls(GetLogEventsCommand).map((c) => c.args[0].input);
    expect(calls[0]).toEqual({
      logGroupName: '/aws/batch/job',
      logStreamName: expect.stringMatching(/\/default\//),
      startFromHead: true,
    });
    expect(calls.length).toBeGreaterThanOrEqual(4); // 3+3+3+1 events, then the end-of-stream page

    // follow: only what was appended since
    h.fake.appendLog(calls[0]!.logStreamName!, ['more 1', 'more 2']);
    const next = await h.backend.readLog(logReq(jobId), {
      nextToken: chunk.nextToken,
      offset: chunk.nextOffset,
    });
    expect(next.content).toBe('more 1\nmore 2\n');
    expect(next.nextOffset).toBe(chunk.nextOffset + Buffer.byteLength('more 1\nmore 2\n'));
    expect(next.nextToken).toBe('f/12');
    const idle = await h.backend.readLog(logReq(jobId), { nextToken: next.nextToken });
    expect(idle.content).toBe('');
    expect(idle.nextToken).toBe('f/12');
  });

  it('tails with startFromHead false and a limit, trimmed to tailBytes', async () => {
    const lines = Array.from({ length: 10 }, (_, i) => `line ${i}`);
    const { h, jobId } = await startedJob(lines);
    const tail = await h.backend.readLog(logReq(jobId), { tailBytes: 14 });
    expect(tail.content).toBe('line 8\nline 9\n');
    const call = h.mocks.logsMock.commandCalls(GetLogEventsCommand)[0]!.args[0].input;
    expect(call).toMatchObject({ startFromHead: false, limit: 14 });
    expect(tail.nextToken).toBe('f/10');
  });

  it('honours a byte offset without a token and caps by maxBytes', async () => {
    const { h, jobId } = await startedJob(['aaaa', 'bbbb', 'cccc', 'dddd', 'eeee']);
    const part = await h.backend.readLog(logReq(jobId), { offset: 7 });
    expect(part.content).toBe('bb\ncccc\ndddd\neeee\n'); // 'aaaa\nbb' skipped
    expect(part.nextOffset).toBe(25);
    const capped = await h.backend.readLog(logReq(jobId), { maxBytes: 5 });
    expect(capped.content).toBe('aaaa\nbbbb\ncccc\n'); // stops after the page that crossed the cap
    expect(capped.nextToken).toBe('f/3');
  });

  it('returns a note for stderr (merged into the output stream) and missing before the job starts', async () => {
    const h = harness();
    const [out] = await h.backend.submit([request()]);
    const jobId = out!.ok ? out!.jobId : '';
    const err = await h.backend.readLog(logReq(jobId, 'stderr'), {});
    expect(err.note).toMatch(/stderr is merged into the output stream/);
    expect(err.content).toBe('');
    const early = await h.backend.readLog(logReq(jobId), {});
    expect(early).toMatchObject({ content: '', missing: true });
    expect(h.mocks.logsMock.commandCalls(GetLogEventsCommand)).toHaveLength(0);
  });
});

describe('readFile, clusterInfo, commandRunner, health', () => {
  it('readFile is not supported: permanent BackendError with a clear message', async () => {
    const h = harness();
    const err = await h.backend.readFile('tasks.json', '/work').catch((e) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect((err as BackendError).transient).toBe(false);
    expect((err as Error).message).toMatch(/generates_source is not supported on Batch/);
  });

  it('clusterInfo sums maxvCpus of the compute environments behind the used queues', async () => {
    const h = harness();
    let info = await h.backend.clusterInfo();
    expect(info.cpusTotal).toBe(256);
    expect(info.partitions).toEqual([
      {
        name: 'default-q',
        isDefault: true,
        state: 'ENABLED/VALID',
        cpusTotal: 256,
        cpusAllocated: 0,
        cpusIdle: 256,
      },
    ]);
    await h.backend.submit([request({ partition: 'gpu-q' })]);
    info = await h.backend.clusterInfo();
    expect(info.cpusTotal).toBe(256 + 64); // ce-default counted once
    expect(info.partitions.find((p) => p.name === 'gpu-q')!.cpusTotal).toBe(320);
    expect(info.facts).toMatchObject({ region: 'us-east-1', jobDefinitionMode: 'auto' });
  });

  it('commandRunner runs workflow commands locally (the runner itself is tested in aws-common)', async () => {
    const r = harness().backend.commandRunner();
    expect(r.remote).toBe(false);
    expect(await r.exec('echo "$PPID" >/dev/null; echo local')).toMatchObject({
      stdout: 'local\n',
      exitCode: 0,
    });
    // the backend's commandTimeoutMs applies
    const short = harness({}, { commandTimeoutMs: 100 }).backend.commandRunner();
    expect((await short.exec('sleep 30')).exitCode).toBe(124);
  });

  it('health names the region and queue and never includes credentials', () => {
    const h = harness();
    expect(h.backend.health()).toEqual({
      connected: true,
      lastError: null,
      endpoint: 'AWS Batch us-east-1 (queue default-q)',
    });
    expect(JSON.stringify(h.backend.health())).not.toContain('AKIA');
  });
});
