/**
 * `--branch`/`--commit` for git sources and projects (issue 21), on the local backend with a real
 * git repository (a local path as the remote) and a real SQLite store.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunSummary } from '@scripthut/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../src/index.js';

let dir: string;
let repo: string;
let rt: Runtime;
const heads: Record<string, string> = {};

function git(args: string[], cwd: string): string {
  return execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {
    cwd,
    encoding: 'utf8',
  }).trim();
}

/** A commit whose workflow files print `label=<label.txt>` (the task runs in the checkout). */
function commitLabel(label: string, extra: Record<string, string> = {}): string {
  const doc = JSON.stringify({
    tasks: [{ id: 'show', name: 'show', command: 'echo label=$(cat label.txt)' }],
  });
  writeFileSync(join(repo, 'label.txt'), `${label}\n`);
  writeFileSync(join(repo, 'flows', 'show.json'), doc);
  writeFileSync(join(repo, 'sflow.json'), doc);
  for (const [f, text] of Object.entries(extra)) writeFileSync(join(repo, f), text);
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

/** What the run's task printed: the label of the checkout it ran in. */
async function printed(run: RunSummary): Promise<string> {
  expect((await waitDone(run.run.id)).status).toBe('completed');
  const log = (await rt.readTaskLog(run.run.id, 'show', 'stdout')).content;
  return /^label=(\S+)$/m.exec(log)?.[1] ?? `no label in: ${log}`;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sh-git-override-'));
  repo = join(dir, 'repo');
  git(['init', '--quiet', '--initial-branch=main', repo], dir);
  mkdirSync(join(repo, 'flows'));
  heads.main1 = commitLabel('main-1');
  git(['checkout', '--quiet', '-b', 'exp'], repo);
  heads.exp = commitLabel('exp-1', {
    'flows/only-exp.json': JSON.stringify({
      tasks: [{ id: 'show', name: 'show', command: 'echo label=$(cat label.txt)' }],
    }),
  });
  git(['checkout', '--quiet', 'main'], repo);
  heads.main2 = commitLabel('main-2');
  writeFileSync(
    join(dir, 'scripthut.yaml'),
    [
      'backends:',
      '  - name: local',
      '    type: local',
      'sources:',
      '  - name: src',
      '    type: git',
      `    url: ${repo}`,
      '    branch: main',
      '    backend: local',
      "    workflows_glob: 'flows/*.json'",
      `    clone_dir: ${join(dir, 'clones')}`,
      '  - name: plain',
      '    type: path',
      `    path: ${repo}`,
      '    backend: local',
      "    workflows_glob: 'flows/*.json'",
      'projects:',
      '  - name: proj',
      '    backend: local',
      `    path: ${repo}`,
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

describe('branch override for git sources (local backend, real git)', () => {
  it('runs the synced branch by default, another branch or an exact commit for one run, and records it', async () => {
    const head = await rt.runSourceWorkflow('src', 'flows/show.json');
    expect(head.run.git).toMatchObject({ branch: 'main', sha: heads.main2 });
    expect(await printed(head)).toBe('main-2');

    const exp = await rt.runSourceWorkflow('src', 'flows/show.json', { branch: 'exp' });
    expect(exp.run.git).toMatchObject({ repo, branch: 'exp', sha: heads.exp });
    expect(rt.getRun(exp.run.id).run.git?.branch).toBe('exp'); // recorded in the store
    expect(await printed(exp)).toBe('exp-1');

    // a file that exists only on the branch
    const only = await rt.runSourceWorkflow('src', 'flows/only-exp.json', { branch: 'exp' });
    expect(await printed(only)).toBe('exp-1');

    const old = await rt.runSourceWorkflow('src', 'flows/show.json', { commit: heads.main1! });
    expect(old.run.git).toMatchObject({ branch: 'main', sha: heads.main1 });
    expect(await printed(old)).toBe('main-1');

    // the source itself still tracks main: its discovery and the next plain run are on main's head
    expect(rt.listSources().find((s) => s.name === 'src')?.commit).toBe(heads.main2);
    expect((await rt.runSourceWorkflow('src', 'flows/show.json')).run.git?.sha).toBe(heads.main2);

    // rerun as new keeps the run's branch and commit
    const again = await rt.rerunRun(exp.run.id, 'new');
    expect(again.run.git).toMatchObject({ branch: 'exp', sha: heads.exp });
    expect(await printed(again)).toBe('exp-1');
  });

  it.each([
    [{ branch: '--upload-pack=touch /tmp/x' }, 'flows/show.json', /branch: invalid branch name/],
    [{ branch: '-x' }, 'flows/show.json', /branch: invalid branch name/],
    [{ commit: 'abc' }, 'flows/show.json', /commit: must be a full commit hash/],
    [{ branch: 'exp' }, '../../etc/passwd', /file: .* relative to the repository/],
    [{ branch: 'nope' }, 'flows/show.json', /nope/],
  ])('refuses %o (file %s) before anything runs', async (options, file, message) => {
    const before = rt.listRuns().total;
    await expect(rt.runSourceWorkflow('src', file, options)).rejects.toThrow(message);
    expect(rt.listRuns().total).toBe(before);
  });

  it('refuses --branch for a path source', async () => {
    await expect(rt.runSourceWorkflow('plain', 'flows/show.json', { branch: 'exp' })).rejects.toThrow(
      /path source, not git/,
    );
  });
});

describe('branch override for projects (local backend, real git)', () => {
  it('runs the working tree by default, a clone of another branch or commit for one run; the working tree is untouched', async () => {
    const head = await rt.runProjectWorkflow('proj', 'sflow.json');
    expect(head.run.git).toBeNull();
    expect(await printed(head)).toBe('main-2');

    const exp = await rt.runProjectWorkflow('proj', 'sflow.json', { branch: 'exp' });
    expect(exp.run.git).toMatchObject({ repo, branch: 'exp', sha: heads.exp });
    expect(await printed(exp)).toBe('exp-1');

    const old = await rt.runProjectWorkflow('proj', 'sflow.json', { commit: heads.main1! });
    expect(old.run.git).toMatchObject({ branch: 'main', sha: heads.main1 });
    expect(await printed(old)).toBe('main-1');

    expect(git(['rev-parse', '--abbrev-ref', 'HEAD'], repo)).toBe('main');
    expect(git(['rev-parse', 'HEAD'], repo)).toBe(heads.main2);
    expect(git(['status', '--porcelain'], repo)).toBe('');

    const again = await rt.rerunRun(exp.run.id, 'new');
    expect(again.run.git).toMatchObject({ branch: 'exp', sha: heads.exp });
    expect(await printed(again)).toBe('exp-1');
  });

  it('refuses an invalid branch for a project', async () => {
    await expect(rt.runProjectWorkflow('proj', 'sflow.json', { branch: '--help' })).rejects.toThrow(
      /branch: invalid branch name/,
    );
  });
});
