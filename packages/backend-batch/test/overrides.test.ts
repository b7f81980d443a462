/**
 * The 8 KiB container-overrides limit: Batch accepts the SubmitJob, and only when the job is placed
 * does ECS refuse it ("Container Overrides length must be at most 8192"). The backend measures the
 * JSON of the overrides before submitting, compresses the script when it is too big, and fails the
 * task at once, naming it, when even that does not fit.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { SubmitJobCommand } from '@aws-sdk/client-batch';
import { describe, expect, it } from 'vitest';
import { CONTAINER_OVERRIDES_BUDGET, containerOverridesSize } from '../src/index.js';
import { OVERRIDES_TOO_LONG } from './fake-aws.js';
import { harness, request, tracked } from './helpers.js';

function inputs(h: ReturnType<typeof harness>) {
  return h.mocks.batchMock.commandCalls(SubmitJobCommand).map((c) => c.args[0].input);
}

/** Runs a job's command with real bash, its environment set, and returns stdout. */
function runCommand(command: string[], env: { name?: string; value?: string }[] = []) {
  const res = spawnSync(command[0]!, command.slice(1), {
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH,
      HOME: '/tmp',
      ...Object.fromEntries(env.map((e) => [e.name!, e.value!])),
    },
  });
  return { stdout: res.stdout, stderr: res.stderr, status: res.status };
}

const bigCommand = () =>
  Array.from({ length: 400 }, (_, i) => `echo "step ${i}: $(( ${i} * 2 )) done"`).join('\n');

describe('container overrides size', () => {
  it('a script over the limit is compressed, the job runs, and the command still runs the same script', async () => {
    const h = harness();
    const req = request({ id: 'big', command: bigCommand() });
    const [out] = await h.backend.submit([req]);
    expect(out).toMatchObject({ ok: true });
    const [input] = inputs(h);
    const overridesJson = JSON.stringify(input!.containerOverrides);
    expect(Buffer.byteLength(overridesJson)).toBeLessThanOrEqual(CONTAINER_OVERRIDES_BUDGET);
    expect(containerOverridesSize(input!.containerOverrides!)).toBe(Buffer.byteLength(overridesJson));
    // The stored script is the readable one; the command carries it compressed.
    const script = out!.ok ? out!.script : '';
    expect(script).toContain('echo "step 399');
    expect(input!.containerOverrides!.command![2]).not.toContain('step 399');
    expect(out).toMatchObject({ meta: { scriptCompressed: true } });

    const id = out!.ok ? out!.jobId : '';
    h.fake.settle();
    expect((await h.backend.status([tracked(id)])).get(id)).toMatchObject({ state: 'completed' });

    // The compressed command, run by real bash, does what the plain script does.
    const env = input!.containerOverrides!.environment!;
    const packed = runCommand(input!.containerOverrides!.command!, env);
    const plain = runCommand(['bash', '-c', script], env);
    expect(packed.status).toBe(plain.status);
    // The job script prints its start and end time (to the second): two runs that straddle a
    // second differ there and only there, so the times are compared by shape, the rest exactly.
    const times = /^(Started|Finished): \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/gm;
    expect(packed.stdout.match(times)).toHaveLength(2);
    expect(packed.stdout.replace(times, '$1: <time>')).toBe(plain.stdout.replace(times, '$1: <time>'));
    expect(packed.stdout).toContain('step 399: 798 done');
  });

  it('a script under the limit is sent as is', async () => {
    const h = harness();
    const req = request({ command: 'echo small' });
    const [out] = await h.backend.submit([req]);
    expect(inputs(h)[0]!.containerOverrides!.command).toEqual(['bash', '-c', out!.ok ? out!.script : '']);
    expect(out).toMatchObject({ meta: { scriptCompressed: false } });
  });

  it('fails the task at once, naming it and the largest variables, when even compressed it does not fit', async () => {
    const h = harness();
    const env = { SCRIPTHUT_RUN_ID: 'ab12cd34', BLOB: 'x'.repeat(9000), SMALL: 'y' };
    const [out] = await h.backend.submit([request({ id: 'envy', name: 'Envy' }, { env })]);
    expect(out).toMatchObject({ ok: false, transient: false });
    const error = out!.ok ? '' : out!.error;
    expect(error).toMatch(/task "envy"/);
    expect(error).toMatch(/BLOB \(9\d{3} bytes\)/);
    expect(error).toContain(String(CONTAINER_OVERRIDES_BUDGET));
    expect(inputs(h)).toHaveLength(0);

    const random = randomBytes(12_000).toString('base64');
    const [incompressible] = await h.backend.submit([request({ id: 'noise', command: `echo ${random}` })]);
    expect(incompressible).toMatchObject({ ok: false, transient: false });
    expect(incompressible!.ok ? '' : incompressible!.error).toMatch(/task "noise".*compressed/);
    expect(inputs(h)).toHaveLength(0);
  });

  it('the fake refuses what the backend would once have sent (the limit counts what Batch adds)', async () => {
    // Below our budget but above 8192 once Batch adds its AWS_BATCH_* variables: that is why the
    // budget keeps a reserve. Submitted directly, the job fails after SubmitJob accepted it.
    const h = harness();
    await h.backend.submit([request()]);
    const def = inputs(h)[0]!.jobDefinition!;
    const direct = await h.mocks.batch.send(
      new SubmitJobCommand({
        jobName: 'direct',
        jobQueue: 'default-q',
        jobDefinition: def,
        containerOverrides: { command: ['bash', '-c', `echo ${'z'.repeat(8150)}`] },
      }),
    );
    expect(direct.jobId).toBeTruthy();
    h.fake.settle();
    const st = (await h.backend.status([tracked(direct.jobId!)])).get(direct.jobId!);
    expect(st).toMatchObject({ state: 'failed', final: true });
    expect(st!.reason).toContain(OVERRIDES_TOO_LONG);
  });
});
