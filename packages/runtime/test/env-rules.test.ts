// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these tests write the ${NAME} syntax of env rules and control paths
/** The env-rule resolver and what it renders into a job script. */
import { execFileSync } from 'node:child_process';
import type { EnvRule } from '@scripthut/config';
import type { SubmitRequest, TaskSpec } from '@scripthut/core';
import { describe, expect, it } from 'vitest';
import { adaptSubmitRequest } from '../src/backend-adapter.js';
import { type EnvRuleLayer, envValueText, resolveEnvRules } from '../src/env-rules.js';
import {
  noDocumentRules,
  parseTaskDocumentWithEnv,
  prepareRunTasks,
  RULES_ENVIRONMENT_PREFIX,
  renderRules,
  rulesExtraInit,
} from '../src/task-env.js';

const SEED = { SCRIPTHUT_BACKEND: 'hpc', SCRIPTHUT_WORKFLOW: 'sweep' };
const text = (r: ReturnType<typeof resolveEnvRules>) =>
  Object.fromEntries([...r.variables].map(([k, v]) => [k, envValueText(v.value)]));

describe('resolveEnvRules', () => {
  it('applies layers in order; later rules overwrite, append joins with ":"', () => {
    const r = resolveEnvRules(
      [
        { label: 'backend hpc', rules: [{ set: { A: 'backend', P: '/a' } }] },
        { label: 'server', rules: [{ set: { A: 'server' }, append: { P: '/b' } }] },
        { label: 'task', rules: [{ append: { P: '/c' } }] },
      ],
      SEED,
    );
    expect(text(r)).toEqual({ A: 'server', P: '/a:/b:/c' });
    expect(r.variables.get('A')!.origin).toBe('server');
    expect(r.applied).toBe(3);
  });

  it('if: AND across keys, OR within a list, against the values resolved so far', () => {
    const rules: EnvRule[] = [
      { if: { SCRIPTHUT_BACKEND: 'other' }, set: { NO1: 'x' } },
      { if: { SCRIPTHUT_BACKEND: ['other', 'hpc'] }, set: { GPU: '1' } },
      { if: { SCRIPTHUT_BACKEND: 'hpc', GPU: '1' }, set: { YES: 'both' } },
      { if: { SCRIPTHUT_BACKEND: 'hpc', GPU: '2' }, set: { NO2: 'x' } },
      { if: { UNSET: 'x' }, set: { NO3: 'x' } },
    ];
    expect(text(resolveEnvRules([{ label: 'task', rules }], SEED))).toEqual({ GPU: '1', YES: 'both' });
  });

  it('include inlines groups (later layers shadow), inheriting the include guard', () => {
    const layers: EnvRuleLayer[] = [
      {
        label: 'backend hpc',
        rules: [{ include: ['py'] }],
        groups: { py: [{ init: 'module load python/3.10' }], cuda: [{ set: { CUDA: 'backend' } }] },
      },
      {
        label: 'server',
        rules: [],
        groups: { py: [{ init: 'module load python/3.12' }, { include: ['cuda'] }] },
      },
      {
        label: 'task',
        rules: [
          { if: { SCRIPTHUT_BACKEND: 'other' }, include: ['guarded'] },
          { include: ['guarded'], set: { AFTER: '${CUDA}-after' } },
        ],
        groups: { guarded: [{ set: { G: 'yes' } }, { if: { G: 'no' }, set: { NEVER: 'x' } }] },
      },
    ];
    const r = resolveEnvRules(layers, SEED);
    expect(r.init).toEqual(['module load python/3.12']);
    expect(text(r)).toEqual({ CUDA: 'backend', G: 'yes', AFTER: 'backend-after' });
    expect(r.variables.get('CUDA')!.origin).toBe('backend hpc via group py via group cuda');
  });

  it('reports an include cycle as an error and an unknown group as a warning with a suggestion', () => {
    expect(() =>
      resolveEnvRules(
        [
          {
            label: 'server',
            rules: [{ include: ['a'] }],
            groups: { a: [{ include: ['b'] }], b: [{ include: ['a'] }] },
          },
        ],
        SEED,
      ),
    ).toThrow('env_groups include each other in a cycle: a -> b -> a (included from server)');
    const r = resolveEnvRules(
      [{ label: 'task', rules: [{ include: ['cudaa'] }], groups: { cuda: [] } }],
      SEED,
    );
    expect(r.warnings).toEqual(['task: unknown env group "cudaa" (ignored); did you mean "cuda"?']);
  });

  it('expands ${NAME} at resolve time; unknown names are left to the job, append keeps the job value', () => {
    const r = resolveEnvRules(
      [
        {
          label: 'task',
          rules: [
            {
              set: {
                WF: '${SCRIPTHUT_WORKFLOW}',
                SCRATCH: '/scratch/${USER}',
                RUN: '${SCRATCH}/${SCRIPTHUT_RUN_ID}',
              },
            },
            { append: { PATH: '/opt/x/bin' } },
            { init: 'mkdir -p ${RUN} && echo $HOME' },
          ],
        },
      ],
      SEED,
    );
    expect(text(r)).toEqual({
      WF: 'sweep',
      SCRATCH: '/scratch/${USER}',
      RUN: '/scratch/${USER}/${SCRIPTHUT_RUN_ID}',
      PATH: '${PATH:+${PATH}:}/opt/x/bin',
    });
    expect(r.init).toEqual(['mkdir -p /scratch/${USER}/${SCRIPTHUT_RUN_ID} && echo $HOME']);
  });

  it('renders into bash that gives the job exactly these values, set winning over init', () => {
    const r = resolveEnvRules(
      [
        {
          label: 'task',
          rules: [
            { set: { OMP_NUM_THREADS: '4', QUOTE: `it's "$(nope)"`, DIR: '/scratch/${USER}' } },
            { append: { PATH: '/opt/x/bin' } },
            { init: 'export OMP_NUM_THREADS=1; export FROM_INIT=yes' },
          ],
        },
      ],
      SEED,
    );
    const rendered = renderRules(r);
    // the engine exports the literal variables first, then runs extraInit
    const script = [
      ...Object.entries(rendered.variables).map(([k, v]) => `export ${k}='${v.replace(/'/g, `'\\''`)}'`),
      rulesExtraInit(rendered),
      'printf "%s|%s|%s|%s|%s\\n" "$OMP_NUM_THREADS" "$QUOTE" "$DIR" "$PATH" "$FROM_INIT"',
    ].join('\n');
    const out = execFileSync('bash', ['--noprofile', '--norc', '-c', script], {
      encoding: 'utf8',
      env: { PATH: '/usr/bin:/bin', USER: 'alice' },
    });
    expect(out).toBe(`4|it's "$(nope)"|/scratch/alice|/usr/bin:/bin:/opt/x/bin|yes\n`);
  });
});

const spec = (over: Partial<TaskSpec>): TaskSpec => ({
  id: 't',
  name: 't',
  command: 'true',
  workingDir: '~',
  partition: null,
  cpus: 1,
  memory: '1G',
  memoryMiB: 1024,
  timeLimit: '1:00',
  timeLimitSeconds: 60,
  gres: null,
  image: null,
  deps: [],
  depPatterns: [],
  outputFile: null,
  errorFile: null,
  environment: null,
  envVars: {},
  generatesSource: null,
  ...over,
});

const slurm = (over: Record<string, unknown> = {}) =>
  ({
    name: 'hpc',
    type: 'slurm',
    ssh: {
      host: 'h',
      port: 22,
      user: 'u',
      key_path: '/k',
      cert_path: null,
      known_hosts: null,
      control_path: null,
    },
    account: null,
    login_shell: false,
    max_concurrent: 10,
    clone_dir: '~',
    partition_map: { cpu: 'long' },
    env: [],
    env_groups: {},
    ...over,
  }) as never;

describe('prepareRunTasks', () => {
  it('maps partitions and leaves rule-less tasks in the named-environment model', () => {
    const out = prepareRunTasks(
      [
        spec({ partition: 'cpu', environment: 'e', envVars: { B: '2' } }),
        spec({ id: 'u', partition: 'gpu' }),
      ],
      {
        backend: slurm(),
        server: { env: [], env_groups: {} },
        document: noDocumentRules(),
        environments: { e: { variables: { A: '1', B: '1' }, extraInit: 'module load x' } },
        workflowName: 'wf',
        git: null,
      },
    );
    expect(out.tasks.map((t) => [t.partition, t.environment])).toEqual([
      ['long', 'e'],
      ['gpu', null],
    ]);
    expect(out.views[0]).toEqual({
      partition: 'long',
      requestedPartition: 'cpu',
      environment: 'e',
      variables: [
        { name: 'A', value: '1', origin: 'environment e' },
        { name: 'B', value: '2', origin: 'env_vars' },
      ],
      init: 'module load x',
      envRules: false,
    });
    expect(Object.keys(out.environments)).toEqual(['e']);
  });

  it('gives tasks with rules a shared run environment; env_vars stay with the engine and win', () => {
    const doc = parseTaskDocumentWithEnv(
      {
        env: [{ include: ['py'] }],
        env_groups: { py: [{ init: 'module load python' }] },
        tasks: [
          {
            id: 'a',
            name: 'a',
            command: 'true',
            env_vars: { X: 'mine' },
            env: [{ set: { X: 'rule', Y: '1' } }],
          },
          { id: 'b', name: 'b', command: 'true' },
          { id: 'c', name: 'c', command: 'true' },
        ],
      },
      { knownEnvironments: [] },
    );
    const out = prepareRunTasks(doc.tasks, {
      backend: slurm({ env: [{ if: { SCRIPTHUT_BACKEND: 'hpc' }, set: { SCRATCH: '/s/${USER}' } }] }),
      server: { env: [], env_groups: {} },
      document: doc.envRules,
      environments: {},
      workflowName: 'wf',
      git: null,
    });
    const [a, b, c] = out.tasks;
    expect(a!.environment!.startsWith(RULES_ENVIRONMENT_PREFIX)).toBe(true);
    expect(b!.environment).toBe(c!.environment);
    expect(a!.environment).not.toBe(b!.environment);
    expect(a!.envVars).toEqual({ X: 'mine' });
    const envA = out.environments[a!.environment!]!;
    expect(envA.variables).toEqual({ Y: '1' });
    expect(envA.extraInit).toBe(
      [
        'module load python',
        '# env rules: variables exported after init, so that they win over it',
        'export SCRATCH=/s/"${USER}"',
        'export Y=1',
      ].join('\n'),
    );
    expect(out.views[0]!.variables).toEqual([
      { name: 'SCRATCH', value: '/s/${USER}', origin: 'backend hpc' },
      { name: 'X', value: 'mine', origin: 'env_vars' },
      { name: 'Y', value: '1', origin: 'task' },
    ]);
  });

  it('parseTaskDocumentWithEnv reports rule mistakes with task paths, together with the other errors', () => {
    let caught: unknown;
    try {
      parseTaskDocumentWithEnv(
        JSON.stringify({
          env: [{ sett: {} }],
          tasks: [
            { id: 'a', name: 'a', command: 'true', cpus: 0, env: [{ set: { SCRIPTHUT_BACKEND: 'x' } }] },
          ],
        }),
        { knownEnvironments: [], source: 'wf.json' },
      );
    } catch (e) {
      caught = e;
    }
    expect((caught as Error).message).toBe(
      [
        'Invalid task JSON (wf.json): 3 errors',
        '  - wf.json: env[0].sett: unknown field "sett"; did you mean "set"?',
        '  - wf.json: tasks[0] (id "a").env[0].set.SCRIPTHUT_BACKEND: key "SCRIPTHUT_BACKEND" is set by ScriptHut: env rules cannot change SCRIPTHUT_* variables',
        '  - wf.json: tasks[0] (id "a").cpus: must be a positive integer, got number 0',
      ].join('\n'),
    );
  });
});

describe('adaptSubmitRequest (tasks that got no rules at run creation)', () => {
  const request = (over: Partial<SubmitRequest> = {}): SubmitRequest => ({
    runId: 'r1',
    taskId: 'g',
    tag: 'shx',
    workflowName: 'wf',
    task: spec({ id: 'g', partition: 'cpu' }),
    workingDir: '~',
    env: { SCRIPTHUT_RUN_ID: 'r1', SCRIPTHUT_WORKFLOW: 'wf', OWN: 'task' },
    extraInit: 'source env.sh',
    stdoutPath: 'o',
    stderrPath: 'e',
    logDir: 'l',
    git: null,
    ...over,
  });

  it('applies partition_map and the backend and server rules; the task keeps its own values', () => {
    const out = adaptSubmitRequest(
      request(),
      slurm({
        env: [
          {
            if: { SCRIPTHUT_BACKEND: 'hpc' },
            init: 'module load gcc',
            set: { OWN: 'rule', R: '${SCRIPTHUT_RUN_ID}' },
          },
        ],
      }),
      { env: [{ set: { S: 'server' } }], env_groups: {} },
    );
    expect(out.task.partition).toBe('long');
    expect(out.env).toEqual({
      SCRIPTHUT_RUN_ID: 'r1',
      SCRIPTHUT_WORKFLOW: 'wf',
      OWN: 'task',
      R: 'r1',
      S: 'server',
    });
    expect(out.extraInit).toBe(
      [
        'module load gcc',
        'source env.sh',
        '# env rules: variables exported after init, so that they win over it',
        'export R=r1',
        'export S=server',
      ].join('\n'),
    );
  });

  it('leaves tasks with a rules environment alone (only the partition is mapped)', () => {
    const r = request({ task: spec({ partition: 'long', environment: `${RULES_ENVIRONMENT_PREFIX}abc` }) });
    expect(adaptSubmitRequest(r, slurm({ env: [{ set: { X: '1' } }] }), { env: [], env_groups: {} })).toBe(r);
  });
});
