// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these tests write the ${NAME} syntax of env rules and shell references
/**
 * A task file written with env rules runs with the rules' environment on the backend they match
 * (real runtime, SQLite store and local backend): backend rules guarded by `if`, server rules,
 * groups from every layer, task-level rules, `${NAME}` left to the job, tasks added by
 * generates_source, and the dry run that shows it all.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunSummary } from '@scripthut/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../src/index.js';

const opened: Runtime[] = [];
afterEach(async () => {
  while (opened.length) await opened.pop()!.close();
});

const SHOW = [
  'SITE OMP_NUM_THREADS MODULE PY GPU_STACK TOOL_INIT FROM_SERVER OUT MINE LIB',
  'for v in $VARS; do eval "printf \'%s=%s\\n\' $v \\"\\${$v-<unset>}\\""; done',
].join('\n');

function setup(): { dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sh-envrules-'));
  const doc = {
    env_groups: {
      gpu: [{ if: { SCRIPTHUT_BACKEND: 'laptop' }, set: { GPU_STACK: 'laptop-cuda' } }],
    },
    env: [{ include: ['py'] }],
    tasks: [
      {
        id: 'show',
        name: 'show',
        command: `VARS="${SHOW.split('\n')[0]}"\n${SHOW.split('\n')[1]}`,
        env_vars: { MINE: 'task' },
        env: [
          { include: ['gpu', 'tools'] },
          { set: { OUT: '/tmp/${SCRIPTHUT_WORKFLOW}/${SCRIPTHUT_RUN_ID}' }, append: { LIB: '/opt/lib' } },
        ],
      },
      {
        id: 'gen',
        name: 'gen',
        working_dir: dir,
        command: `printf '%s' '{"tasks":[{"id":"child","name":"child","command":"echo SITE=\${SITE-<unset>} SERVER=\${FROM_SERVER-<unset>}"}]}' > child.json`,
        generates_source: 'child.json',
      },
    ],
  };
  writeFileSync(join(dir, 'tasks.json'), JSON.stringify(doc));
  writeFileSync(
    join(dir, 'bad.json'),
    JSON.stringify({
      tasks: [
        {
          id: 'gen',
          name: 'gen',
          working_dir: dir,
          command: `printf '%s' '{"tasks":[{"id":"c","name":"c","command":"true","env":[{"set":{"A":"1"}}]}]}' > bad-child.json`,
          generates_source: 'bad-child.json',
        },
      ],
    }),
  );
  writeFileSync(
    join(dir, 'scripthut.yaml'),
    `env:
  - set: { FROM_SERVER: server }
env_groups:
  tools: [{ init: "export TOOL_INIT=server-tools" }]
backends:
  - name: laptop
    type: local
    env:
      - if: { SCRIPTHUT_BACKEND: laptop }
        init: "export OMP_NUM_THREADS=1; export MODULE=laptop-module"
        set: { OMP_NUM_THREADS: 4, SITE: laptop }
    env_groups:
      py: [{ set: { PY: laptop-python } }]
  - name: other
    type: local
    env_groups:
      py: [{ set: { PY: other-python } }]
workflows:
  - { name: sweep, backend: laptop, command: "cat ${join(dir, 'tasks.json')}" }
  - { name: bad, backend: laptop, command: "cat ${join(dir, 'bad.json')}" }
`,
  );
  return { dir };
}

async function open(dir: string): Promise<Runtime> {
  const rt = await createRuntime({
    cwd: dir,
    dataDir: join(dir, 'data'),
    pollIntervalMs: 200,
    logger: { info() {}, warn() {}, error() {} },
  });
  opened.push(rt);
  await rt.start();
  return rt;
}

async function done(rt: Runtime, runId: string): Promise<RunSummary> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const s = rt.getRun(runId);
    if (s.status !== 'pending' && s.status !== 'running') return s;
    if (Date.now() > deadline) throw new Error(`run ${runId} not done: ${JSON.stringify(s.counts)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function vars(rt: Runtime, runId: string, taskId: string): Promise<Record<string, string>> {
  const log = (await rt.readTaskLog(runId, taskId, 'stdout')).content;
  return Object.fromEntries(
    log
      .split('\n')
      .flatMap((l) => l.split(' '))
      .map((w) => /^([A-Z_]+)=(.*)$/.exec(w))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1]!, m[2]!]),
  );
}

describe('env rules on the local backend', () => {
  it('the matching backend gets its rules, the other backend does not; generated tasks get the backend and server rules', async () => {
    const { dir } = setup();
    const rt = await open(dir);

    const onLaptop = await rt.runWorkflow('sweep');
    const a = await done(rt, onLaptop.run.id);
    expect(a.status).toBe('completed');
    expect(await vars(rt, onLaptop.run.id, 'show')).toMatchObject({
      SITE: 'laptop',
      OMP_NUM_THREADS: '4', // set wins over what init exported
      MODULE: 'laptop-module', // init ran
      PY: 'laptop-python', // the document's include found the backend's group
      GPU_STACK: 'laptop-cuda',
      TOOL_INIT: 'server-tools', // a server group included by a task rule
      FROM_SERVER: 'server',
      OUT: `/tmp/sweep/${onLaptop.run.id}`, // the run id is the job's
      MINE: 'task',
      LIB: '/opt/lib', // appended to the job's own (unset) value, no leading ":"
    });
    expect(await vars(rt, onLaptop.run.id, 'child')).toEqual({ SITE: 'laptop', SERVER: 'server' });

    const onOther = await rt.runWorkflow('sweep', { backend: 'other' });
    expect((await done(rt, onOther.run.id)).status).toBe('completed');
    expect(await vars(rt, onOther.run.id, 'show')).toMatchObject({
      SITE: '<unset>',
      MODULE: '<unset>',
      PY: 'other-python',
      GPU_STACK: '<unset>',
      TOOL_INIT: 'server-tools',
      FROM_SERVER: 'server',
      OUT: `/tmp/sweep/${onOther.run.id}`,
    });
    expect(await vars(rt, onOther.run.id, 'child')).toEqual({ SITE: '<unset>', SERVER: 'server' });
  });

  it('a generated document that carries env rules fails its generator task with an error naming the field', async () => {
    const { dir } = setup();
    const rt = await open(dir);
    const run = await rt.runWorkflow('bad');
    expect((await done(rt, run.run.id)).status).toBe('failed');
    const gen = rt.getTask(run.run.id, 'gen');
    expect(gen.state).toBe('failed');
    expect(gen.error).toContain('tasks[0] (id "c").env: env rules are applied when a run is created');
  });

  it("the dry run shows each task's resolved environment and partition, and its script", async () => {
    const { dir } = setup();
    const rt = await open(dir);
    const dry = await rt.dryRunWorkflow('sweep');
    const show = dry.tasks.find((t) => t.task.id === 'show')!;
    expect(show.environment).toMatchObject({ partition: null, envRules: true });
    expect(show.environment!.environment).toMatch(/^scripthut:[0-9a-f]{12}$/);
    expect(show.environment!.variables).toEqual([
      { name: 'OMP_NUM_THREADS', value: '4', origin: 'backend laptop' },
      { name: 'SITE', value: 'laptop', origin: 'backend laptop' },
      { name: 'FROM_SERVER', value: 'server', origin: 'server' },
      { name: 'PY', value: 'laptop-python', origin: 'document via group py' },
      { name: 'GPU_STACK', value: 'laptop-cuda', origin: 'task via group gpu' },
      { name: 'OUT', value: '/tmp/sweep/${SCRIPTHUT_RUN_ID}', origin: 'task' },
      { name: 'LIB', value: '${LIB:+${LIB}:}/opt/lib', origin: 'task' },
      { name: 'MINE', value: 'task', origin: 'env_vars' },
    ]);
    expect(show.environment!.init).toBe(
      'export OMP_NUM_THREADS=1; export MODULE=laptop-module\nexport TOOL_INIT=server-tools',
    );
    expect(show.script).toContain('export MODULE=laptop-module');
    expect(show.script).toContain('export OUT=/tmp/sweep/"${SCRIPTHUT_RUN_ID}"');
    const other = await rt.dryRunWorkflow('sweep', { backend: 'other' });
    const names = other.tasks.find((t) => t.task.id === 'show')!.environment!.variables.map((v) => v.name);
    expect(names).not.toContain('SITE');
    expect(rt.listRuns().total).toBe(0);
  });
});
