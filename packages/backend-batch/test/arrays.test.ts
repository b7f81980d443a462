/**
 * Job arrays on AWS Batch against the stateful fake: one SubmitJob per array, children
 * `<id>:<i>` each running its own task's script (run for real with bash), per-element status, log
 * and cancel, the overrides budget, and the array found by its tag.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SubmitJobCommand } from '@aws-sdk/client-batch';
import type { SubmitRequest } from '@scripthut/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { batchArrayKey, renderBatchArrayScript } from '../src/array-script.js';
import { BATCH_MAX_ARRAY_SIZE, batchElementJobId, parseBatchElementJobId } from '../src/arrays.js';
import { cancelTargets } from '../src/backend.js';
import { type Harness, harness, request, tracked } from './helpers.js';
import { runContainers } from './run-container.js';

/** `n` requests placed as the elements of one array (tag of element 0). */
function arrayOf(
  n: number,
  command: (i: number) => string,
  over: Partial<SubmitRequest> = {},
): SubmitRequest[] {
  const rs = Array.from({ length: n }, (_, i) =>
    request(
      { id: `t${i}`, name: `T${i}`, command: command(i) },
      { env: { SCRIPTHUT_RUN_ID: 'ab12cd34', SCRIPTHUT_TASK_ID: `t${i}`, SHARED: 'same' }, ...over },
    ),
  );
  const tag = rs[0]!.tag;
  rs.forEach((r, index) => {
    r.array = { tag, index, size: n };
  });
  return rs;
}

let home: string;
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'batch-arrays-'));
});
afterEach(() => rmSync(home, { recursive: true, force: true }));

function arrayHarness(): Harness {
  const h = harness({ array: 'auto' });
  h.fake.outcome = runContainers(h.fake, home);
  return h;
}

describe('Batch array ids and keys', () => {
  it('element ids are <array job id>:<index>', () => {
    expect(batchElementJobId('0000-ab', 7)).toBe('0000-ab:7');
    expect(parseBatchElementJobId('0000-ab:7')).toEqual({ arrayJobId: '0000-ab', index: 7 });
    expect(parseBatchElementJobId('0000-ab')).toBeNull();
    expect(() => batchElementJobId('a b', 1)).toThrow(/not an AWS Batch array job id/);
    expect(() => batchElementJobId('abc', BATCH_MAX_ARRAY_SIZE)).toThrow();
  });

  it('keys: equal for tasks that differ in command and env, apart when secrets differ, null when too large', () => {
    const a = request({ id: 'a', command: 'echo a' }, { env: { X: '1' } });
    const b = request({ id: 'b', command: 'echo b' }, { env: { X: '2' } });
    expect(batchArrayKey(a)).not.toBeNull();
    expect(batchArrayKey(a)).toBe(batchArrayKey(b));
    const s1 = request({ id: 'c' }, { env: { TOKEN: 'one' }, secretEnvNames: ['TOKEN'] });
    const s2 = request({ id: 'd' }, { env: { TOKEN: 'two' }, secretEnvNames: ['TOKEN'] });
    const s3 = request({ id: 'e' }, { env: { TOKEN: 'one' }, secretEnvNames: ['TOKEN'] });
    expect(batchArrayKey(s1)).not.toBe(batchArrayKey(s2));
    expect(batchArrayKey(s1)).toBe(batchArrayKey(s3));
    expect(batchArrayKey(s1)).not.toContain('one'); // a digest, never the value
    expect(batchArrayKey(request({ command: 'x'.repeat(4000) }))).toBeNull();
  });

  it('the dispatch: shared variables once in the environment, differing ones exported per element, secrets never in the command', () => {
    const rs = arrayOf(2, (i) => `echo ${i}`, { secretEnvNames: ['TOKEN'] });
    for (const r of rs) r.env = { ...r.env, TOKEN: 's3cret' };
    const out = renderBatchArrayScript(rs, rs[0]!.tag);
    expect(out.environment.map((e) => e.name).sort()).toEqual(['SCRIPTHUT_RUN_ID', 'SHARED', 'TOKEN']);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a bash parameter expansion
    expect(out.script).toContain('case "${AWS_BATCH_JOB_ARRAY_INDEX:-}" in');
    expect(out.script).toContain('export SCRIPTHUT_TASK_ID=t1\n');
    expect(out.script).not.toContain('s3cret');
    expect(out.elementScripts[1]).toContain('element 1 (AWS_BATCH_JOB_ARRAY_INDEX=1)');
    expect(out.elementScripts[1]).toContain('echo 1');
    expect(out.elementScripts[1]).not.toContain('echo 0');
    // A secret that differs between elements is refused (the key keeps such tasks apart).
    rs[1]!.env.TOKEN = 'other';
    expect(() => renderBatchArrayScript(rs, rs[0]!.tag)).toThrow(/secret variable TOKEN differs/);
  });
});

describe('Batch array submission', () => {
  it('one SubmitJob with arrayProperties; each child runs its own task, with its own status, exit code and log', async () => {
    const h = arrayHarness();
    const rs = arrayOf(
      4,
      (i) =>
        `echo "task $SCRIPTHUT_TASK_ID index $AWS_BATCH_JOB_ARRAY_INDEX shared $SHARED"; exit ${i === 2 ? 3 : 0}`,
    );
    const outcomes = await h.backend.arrays!.submitArray(rs, { throttle: null });
    const submits = h.mocks.batchMock.commandCalls(SubmitJobCommand);
    expect(submits).toHaveLength(1);
    const input = submits[0]!.args[0].input;
    expect(input.arrayProperties).toEqual({ size: 4 });
    expect(input.jobName).toBe(rs[0]!.tag);
    const arrayId = (outcomes[0] as { jobId: string }).jobId.split(':')[0]!;
    expect(outcomes.map((o) => (o.ok ? o.jobId : o.error))).toEqual(
      [0, 1, 2, 3].map((i) => `${arrayId}:${i}`),
    );
    expect(outcomes[1]).toMatchObject({ meta: { arrayJobId: arrayId, arrayIndex: 1, arraySize: 4 } });

    h.fake.settle(30);
    const jobs = outcomes.map((o, i) => tracked((o as { jobId: string }).jobId, `t${i}`));
    const before = h.fake.calls.DescribeJobs ?? 0;
    const st = await h.backend.status(jobs);
    expect((h.fake.calls.DescribeJobs ?? 0) - before).toBe(1); // one batched call for the elements
    expect(jobs.map((j) => st.get(j.jobId)!.state)).toEqual([
      'completed',
      'completed',
      'failed',
      'completed',
    ]);
    expect(st.get(jobs[2]!.jobId)!.exitCode).toBe(3);
    // The parent summarises its children as real Batch does.
    const parent = h.fake.jobs.get(arrayId)!;
    expect(parent.status).toBe('FAILED');
    expect(parent.arrayProperties?.statusSummary).toEqual({ SUCCEEDED: 3, FAILED: 1 });

    for (const [i, j] of jobs.entries()) {
      const log = await h.backend.readLog(
        { jobId: j.jobId, runId: j.runId, taskId: j.taskId, path: null, stream: 'stdout', meta: {} },
        {},
      );
      expect(log.content).toContain(`task t${i} index ${i} shared same`);
      expect(log.content).toContain(`=== ScriptHut Task: T${i} ===`);
      for (const other of [0, 1, 2, 3].filter((x) => x !== i))
        expect(log.content).not.toContain(`task t${other} `);
    }
  });

  it('finds the array by its tag after a lost answer, and adopts it instead of submitting twice', async () => {
    const h = arrayHarness();
    const rs = arrayOf(3, (i) => `echo ${i}`);
    // The job is created but the answer is lost (a 500 after the fact).
    h.fake.failNext('SubmitJob', 1, 'apply-then-500');
    const outcomes = await h.backend.arrays!.submitArray(rs, { throttle: null });
    expect(h.fake.jobs.size).toBe(1);
    const arrayId = [...h.fake.jobs.keys()][0]!;
    expect(outcomes.map((o) => o.ok && o.jobId)).toEqual([0, 1, 2].map((i) => `${arrayId}:${i}`));
    const found = await h.backend.findByTags([rs[0]!.tag, 'shnothere0000']);
    expect(found.get(rs[0]!.tag)).toBe(arrayId);
    expect(h.backend.arrays!.elementJobId(found.get(rs[0]!.tag)!, 2)).toBe(`${arrayId}:2`);
  });

  it('a group too large for the container overrides is not submitted; the limit drops so that smaller arrays fit', async () => {
    const h = arrayHarness();
    // Commands that do not compress well: random-looking text per task.
    const noise = (i: number) =>
      Array.from({ length: 60 }, (_, k) => ((i * 7919 + k * 104729) % 1_000_003).toString(36)).join('');
    const rs = arrayOf(40, (i) => `echo ${noise(i)}`);
    expect(await h.backend.arrays!.maxSize()).toBe(1000);
    const outcomes = await h.backend.arrays!.submitArray(rs, { throttle: null });
    expect(h.mocks.batchMock.commandCalls(SubmitJobCommand)).toHaveLength(0);
    expect(outcomes.every((o) => !o.ok && o.transient && !o.maybeSubmitted)).toBe(true);
    expect((outcomes[0] as { error: string }).error).toMatch(
      /does not fit in AWS Batch's container overrides/,
    );
    const limit = await h.backend.arrays!.maxSize();
    expect(limit).toBeGreaterThanOrEqual(2);
    expect(limit).toBeLessThan(40);
    // An array of that many of these tasks goes through and every child still runs (ECS accepts it).
    const smaller = arrayOf(limit, (i) => `echo ${noise(i)}`);
    const ok = await h.backend.arrays!.submitArray(smaller, { throttle: null });
    expect(ok.every((o) => o.ok)).toBe(true);
    h.fake.settle(30);
    const st = await h.backend.status(ok.map((o) => tracked((o as { jobId: string }).jobId)));
    expect([...st.values()].every((s) => s.state === 'completed')).toBe(true);
  });

  it('cancels one element alone, or the whole array with one call pair on the array job', async () => {
    const h = arrayHarness();
    h.fake.outcome = () => ({ exitCode: 0, hold: true });
    const rs = arrayOf(3, (i) => `echo ${i}`);
    const outcomes = await h.backend.arrays!.submitArray(rs, { throttle: null });
    for (let i = 0; i < 6; i++) h.fake.tick();
    const jobs = outcomes
      .map((o, i) => tracked((o as { jobId: string }).jobId, `t${i}`))
      .map((j, i) => ({ ...j, meta: (outcomes[i] as { meta: Record<string, unknown> }).meta }));
    expect(cancelTargets([jobs[1]!])).toEqual([jobs[1]!.jobId]);
    await h.backend.cancel([jobs[1]!]);
    let st = await h.backend.status(jobs);
    expect(jobs.map((j) => st.get(j.jobId)!.state)).toEqual(['running', 'cancelled', 'running']);

    const arrayId = jobs[0]!.meta.arrayJobId as string;
    expect(cancelTargets(jobs)).toEqual([arrayId]);
    const calls = h.fake.calls.TerminateJob ?? 0;
    await h.backend.cancel(jobs);
    expect((h.fake.calls.TerminateJob ?? 0) - calls).toBe(1);
    st = await h.backend.status(jobs);
    expect(jobs.map((j) => st.get(j.jobId)!.state)).toEqual(['cancelled', 'cancelled', 'cancelled']);
    expect(h.fake.jobs.get(arrayId)!.status).toBe('FAILED');
  });
});

describe('the Batch fake models array jobs as AWS documents them', () => {
  it('size 2..10,000; children appear after the parent is evaluated; ListJobs lists parents only', async () => {
    const h = harness();
    await expect(
      h.mocks.batch.send(
        new SubmitJobCommand({
          jobName: 'x',
          jobQueue: 'default-q',
          jobDefinition: 'nope',
          arrayProperties: { size: 1 },
        }),
      ),
    ).rejects.toThrow();
    h.fake.registerJobDefinition({
      jobDefinitionName: 'd',
      type: 'container',
      containerProperties: { image: 'i' },
    });
    const sub = (size: number) =>
      h.fake.submitJob({
        jobName: 'arr',
        jobQueue: 'default-q',
        jobDefinition: 'd',
        arrayProperties: { size },
      });
    expect(() => sub(1)).toThrow(/between 2 and 10000/);
    expect(() => sub(10_001)).toThrow(/between 2 and 10000/);
    const { jobId } = sub(3);
    expect(h.fake.describeJobs({ jobs: [`${jobId}:0`] }).jobs).toHaveLength(0);
    h.fake.tick();
    const [parent] = h.fake.describeJobs({ jobs: [jobId!] }).jobs;
    expect(parent).toMatchObject({
      status: 'PENDING',
      arrayProperties: { size: 3, statusSummary: { SUBMITTED: 3 } },
    });
    const [child] = h.fake.describeJobs({ jobs: [`${jobId}:1`] }).jobs;
    expect(child).toMatchObject({ jobId: `${jobId}:1`, arrayProperties: { index: 1 } });
    const listed = h.fake.listJobs({
      jobQueue: 'default-q',
      filters: [{ name: 'JOB_NAME', values: ['arr'] }],
    });
    expect(listed.jobSummaryList.map((j) => j.jobId)).toEqual([jobId]);
    const kids = h.fake.listJobs({
      jobQueue: 'default-q',
      arrayJobId: jobId,
      filters: [{ name: 'JOB_NAME', values: ['arr'] }],
    });
    expect(kids.jobSummaryList).toHaveLength(3);
    h.fake.settle(30);
    expect(h.fake.jobs.get(jobId!)!.status).toBe('SUCCEEDED');
    expect(h.fake.jobs.get(jobId!)!.arrayProperties?.statusSummary).toEqual({ SUCCEEDED: 3 });
  });
});
