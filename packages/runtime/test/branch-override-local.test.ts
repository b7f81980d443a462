/**
 * `--branch`/`--commit` for one run of a git workflow, and "rerun as new" (issue 21), on the local
 * backend with a real git repository (a local path as the remote).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunSummary } from '@scripthut/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../src/index.js';

let dir: string;
let rt: Runtime;
const heads: Record<string, string> = {};

function git(args: string[], cwd: string): string {
  return execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {
    cwd,
    encoding: 'utf8',
  }).trim();
}

function commitTasks(repo: string, label: string): string {
  const tasks = { tasks: [{ id: 'show', name: 'show', command: `echo ${label}`, working_dir: '~' }] };
  writeFileSync(join(repo, 'tasks.json'), JSON.stringify(tasks));
  git(['add', '-A'], repo);
  git(['commit', '--quiet', '-m', label], repo);
  return git(['rev-parse', 'HEAD'], repo);
}

async function waitDone(runId: string): Promise<RunSummary> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const s = rt.getRun(runId);
    if (s.status !== 'pending' && s.status !== 'running') return s;
    if (Date.now() > deadline) throw new Error(`run ${runId} not done`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const commandOf = (runId: string) => rt.listTasks(runId).items[0]!.spec.command;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sh-branch-'));
  const repo = join(dir, 'repo');
  git(['init', '--quiet', '--initial-branch=main', repo], dir);
  heads.main1 = commitTasks(repo, 'main-1');
  git(['checkout', '--quiet', '-b', 'exp'], repo);
  heads.exp = commitTasks(repo, 'exp-1');
  git(['checkout', '--quiet', 'main'], repo);
  heads.main2 = commitTasks(repo, 'main-2');
  writeFileSync(
    join(dir, 'scripthut.yaml'),
    [
      'backends:',
      '  - name: local',
      '    type: local',
      'workflows:',
      '  - name: gitwf',
      '    backend: local',
      `    git: { repo: ${repo}, branch: main, clone_dir: ${join(dir, 'clones')} }`,
      '    command: cat tasks.json',
      '  - name: plain',
      '    backend: local',
      '    command: echo []',
    ].join('\n'),
  );
  rt = await createRuntime({
    cwd: dir,
    dataDir: join(dir, 'data'),
    pollIntervalMs: 200,
    logger: { info() {}, warn() {}, error() {} },
  });
  await rt.start();
});
afterAll(async () => {
  await rt?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('branch override and rerun as new (local backend, real git)', () => {
  it('runs the configured branch by default, another branch or an exact commit for one run, and records it', async () => {
    const head = await rt.runWorkflow('gitwf');
    expect(head.run.git).toMatchObject({ branch: 'main', sha: heads.main2 });
    expect(commandOf(head.run.id)).toBe('echo main-2');

    const exp = await rt.runWorkflow('gitwf', { branch: 'exp' });
    expect(exp.run.git).toMatchObject({ branch: 'exp', sha: heads.exp });
    expect(commandOf(exp.run.id)).toBe('echo exp-1');

    const old = await rt.runWorkflow('gitwf', { commit: heads.main1! });
    expect(old.run.git).toMatchObject({ branch: 'main', sha: heads.main1 });
    expect(commandOf(old.run.id)).toBe('echo main-1');
    await waitDone(old.run.id);

    // the config is unchanged: the next plain run is on main's head again
    expect((await rt.runWorkflow('gitwf')).run.git?.sha).toBe(heads.main2);
  });

  it('rerun as new generates the tasks again at the run’s commit and branch', async () => {
    const exp = await rt.runWorkflow('gitwf', { branch: 'exp' });
    await waitDone(exp.run.id);
    const again = await rt.rerunRun(exp.run.id, 'new');
    expect(again.run.id).not.toBe(exp.run.id);
    expect(again.run.origin).toEqual({ kind: 'workflow', name: 'gitwf' });
    expect(again.run.git).toMatchObject({ branch: 'exp', sha: heads.exp });
    expect(commandOf(again.run.id)).toBe('echo exp-1');
  });

  it.each([
    [{ branch: '--upload-pack=touch /tmp/x' }, /branch: invalid branch name/],
    [{ branch: 'a..b' }, /branch: invalid branch name/],
    [{ commit: 'abc' }, /commit: must be a full commit hash/],
  ])('refuses %o before anything runs', async (options, message) => {
    const before = rt.listRuns().total;
    await expect(rt.runWorkflow('gitwf', options)).rejects.toThrow(message);
    expect(rt.listRuns().total).toBe(before);
  });

  it('refuses --branch for a workflow without git', async () => {
    await expect(rt.runWorkflow('plain', { branch: 'exp' })).rejects.toThrow(/not a git workflow/);
  });
});
