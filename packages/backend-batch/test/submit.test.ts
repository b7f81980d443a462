import { RegisterJobDefinitionCommand, SubmitJobCommand } from '@aws-sdk/client-batch';
import { describe, expect, it } from 'vitest';
import { autoDefinitionName, crossAccountRemedy } from '../src/index.js';
import { awsError, FakeAws } from './fake-aws.js';
import { harness, request } from './helpers.js';

function submitInputs(h: ReturnType<typeof harness>) {
  return h.mocks.batchMock.commandCalls(SubmitJobCommand).map((c) => c.args[0].input);
}
function registerInputs(h: ReturnType<typeof harness>) {
  return h.mocks.batchMock.commandCalls(RegisterJobDefinitionCommand).map((c) => c.args[0].input);
}

describe('task field mapping', () => {
  it('maps partition, cpus, memory, time limit, gres, image, command and environment as the table says', async () => {
    const h = harness({ retry_attempts: 3 });
    const req = request(
      {
        id: 'train',
        name: 'Train',
        partition: 'gpu-q',
        cpus: 4,
        memory: '8G',
        memoryMiB: 8192,
        timeLimitSeconds: 7200,
        gres: 'gpu:v100:2',
        image: 'ghcr.io/org/train:2',
        command: 'python train.py --epochs 3',
      },
      {
        env: { SCRIPTHUT_RUN_ID: 'ab12cd34', API_TOKEN: 's3cr3t-value', B_VAR: "it's $(x)" },
        secretEnvNames: ['API_TOKEN'],
      },
    );
    const [out] = await h.backend.submit([req]);
    expect(out).toMatchObject({ ok: true, taskId: 'train' });
    const [input] = submitInputs(h);
    const defName = autoDefinitionName('ghcr.io/org/train:2', {
      jobRoleArn: null,
      executionRoleArn: null,
      logGroup: '/aws/batch/job',
    });
    expect(input).toEqual({
      jobName: req.tag,
      jobQueue: 'gpu-q',
      jobDefinition: `arn:aws:batch:us-east-1:123456789012:job-definition/${defName}:1`,
      containerOverrides: {
        command: ['bash', '-c', expect.any(String)],
        resourceRequirements: [
          { type: 'VCPU', value: '4' },
          { type: 'MEMORY', value: '8192' },
          { type: 'GPU', value: '2' },
        ],
        environment: [
          { name: 'API_TOKEN', value: 's3cr3t-value' },
          { name: 'B_VAR', value: "it's $(x)" },
          { name: 'SCRIPTHUT_RUN_ID', value: 'ab12cd34' },
        ],
      },
      timeout: { attemptDurationSeconds: 7200 },
      retryStrategy: { attempts: 3 },
    });
    const script = input!.containerOverrides!.command![2]!;
    expect(out!.ok && out!.script).toBe(script);
    expect(script).toContain(
      '# Environment delivered by the backend (values not shown): API_TOKEN B_VAR SCRIPTHUT_RUN_ID',
    );
    expect(script).not.toContain('s3cr3t-value');
    expect(script).not.toMatch(/^export /m);
    expect(script).toContain('python train.py --epochs 3');
    expect(script).toBe(h.backend.renderScript(req));
    expect(out).toMatchObject({ meta: { queue: 'gpu-q', jobName: req.tag, image: 'ghcr.io/org/train:2' } });
  });

  it('uses aws.job_queue for the default partition, omits short timeouts, always sends retry attempts', async () => {
    const h = harness();
    await h.backend.submit([
      request({ partition: 'normal', timeLimitSeconds: 59, cpus: 0.5, memoryMiB: 512 }),
    ]);
    const [input] = submitInputs(h);
    expect(input!.jobQueue).toBe('default-q');
    expect(input).not.toHaveProperty('timeout');
    expect(input!.retryStrategy).toEqual({ attempts: 1 });
    expect(input!.containerOverrides!.resourceRequirements).toEqual([
      { type: 'VCPU', value: '1' },
      { type: 'MEMORY', value: '512' },
    ]);
    await h.backend.submit([request({ timeLimitSeconds: 60 })]);
    expect(submitInputs(h)[1]!.timeout).toEqual({ attemptDurationSeconds: 60 });
  });

  it('sanitises the job name to [A-Za-z0-9_-] and 128 characters', async () => {
    const h = harness();
    await h.backend.submit([request({}, { tag: `a.b c/${'x'.repeat(200)}` })]);
    const name = submitInputs(h)[0]!.jobName!;
    expect(name).toMatch(/^[A-Za-z0-9_-]{128}$/);
    expect(name.startsWith('a_b_c_')).toBe(true);
  });

  it('fails a task on an unknown queue permanently, without failing the rest of the batch', async () => {
    const h = harness();
    const outs = await h.backend.submit([request({ partition: 'nope-q' }), request({ id: 'ok' })]);
    expect(outs[0]).toMatchObject({ ok: false, transient: false });
    expect(outs[0]!.ok === false && outs[0]!.error).toMatch(/queue nope-q.*not found/);
    expect(outs[1]).toMatchObject({ ok: true, taskId: 'ok' });
  });
});

describe('git workflows', () => {
  it('prepends the clone block, passes SCRIPTHUT_GIT_* in the environment and rewrites relative dirs', async () => {
    const h = harness();
    const req = request(
      { workingDir: 'analysis/step1' },
      {
        workingDir: 'analysis/step1',
        git: { repo: 'https://github.com/org/repo.git', branch: 'main', sha: 'a'.repeat(40) },
      },
    );
    const [out] = await h.backend.submit([req]);
    expect(out!.ok).toBe(true);
    const input = submitInputs(h)[0]!;
    const env = Object.fromEntries(input.containerOverrides!.environment!.map((e) => [e.name, e.value]));
    expect(env).toMatchObject({
      SCRIPTHUT_GIT_REPO: 'https://github.com/org/repo.git',
      SCRIPTHUT_GIT_SHA: 'a'.repeat(40),
      SCRIPTHUT_GIT_BRANCH: 'main',
      SCRIPTHUT_CLONE_DIR: '/tmp/scripthut-src',
    });
    const script = input.containerOverrides!.command![2]!;
    // biome-ignore lint/suspicious/noTemplateCurlyInString: bash parameter expansion
    const clone = script.indexOf('_SCRIPTHUT_CLONE_DIR="${SCRIPTHUT_CLONE_DIR:-/tmp/scripthut-src}"');
    const cd = script.indexOf('if ! cd -- "$__SCRIPTHUT_WORKDIR"; then');
    expect(script).toContain('__SCRIPTHUT_WORKDIR=/tmp/scripthut-src/analysis/step1\n');
    expect(clone).toBeGreaterThan(0);
    expect(cd).toBeGreaterThan(clone);
    expect(script).toContain('git clone "$SCRIPTHUT_GIT_REPO" "$_SCRIPTHUT_CLONE_DIR"');
    expect(script).toContain('git fetch --all --tags && git checkout "$SCRIPTHUT_GIT_SHA"');
    // The repository URL travels in the environment, not in the script text.
    expect(script).not.toContain('github.com/org/repo');
  });

  it('maps a dir resolved against the host clone into the container clone; absolute dirs stay', async () => {
    const h = harness();
    const git = { repo: 'r', branch: 'b', sha: 'c'.repeat(40), cloneDir: '/home/u/.scripthut/clones/x' };
    const a = h.backend.renderScript(request({}, { workingDir: '/home/u/.scripthut/clones/x/sub', git }));
    expect(a).toContain('__SCRIPTHUT_WORKDIR=/tmp/scripthut-src/sub\n');
    const b = h.backend.renderScript(request({}, { workingDir: '/data/abs', git }));
    expect(b).toContain('__SCRIPTHUT_WORKDIR=/data/abs\n');
    const c = h.backend.renderScript(request({}, { workingDir: '.', git }));
    expect(c).toContain('__SCRIPTHUT_WORKDIR=/tmp/scripthut-src\n');
  });
});

describe('job definition: locked', () => {
  function lockedFake() {
    const fake = new FakeAws();
    fake.registerJobDefinition({
      jobDefinitionName: 'simpleJobDef-b760b37',
      type: 'container',
      containerProperties: { image: 'ghcr.io/org/registered:1', command: ['true'] },
    });
    return fake;
  }

  it('submits against the configured definition verbatim, never registers, warns once per differing image', async () => {
    const h = harness(
      { job_definition: 'simpleJobDef-b760b37', job_definition_mode: 'locked' },
      {},
      lockedFake(),
    );
    const outs = await h.backend.submit([
      request({ image: 'ghcr.io/org/other:9' }),
      request({ image: 'ghcr.io/org/other:9' }),
      request({ image: 'ghcr.io/org/registered:1' }),
      request({ image: null }),
    ]);
    expect(outs.every((o) => o.ok)).toBe(true);
    await h.backend.submit([
      request({ image: 'ghcr.io/org/third:1' }),
      request({ image: 'ghcr.io/org/other:9' }),
    ]);
    expect(submitInputs(h).map((i) => i.jobDefinition)).toEqual(Array(6).fill('simpleJobDef-b760b37'));
    expect(registerInputs(h)).toEqual([]);
    expect(h.fake.calls.DescribeJobDefinitions).toBe(1);
    expect(h.warnings).toHaveLength(2);
    expect(h.warnings[0]).toContain('ghcr.io/org/other:9');
    expect(h.warnings[0]).toContain('ghcr.io/org/registered:1');
    expect(h.warnings[1]).toContain('ghcr.io/org/third:1');
    expect(outs[0]).toMatchObject({ meta: { image: 'ghcr.io/org/registered:1' } });
  });
});

describe('job definition: revisions', () => {
  function templateFake() {
    const fake = new FakeAws();
    const base = {
      jobDefinitionName: 'tmpl',
      type: 'container' as const,
      containerProperties: {
        image: 'ghcr.io/org/base:1',
        jobRoleArn: 'arn:aws:iam::123456789012:role/JobRole',
        executionRoleArn: 'arn:aws:iam::123456789012:role/Exec',
        resourceRequirements: [
          { type: 'VCPU' as const, value: '2' },
          { type: 'MEMORY' as const, value: '2048' },
        ],
        logConfiguration: { logDriver: 'awslogs' as const, options: { 'awslogs-group': '/custom' } },
      },
    };
    fake.registerJobDefinition({
      ...base,
      containerProperties: { ...base.containerProperties, image: 'old:0' },
    });
    fake.registerJobDefinition({
      ...base,
      parameters: { p: '1' },
      schedulingPriority: 5,
      retryStrategy: { attempts: 2 },
      propagateTags: true,
      timeout: { attemptDurationSeconds: 600 },
      tags: { team: 'x' },
      platformCapabilities: ['EC2'],
    });
    fake.jobDefs.get('tmpl')![0]!.status = 'INACTIVE';
    return fake;
  }

  it('registers one new revision per image from the latest ACTIVE template, same name, cached', async () => {
    const h = harness(
      { job_definition: 'tmpl', job_definition_mode: 'revisions', default_image: null },
      {},
      templateFake(),
    );
    const outs = await h.backend.submit([
      request({ image: 'ghcr.io/org/new:2' }),
      request({ image: 'ghcr.io/org/new:2' }),
      request({ image: 'ghcr.io/org/base:1' }),
      request({ image: null }),
    ]);
    expect(outs.every((o) => o.ok)).toBe(true);
    const regs = registerInputs(h);
    expect(regs).toEqual([
      {
        jobDefinitionName: 'tmpl',
        type: 'container',
        containerProperties: {
          image: 'ghcr.io/org/new:2',
          jobRoleArn: 'arn:aws:iam::123456789012:role/JobRole',
          executionRoleArn: 'arn:aws:iam::123456789012:role/Exec',
          resourceRequirements: [
            { type: 'VCPU', value: '2' },
            { type: 'MEMORY', value: '2048' },
          ],
          logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': '/custom' } },
        },
        parameters: { p: '1' },
        schedulingPriority: 5,
        retryStrategy: { attempts: 2 },
        propagateTags: true,
        timeout: { attemptDurationSeconds: 600 },
        // The template's tags, plus the one that marks the revision as ScriptHut's clone.
        tags: { team: 'x', 'scripthut:clone-of': 'tmpl:2' },
        platformCapabilities: ['EC2'],
      },
    ]);
    const arn = (n: number) => `arn:aws:batch:us-east-1:123456789012:job-definition/tmpl:${n}`;
    // Outcomes are in request order (calls may interleave).
    expect(outs.map((o) => o.ok && o.meta?.jobDefinition)).toEqual([arn(3), arn(3), arn(2), arn(2)]);
    expect(
      submitInputs(h)
        .map((i) => i.jobDefinition)
        .sort(),
    ).toEqual([arn(2), arn(2), arn(3), arn(3)]);

    await h.backend.submit([request({ image: 'ghcr.io/org/newer:3' })]);
    expect(registerInputs(h)).toHaveLength(2);
    expect(submitInputs(h)[4]!.jobDefinition).toBe(arn(4));
    expect(h.fake.calls.DescribeJobDefinitions).toBe(1);
  });

  it('a task without image uses the template image even when default_image is set', async () => {
    const h = harness(
      { job_definition: 'tmpl', job_definition_mode: 'revisions', default_image: 'ghcr.io/org/d:1' },
      {},
      templateFake(),
    );
    const [out] = await h.backend.submit([request({ image: null })]);
    expect(out).toMatchObject({
      ok: true,
      meta: {
        jobDefinition: 'arn:aws:batch:us-east-1:123456789012:job-definition/tmpl:2',
        image: 'ghcr.io/org/base:1',
      },
    });
    expect(registerInputs(h)).toHaveLength(0);
  });

  it('after a restart the template is still the user revision, not the last clone ScriptHut registered', async () => {
    const fake = new FakeAws();
    fake.registerJobDefinition({
      jobDefinitionName: 'tmpl',
      type: 'container',
      containerProperties: { image: 'ghcr.io/org/base:1', command: ['true'] },
    });
    const first = harness({ job_definition: 'tmpl', job_definition_mode: 'revisions' }, {}, fake);
    const [a] = await first.backend.submit([request({ image: 'ghcr.io/org/new:2' })]);
    expect(a).toMatchObject({ ok: true, meta: { jobDefinition: expect.stringMatching(/tmpl:2$/) } });
    // The clone is tagged as ScriptHut's, with the revision it was cloned from.
    expect(fake.lookupDefinition('tmpl:2')!.tags).toMatchObject({ 'scripthut:clone-of': 'tmpl:1' });

    const second = harness({ job_definition: 'tmpl', job_definition_mode: 'revisions' }, {}, fake);
    const [b, c] = await second.backend.submit([
      request({ image: null }),
      request({ image: 'ghcr.io/org/new:2' }),
    ]);
    // Without an image: the template's own image, from the template's own revision.
    expect(b).toMatchObject({
      ok: true,
      meta: { image: 'ghcr.io/org/base:1', jobDefinition: expect.stringMatching(/tmpl:1$/) },
    });
    // The clone made by the first process for that image is reused, not registered again.
    expect(c).toMatchObject({ ok: true, meta: { jobDefinition: expect.stringMatching(/tmpl:2$/) } });
    expect(registerInputs(second)).toHaveLength(0);
  });

  it('fails tasks permanently with a clear message when the template does not exist', async () => {
    const h = harness({ job_definition: 'missing', job_definition_mode: 'revisions' });
    const [out] = await h.backend.submit([request({ image: 'x:1' })]);
    expect(out).toMatchObject({
      ok: false,
      transient: false,
      error: 'job definition missing has no ACTIVE revision',
    });
  });
});

describe('job definition: auto-register', () => {
  const roles = {
    job_role_arn: 'arn:aws:iam::123456789012:role/BatchJobRole',
    execution_role_arn: 'arn:aws:iam::123456789012:role/BatchExec',
  };

  it('registers scripthut-<hash12> once per image signature with the awslogs driver and reuses it', async () => {
    const h = harness({ ...roles, default_image: 'ghcr.io/org/workflow:latest' });
    await h.backend.submit([request(), request(), request({ image: 'ghcr.io/org/other:1' })]);
    await h.backend.submit([request()]);
    const name = autoDefinitionName('ghcr.io/org/workflow:latest', {
      jobRoleArn: roles.job_role_arn,
      executionRoleArn: roles.execution_role_arn,
      logGroup: '/aws/batch/job',
    });
    expect(name).toMatch(/^scripthut-[0-9a-f]{12}$/);
    const regs = registerInputs(h);
    expect(regs).toHaveLength(2);
    expect(regs[0]).toEqual({
      jobDefinitionName: name,
      type: 'container',
      containerProperties: {
        image: 'ghcr.io/org/workflow:latest',
        command: ['bash', '-c', expect.any(String)],
        resourceRequirements: [
          { type: 'VCPU', value: '1' },
          { type: 'MEMORY', value: '512' },
        ],
        jobRoleArn: roles.job_role_arn,
        executionRoleArn: roles.execution_role_arn,
        logConfiguration: {
          logDriver: 'awslogs',
          options: { 'awslogs-group': '/aws/batch/job', 'awslogs-region': 'us-east-1' },
        },
      },
      propagateTags: true,
    });
    expect(regs[1]!.jobDefinitionName).not.toBe(name);
    const defs = submitInputs(h).map((i) => i.jobDefinition);
    expect(defs[0]).toBe(defs[1]);
    expect(defs[3]).toBe(defs[0]);
    expect(defs[2]).not.toBe(defs[0]);
  });

  it('reuses a definition registered by an earlier process instead of adding revisions', async () => {
    const fake = new FakeAws();
    await harness({}, {}, fake).backend.submit([request()]);
    const h2 = harness({}, {}, fake);
    await h2.backend.submit([request()]);
    expect(registerInputs(h2)).toHaveLength(0);
    expect([...fake.jobDefs.values()].flat()).toHaveLength(1);
  });

  it('a task without image and no default_image fails permanently', async () => {
    const h = harness({ default_image: null });
    const [out] = await h.backend.submit([request({ image: null })]);
    expect(out).toMatchObject({ ok: false, transient: false });
    expect(out!.ok === false && out!.error).toMatch(/no container image/);
    expect(submitInputs(h)).toHaveLength(0);
  });

  it('reports the cross-account PassRole failure with the remedy', async () => {
    const h = harness({ ...roles, job_role_arn: 'arn:aws:iam::999999999999:role/Other' });
    h.fake.failNext('RegisterJobDefinition', 1, () =>
      awsError(
        'AccessDeniedException',
        'User: arn:aws:sts::123456789012:assumed-role/x is not authorized to perform: RegisterJobDefinition: Cross-account pass role is not allowed.',
        403,
      ),
    );
    const [out] = await h.backend.submit([request()]);
    expect(out).toMatchObject({ ok: false, transient: false, error: crossAccountRemedy('auto') });
    expect(crossAccountRemedy('auto')).toContain('set `job_definition:`');
    expect(crossAccountRemedy('auto')).toContain('aws sts get-caller-identity');
    // Not cached: a later attempt (after the roles are fixed) registers again.
    const [again] = await h.backend.submit([request()]);
    expect(again!.ok).toBe(true);
  });
});
