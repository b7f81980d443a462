/**
 * Workflows, git workflows, sources and projects end to end: a real runtime (config file, SQLite
 * store, engine) driving the local Slurm cluster over sshd, with REAL git repositories: bare repos
 * under ~hut served over SSH from 127.0.0.1:2222 and cloned on the "cluster" with a fresh deploy
 * key that is authorized for hut only during this file.
 *
 * Kept as one file (over ~500 lines) on purpose: its ~200-line setup (deploy key authorized for hut,
 * repositories pushed, one config, one runtime) serves every group below, and splitting the file
 * would repeat that setup on the shared cluster once per file.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunSummary, ScriptHutError, shellQuotePath, type TaskRecord } from '@scripthut/core';
import { SshConnection } from '@scripthut/ssh';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLONE_MARKER } from '../../src/generator.js';
import { createRuntime, type Runtime } from '../../src/index.js';

function env(key: string): string {
  const v = process.env[`SCRIPTHUT_TEST_${key}`];
  if (!v) throw new Error(`SCRIPTHUT_TEST_${key} is not set: the cluster global setup did not run`);
  return v;
}

const ID = `w${randomBytes(3).toString('hex')}`;
const HOST = () => env('SSH_HOST');
const PORT = () => Number(env('SSH_PORT'));
const HOME = () => env('HUT_HOME');
/** Everything this file creates on the cluster lives under here. */
const ROOT = () => `${HOME()}/scripthut-test-workflows/${ID}`;
const CLONES = () => `~/scripthut-test-workflows/${ID}/clones`;
const repoUrl = (name: string) => `ssh://${env('SSH_USER')}@${HOST()}:${PORT()}${ROOT()}/repos/${name}.git`;

let ssh: SshConnection;
let local: string;
let deployKey: string;
let deployPub: string;
let rt: Runtime;
const heads: Record<string, string> = {};

async function sh(command: string, stdin?: string): Promise<string> {
  const r = await ssh.exec(command, { timeoutMs: 60_000, ...(stdin !== undefined ? { stdin } : {}) });
  if (r.exitCode !== 0) throw new Error(`${command} exited ${r.exitCode}: ${r.stderr}`);
  return r.stdout;
}

function git(args: string[], cwd?: string): string {
  return execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {
    cwd,
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_TERMINAL_PROMPT: '0',
      // pushing test content as hut with the cluster key (not the deploy key)
      GIT_SSH_COMMAND: `ssh -i ${env('SSH_KEY')} -o IdentitiesOnly=yes -o BatchMode=yes -o UserKnownHostsFile=${env('SSH_KNOWN_HOSTS')}`,
    },
  }).trim();
}

/** Create `<ROOT>/repos/<name>.git` on the cluster and push `files` to its `main` branch. */
async function makeRepo(name: string, files: Record<string, string>): Promise<string> {
  await sh(`git init --quiet --bare --initial-branch=main ${ROOT()}/repos/${name}.git`);
  const work = join(local, `work-${name}`);
  git(['init', '--quiet', '--initial-branch=main', work]);
  for (const [f, content] of Object.entries(files)) {
    mkdirSync(join(work, f, '..'), { recursive: true });
    writeFileSync(join(work, f), content);
  }
  git(['add', '-A'], work);
  git(['commit', '--quiet', '-m', 'initial'], work);
  git(['push', '--quiet', repoUrl(name), 'main'], work);
  heads[name] = git(['rev-parse', 'HEAD'], work);
  return heads[name]!;
}

const R = { memory: '100M', time_limit: '0:05:00' };

function waitDone(runId: string, timeoutMs = 180_000): Promise<RunSummary> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const tick = () => {
      const s = rt.getRun(runId);
      if (s.status !== 'pending' && s.status !== 'running') return resolve(s);
      if (Date.now() > deadline)
        return reject(new Error(`run ${runId} not done: ${JSON.stringify(s.counts)}`));
      setTimeout(tick, 500);
    };
    tick();
  });
}

function tasks(runId: string): TaskRecord[] {
  return rt.listTasks(runId, { limit: 1000 }).items;
}

async function log(runId: string, taskId: string): Promise<string> {
  return (await rt.readTaskLog(runId, taskId, 'stdout')).content;
}

/** `KEY=value` lines of a log as a record. */
function vars(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split('\n')
      .map((l) => /^([A-Z_]+)=(.*)$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1]!, m[2]!]),
  );
}

/** The tasks of the git workflow's generator: `@SHA@` is replaced by gen.sh. */
const WF_TASKS = {
  title: 'git workflow',
  tasks: [
    {
      id: 'show',
      name: 'show git context',
      command:
        'echo REPO=$SCRIPTHUT_GIT_REPO; echo BRANCH=$SCRIPTHUT_GIT_BRANCH; echo SHA=$SCRIPTHUT_GIT_SHA; echo WORKDIR=$PWD; echo GEN=$GEN_SHA; echo KEYMODE=$(cat keymode); echo BIG=$(ls big 2>/dev/null | wc -l); echo ENVVAR=$ENV_VAR; echo INIT=$INIT_RAN',
      working_dir: '~',
      env_vars: { GEN_SHA: '@SHA@' },
      environment: 'test-env',
      ...R,
    },
    {
      id: 'sub',
      name: 'relative working dir',
      command: 'echo SUBDIR=$PWD; echo HERE=$(cat here.txt)',
      working_dir: 'sub',
      deps: ['show'],
      ...R,
    },
  ],
};

beforeAll(async () => {
  ssh = new SshConnection({
    host: HOST(),
    port: PORT(),
    user: env('SSH_USER'),
    keyPath: env('SSH_KEY'),
    knownHostsPath: env('SSH_KNOWN_HOSTS'),
  });
  local = mkdtempSync(join(tmpdir(), 'sh-wf-cluster-'));
  // A fresh deploy key, authorized for hut while this file runs.
  deployKey = join(local, 'deploy_ed25519');
  execFileSync('ssh-keygen', [
    '-q',
    '-t',
    'ed25519',
    '-N',
    '',
    '-C',
    `scripthut-deploy-${ID}`,
    '-f',
    deployKey,
  ]);
  deployPub = readFileSync(`${deployKey}.pub`, 'utf8').trim();
  await sh(
    'umask 077; mkdir -p ~/.ssh && cat >> ~/.ssh/authorized_keys && chmod 600 ~/.ssh/authorized_keys',
    `${deployPub}\n`,
  );
  await sh(`mkdir -p ${ROOT()}/repos ${ROOT()}/paths/flows/nested ${ROOT()}/paths/data`);

  await makeRepo('wf', {
    'gen.sh': 'sed "s/@SHA@/$SCRIPTHUT_GIT_SHA/" tasks.tpl.json\n',
    'tasks.tpl.json': JSON.stringify(WF_TASKS, null, 2),
    'sub/here.txt': 'inside-sub\n',
    'big/blob.bin': 'x'.repeat(1000),
  });
  await makeRepo('src', {
    'README.md': 'not a workflow',
    'top.hut.json': JSON.stringify({
      title: 'Top',
      tasks: [{ id: 't', name: 't', command: 'echo TOP=1', ...R }],
    }),
    'pipelines/a/deep.hut.json': JSON.stringify({
      title: 'Deep',
      tasks: [
        {
          id: 'deep',
          name: 'deep',
          command: 'echo SHA=$SCRIPTHUT_GIT_SHA; echo WORKDIR=$PWD; echo DATA=$(cat data.txt)',
          working_dir: 'pipelines/a',
          ...R,
        },
      ],
    }),
    'pipelines/a/data.txt': 'deep-data\n',
    'pipelines/broken.hut.json': '{ not json',
    '.hut/workflows/default.json': '[]',
  });

  // Path source on the cluster filesystem.
  const pathFlow = {
    tasks: [
      {
        id: 'p1',
        name: 'p1',
        command: 'echo WORKDIR=$PWD; echo INPUT=$(cat input.txt)',
        working_dir: 'data',
        ...R,
      },
      { id: 'p2', name: 'p2', command: 'echo HOMEDIR=$PWD', deps: ['p1'], ...R },
    ],
  };
  await sh(`cat > ${ROOT()}/paths/flows/nested/one.json`, JSON.stringify(pathFlow));
  await sh(`cat > ${ROOT()}/paths/flows/two.json`, '[]');
  await sh(`cat > ${ROOT()}/paths/flows/notes.txt`, 'ignored');
  await sh(`cat > ${ROOT()}/paths/data/input.txt`, 'path-input\n');

  // Project: a git repository on the backend with two sflow.json files.
  const trace = `${ROOT()}/proj/trace`;
  const step = (id: string) =>
    `echo start ${id} $(date +%s%N) >> ${trace}; sleep 1; echo end ${id} $(date +%s%N) >> ${trace}`;
  const generated = {
    tasks: [
      ...[1, 2, 3].map((i) => ({
        id: `part.${i}`,
        name: `part ${i}`,
        command: `${step(`part.${i}`)}; echo PART=${i}`,
        ...R,
      })),
      {
        id: 'merge',
        name: 'merge',
        command: `${step('merge')}; echo MERGED=$(ls parts | wc -l)`,
        deps: ['part.*'],
        ...R,
      },
    ],
  };
  const rootFlow = {
    tasks: [
      {
        id: 'gen',
        name: 'generate',
        // writes the sub-workflow at run time; `working_dir: ~` is the sflow.json's directory
        command: `${step('gen')}; mkdir -p parts; touch parts/1 parts/2 parts/3; cat > more.json <<'JSON'\n${JSON.stringify(generated)}\nJSON`,
        generates_source: 'more.json',
        ...R,
      },
      { id: 'solo', name: 'solo', command: `${step('solo')}; echo SOLO=$PWD`, ...R },
    ],
  };
  const analysisFlow = { tasks: [{ id: 'a', name: 'a', command: 'echo ANALYSIS=$PWD', ...R }] };
  await sh(
    `mkdir -p ${ROOT()}/proj/analysis && cd ${ROOT()}/proj && git init --quiet --initial-branch=main .`,
  );
  await sh(`cat > ${ROOT()}/proj/sflow.json`, JSON.stringify(rootFlow));
  await sh(`cat > ${ROOT()}/proj/analysis/sflow.json`, JSON.stringify(analysisFlow));
  await sh(
    `cd ${ROOT()}/proj && git add -A && git -c user.name=t -c user.email=t@example.com commit --quiet -m init`,
  );

  const yaml = `
backends:
  - name: hpc
    type: slurm
    ssh:
      host: ${HOST()}
      port: ${PORT()}
      user: ${env('SSH_USER')}
      key_path: ${env('SSH_KEY')}
      known_hosts: ${env('SSH_KNOWN_HOSTS')}
    max_concurrent: 4

environments:
  - name: test-env
    variables:
      ENV_VAR: "from-environment"
    extra_init: "export INIT_RAN=yes"

workflows:
  - name: gitwf
    backend: hpc
    git:
      repo: ${repoUrl('wf')}
      branch: main
      deploy_key: ${deployKey}
      clone_dir: ${CLONES()}
      postclone: 'eval "set -- $GIT_SSH_COMMAND"; stat -c %a "$3" > keymode; rm -rf big; echo x >> ${ROOT()}/postclone-count'
    command: "bash gen.sh"
    max_concurrent: 2
    description: "git workflow with a deploy key"
  - name: gitwf-badpostclone
    backend: hpc
    git:
      repo: ${repoUrl('wf')}
      deploy_key: ${deployKey}
      clone_dir: ${CLONES()}-bad
      postclone: "echo 'npm ERR! cannot install' >&2; exit 4"
    command: "bash gen.sh"
  - name: failing
    backend: hpc
    command: "echo partial-output; echo 'generator exploded: missing input' >&2; exit 3"
  - name: notjson
    backend: hpc
    command: "echo 'warming cache' >&2; echo 'this is not json'"

sources:
  - name: jobs
    type: git
    url: ${repoUrl('src')}
    branch: main
    deploy_key: ${deployKey}
    backend: hpc
    workflows_glob: "**/*.hut.json"
    clone_dir: ${CLONES()}
  - name: shared
    type: path
    path: ${ROOT()}/paths
    backend: hpc
    workflows_glob: "flows/**/*.json"

projects:
  - name: proj
    backend: hpc
    path: ${ROOT()}/proj
    max_concurrent: 1
    description: "two sflow.json files"
`;
  writeFileSync(join(local, 'scripthut.yaml'), yaml);
  rt = await createRuntime({
    cwd: local,
    dataDir: join(local, 'data'),
    pollIntervalMs: 1000,
    logger: { info() {}, warn() {}, error: (m) => process.stderr.write(`[runtime] ${m}\n`) },
  });
  await rt.start();
});

afterAll(async () => {
  const logDirs = rt ? rt.listRuns({ limit: 500 }).items.map((r) => r.run.logDir) : [];
  await rt?.close();
  if (ssh && logDirs.length) {
    await ssh.exec(`rm -rf ${logDirs.map((d) => shellQuotePath(d)).join(' ')}`).catch(() => undefined);
  }
  if (ssh) {
    // de-authorize the deploy key and remove everything this file created
    await ssh
      .exec(
        `grep -vF ${`'scripthut-deploy-${ID}'`} ~/.ssh/authorized_keys > ~/.ssh/ak.tmp; mv ~/.ssh/ak.tmp ~/.ssh/authorized_keys; chmod 600 ~/.ssh/authorized_keys; rm -rf ${ROOT()}`,
      )
      .catch(() => undefined);
    await ssh.close();
  }
  if (local) rmSync(local, { recursive: true, force: true });
});

describe('git workflow over SSH + Slurm', () => {
  let firstRun: RunSummary;

  it('clones at the branch head with the deploy key, runs postclone and the generator in the clone, and the tasks see SCRIPTHUT_GIT_*', async () => {
    const sha = heads.wf!;
    const created = await rt.runWorkflow('gitwf');
    firstRun = created;
    expect(created.run.git).toMatchObject({ repo: repoUrl('wf'), branch: 'main', sha });
    expect(created.run.maxConcurrent).toBe(2);
    const done = await waitDone(created.run.id);
    expect(done.status).toBe('completed');
    expect(tasks(created.run.id).map((t) => [t.spec.id, t.state])).toEqual([
      ['show', 'completed'],
      ['sub', 'completed'],
    ]);
    const clone = `${HOME()}/scripthut-test-workflows/${ID}/clones/${sha}`;
    const show = vars(await log(created.run.id, 'show'));
    expect(show).toMatchObject({
      REPO: repoUrl('wf'),
      BRANCH: 'main',
      SHA: sha,
      WORKDIR: clone,
      GEN: sha, // the generator command saw SCRIPTHUT_GIT_SHA too
      KEYMODE: '600', // the deploy key was 0600 while postclone ran
      BIG: '0', // postclone removed big/
      ENVVAR: 'from-environment',
      INIT: 'yes',
    });
    expect(vars(await log(created.run.id, 'sub'))).toEqual({ SUBDIR: `${clone}/sub`, HERE: 'inside-sub' });
    expect(await sh(`test -f ${clone}/${CLONE_MARKER} && cat ${ROOT()}/postclone-count | wc -l`)).toBe('1\n');
  });

  it('never puts the deploy key on a command line and removes the uploaded copy', async () => {
    const key = readFileSync(deployKey, 'utf8');
    const body = key
      .split('\n')
      .filter((l) => l && !l.startsWith('-----'))
      .map((l) => l.trim());
    const entries = rt.getBackend('hpc').commandLog;
    expect(entries.length).toBeGreaterThan(0);
    const logged = JSON.stringify(entries);
    for (const line of body) expect(logged).not.toContain(line);
    // every uploaded temp file (the log shows its removal) is gone
    const removed = entries
      .map((e) => /^rm -f -- '?([^' ]+)'?$/.exec(e.command)?.[1])
      .filter((p): p is string => Boolean(p));
    expect(removed.length).toBeGreaterThan(0);
    for (const p of removed) expect(await sh(`test -e ${p} && echo present || echo gone`)).toBe('gone\n');
    // the clone itself never carries the key
    expect(await sh(`grep -rl 'OPENSSH PRIVATE KEY' ${ROOT()}/clones || true`)).toBe('');
  });

  it('reuses a complete clone, and re-clones one whose marker is missing (interrupted)', async () => {
    const sha = heads.wf!;
    const clone = `${ROOT()}/clones/${sha}`;
    const again = await rt.runWorkflow('gitwf');
    expect(again.run.id).not.toBe(firstRun.run.id);
    expect((await waitDone(again.run.id)).status).toBe('completed');
    expect(await sh(`wc -l < ${ROOT()}/postclone-count`)).toBe('1\n'); // reused: postclone did not run

    // interrupted clone: the directory exists but has no marker (and a leftover temp dir)
    await sh(
      `rm -f ${clone}/${CLONE_MARKER}; touch ${clone}/half-written; mkdir -p ${ROOT()}/clones/.clone-${sha.slice(0, 12)}-zzzzzz`,
    );
    const third = await rt.runWorkflow('gitwf');
    expect((await waitDone(third.run.id)).status).toBe('completed');
    expect(await sh(`wc -l < ${ROOT()}/postclone-count`)).toBe('2\n');
    expect(
      await sh(
        `test -e ${clone}/half-written && echo kept || echo replaced; test -f ${clone}/${CLONE_MARKER} && echo marked`,
      ),
    ).toBe('replaced\nmarked\n');
  });

  it('a failing postclone is one clear error, creates no run, and leaves no clone to reuse', async () => {
    const before = rt.listRuns().total;
    const err = (await rt.runWorkflow('gitwf-badpostclone').catch((e: unknown) => e)) as ScriptHutError;
    expect(ScriptHutError.is(err)).toBe(true);
    expect(err.code).toBe('workflow_command_failed');
    expect(err.message).toContain('exit code 4');
    expect(err.message).toContain('npm ERR! cannot install');
    expect(rt.listRuns().total).toBe(before);
    expect(await sh(`ls -A ${ROOT()}/clones-bad | grep -v '^.scripthut-locks$' || true`)).toBe('');
  });

  it('dry run: resolved tasks, job scripts and log paths, nothing submitted', async () => {
    const before = rt.listRuns().total;
    const dry = await rt.dryRunWorkflow('gitwf');
    expect(rt.listRuns().total).toBe(before);
    expect(dry.git?.sha).toBe(heads.wf);
    expect(dry.tasks.map((t) => t.task.id)).toEqual(['show', 'sub']);
    const sub = dry.tasks.find((t) => t.task.id === 'sub')!;
    expect(sub.workingDir).toMatch(new RegExp(`/${heads.wf}/sub$`));
    expect(sub.script).toContain('#SBATCH');
    expect(sub.script).toContain(`SCRIPTHUT_GIT_SHA=${heads.wf}`);
    expect(sub.stdoutPath).toContain(dry.logDir.replace(/\/+$/, ''));
  });
});

describe('generator failures', () => {
  it('a failing command gives one error with exit code and stderr tail, and no run', async () => {
    const before = rt.listRuns().total;
    const err = (await rt.runWorkflow('failing').catch((e: unknown) => e)) as ScriptHutError;
    expect(err.code).toBe('workflow_command_failed');
    expect(err.message).toContain('exited with code 3');
    expect(err.message).toContain('generator exploded: missing input');
    expect(rt.listRuns().total).toBe(before);
    await expect(rt.dryRunWorkflow('failing')).rejects.toThrow(/exited with code 3/);
  });

  it('invalid JSON gives one error naming the exit code and the stderr tail, and no run', async () => {
    const before = rt.listRuns().total;
    const err = (await rt.runWorkflow('notjson').catch((e: unknown) => e)) as ScriptHutError;
    expect(err.code).toBe('task_json_invalid');
    expect(err.message).toContain('not valid JSON');
    expect(err.message).toContain('exited with code 0');
    expect(err.message).toContain('warming cache');
    expect(rt.listRuns().total).toBe(before);
  });
});

describe('sources', () => {
  it('git source: synced on the ScriptHut host, ** glob, invalid JSON warned, run clones on the backend at the same commit', async () => {
    const view = await rt.syncSource('jobs');
    expect(view.error).toBeNull();
    expect(view.commit).toBe(heads.src);
    expect(view.workflows.map((w) => [w.file, w.description])).toEqual([
      ['pipelines/a/deep.hut.json', 'Deep'],
      ['top.hut.json', 'Top'],
    ]);
    expect(view.warnings.map((w) => w.path)).toEqual(['pipelines/broken.hut.json']);

    const created = await rt.runSourceWorkflow('jobs', 'pipelines/a/deep.hut.json');
    expect(created.run.git?.sha).toBe(heads.src);
    expect((await waitDone(created.run.id)).status).toBe('completed');
    const clone = `${HOME()}/scripthut-test-workflows/${ID}/clones/${heads.src}`;
    expect(vars(await log(created.run.id, 'deep'))).toEqual({
      SHA: heads.src,
      WORKDIR: `${clone}/pipelines/a`,
      DATA: 'deep-data',
    });
    const dry = await rt.dryRunSourceWorkflow('jobs', 'top.hut.json');
    expect(dry.tasks.map((t) => t.task.id)).toEqual(['t']);
    expect(dry.tasks[0]!.workingDir).toBe(`${CLONES()}/${heads.src}`);
    await expect(rt.runSourceWorkflow('jobs', 'pipelines/broken.hut.json')).rejects.toMatchObject({
      code: 'not_found',
    });
  });

  it('path source: discovered over SSH, working_dir relative to the source path', async () => {
    const view = await rt.syncSource('shared');
    expect(view.error).toBeNull();
    expect(view.workflows.map((w) => w.file)).toEqual(['flows/nested/one.json', 'flows/two.json']);
    const created = await rt.runSourceWorkflow('shared', 'flows/nested/one.json');
    expect(created.run.git).toBeNull();
    expect((await waitDone(created.run.id)).status).toBe('completed');
    expect(vars(await log(created.run.id, 'p1'))).toEqual({
      WORKDIR: `${ROOT()}/paths/data`,
      INPUT: 'path-input',
    });
    expect(vars(await log(created.run.id, 'p2'))).toEqual({ HOMEDIR: `${ROOT()}/paths` });
  });
});

describe('projects', () => {
  it('lists the sflow.json files of the repository on the backend', async () => {
    const wfs = await rt.listProjectWorkflows('proj');
    expect(wfs.map((w) => w.file)).toEqual(['analysis/sflow.json', 'sflow.json']);
    expect(wfs.every((w) => w.maxConcurrent === 1)).toBe(true);
    const dry = await rt.dryRunProjectWorkflow('proj', 'analysis/sflow.json');
    expect(dry.tasks.map((t) => t.workingDir)).toEqual([`${ROOT()}/proj/analysis`]);
    expect(dry.tasks[0]!.script).toContain('echo ANALYSIS=$PWD');
  });

  it('runs one with max_concurrent 1; generated tasks with a wildcard fan-in run inside the project', async () => {
    const created = await rt.runProjectWorkflow('proj', 'sflow.json');
    expect(created.run.maxConcurrent).toBe(1);
    const done = await waitDone(created.run.id, 240_000);
    expect(done.status).toBe('completed');
    const all = tasks(created.run.id);
    expect(all.map((t) => t.spec.id).sort()).toEqual(['gen', 'merge', 'part.1', 'part.2', 'part.3', 'solo']);
    expect(all.every((t) => t.state === 'completed')).toBe(true);
    const merge = all.find((t) => t.spec.id === 'merge')!;
    expect(merge.spec.deps.sort()).toEqual(['part.1', 'part.2', 'part.3']);
    expect(vars(await log(created.run.id, 'merge'))).toEqual({ MERGED: '3' });
    expect(vars(await log(created.run.id, 'solo'))).toEqual({ SOLO: `${ROOT()}/proj` });

    // max_concurrent 1: no two tasks' [start, end] intervals overlap (recorded on the node)
    const trace = (await sh(`cat ${ROOT()}/proj/trace`)).trim().split('\n');
    const spans = new Map<string, { start: bigint; end: bigint }>();
    for (const line of trace) {
      const [kind, id, ns] = line.split(' ');
      const s = spans.get(id!) ?? { start: 0n, end: 0n };
      if (kind === 'start') s.start = BigInt(ns!);
      else s.end = BigInt(ns!);
      spans.set(id!, s);
    }
    expect([...spans.keys()].sort()).toEqual(['gen', 'merge', 'part.1', 'part.2', 'part.3', 'solo']);
    const sorted = [...spans.values()].sort((a, b) => (a.start < b.start ? -1 : 1));
    for (let i = 1; i < sorted.length; i++) expect(sorted[i]!.start >= sorted[i - 1]!.end).toBe(true);
    // the fan-in ran after every part
    const m = spans.get('merge')!;
    for (const p of ['part.1', 'part.2', 'part.3']) expect(m.start >= spans.get(p)!.end).toBe(true);
  });
});
