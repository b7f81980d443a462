/**
 * Generator commands and backend clones, with real git on this host (LocalCommandRunner and bare
 * repositories in a temp dir). The SSH + Slurm version is test/cluster/workflows.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCommandRunner } from '@scripthut/backend-local';
import { type CommandRunner, parseTaskDocument, ScriptHutError } from '@scripthut/core';
import { describe, expect, it } from 'vitest';
import {
  buildCloneScript,
  CLONE_MARKER,
  type GitCloneSpec,
  generateTasks,
  parseLsRemote,
  prepareClone,
  resolveCommit,
  runGeneratorCommand,
  validateBranchName,
} from '../src/generator.js';

const runner = new LocalCommandRunner();
const SHA = 'a'.repeat(40);

function git(args: string[], cwd?: string): string {
  return execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, GIT_TERMINAL_PROMPT: '0' },
  }).trim();
}

/** A bare repo with branch `main` holding `files`; returns its path and the branch head. */
function bareRepo(files: Record<string, string>): {
  url: string;
  head: () => string;
  push: (f: Record<string, string>) => string;
} {
  const root = mkdtempSync(join(tmpdir(), 'sh-gen-'));
  const url = join(root, 'repo.git');
  git(['init', '--quiet', '--bare', '--initial-branch=main', url]);
  const work = join(root, 'work');
  git(['init', '--quiet', '--initial-branch=main', work]);
  git(['remote', 'add', 'origin', url], work);
  const push = (f: Record<string, string>) => {
    for (const [name, content] of Object.entries(f)) {
      mkdirSync(join(work, name, '..'), { recursive: true });
      writeFileSync(join(work, name), content);
    }
    git(['add', '-A'], work);
    git(['commit', '--quiet', '-m', 'c'], work);
    git(['push', '--quiet', 'origin', 'main'], work);
    return git(['rev-parse', 'HEAD'], work);
  };
  push(files);
  return { url, head: () => git(['rev-parse', 'HEAD'], work), push };
}

function spec(url: string, cloneDir: string, extra: Partial<GitCloneSpec> = {}): GitCloneSpec {
  return { repo: url, branch: 'main', deployKey: null, cloneDir, postclone: null, ...extra };
}

describe('pure helpers', () => {
  it('parseLsRemote takes only the exact branch ref', () => {
    const out = [
      `${'b'.repeat(40)}\trefs/heads/feature/main`,
      `${SHA}\trefs/heads/main`,
      `${'c'.repeat(40)}\trefs/tags/main`,
    ].join('\n');
    expect(parseLsRemote(out, 'main')).toBe(SHA);
    expect(parseLsRemote(out, 'feature/main')).toBe('b'.repeat(40));
    expect(parseLsRemote(out, 'nope')).toBeNull();
    expect(parseLsRemote('garbage refs/heads/main', 'main')).toBeNull();
    expect(parseLsRemote(`${'d'.repeat(64)}\trefs/heads/main`, 'main')).toBe('d'.repeat(64));
  });

  it('validateBranchName rejects option-like and malformed names', () => {
    for (const ok of ['main', 'release/1.2', 'feature_x-y'])
      expect(() => validateBranchName(ok)).not.toThrow();
    for (const bad of [
      '',
      '-x',
      '--upload-pack=evil',
      'a..b',
      'a b',
      'a;b\n',
      'x.lock',
      'a:b',
      'a\\b',
      '/a',
      'a/',
    ]) {
      expect(() => validateBranchName(bad), bad).toThrow(/invalid git branch name/);
    }
  });

  it('buildCloneScript quotes hostile values and rejects a bad pinned commit', () => {
    const script = buildCloneScript({
      repo: "x'; touch /tmp/pwned; '",
      branch: 'main',
      deployKey: null,
      cloneDir: '~/repos dir',
      postclone: 'echo "$(id)"',
    });
    expect(script).toContain(`repo='x'\\''; touch /tmp/pwned; '\\'''`);
    expect(script).toContain(`parent="$HOME"/'repos dir'`);
    expect(script).toContain(`postclone='echo "$(id)"'`);
    expect(() => buildCloneScript({ ...spec('u', '/c'), commit: 'HEAD; rm -rf /' })).toThrow(
      /invalid commit/,
    );
  });
});

describe('generator commands', () => {
  it('a failing command gives one error with the exit code and the stderr tail', async () => {
    const err = await runGeneratorCommand(runner, 'echo partial; echo "boom: no such file" >&2; exit 7', {
      label: 'workflow "w"',
    }).catch((e: unknown) => e);
    expect(ScriptHutError.is(err)).toBe(true);
    const e = err as ScriptHutError;
    expect(e.code).toBe('workflow_command_failed');
    expect(e.message).toContain('workflow "w": command exited with code 7');
    expect(e.message).toContain('boom: no such file');
    expect(e.details).toMatchObject({ exitCode: 7 });
  });

  it('keeps only the tail of a long stderr', async () => {
    const err = (await runGeneratorCommand(
      runner,
      'for i in $(seq 1 3000); do echo "line $i" >&2; done; exit 3',
      {
        label: 'g',
      },
    ).catch((e: unknown) => e)) as ScriptHutError;
    expect(err.message).toContain('line 3000');
    expect(err.message).not.toContain('line 1\n');
    expect(err.message.length).toBeLessThan(2500);
  });

  it('invalid JSON on stdout gives one error with exit code, stderr tail and the parser issue', async () => {
    const parse = (out: string) => parseTaskDocument(out, { knownEnvironments: [], source: 'workflow "w"' });
    const err = (await generateTasks(
      runner,
      'echo "warning: cache cold" >&2; echo "{not json"',
      { label: 'workflow "w"' },
      parse,
    ).catch((e: unknown) => e)) as ScriptHutError;
    expect(err.code).toBe('task_json_invalid');
    expect(err.message).toContain('exited with code 0');
    expect(err.message).toContain('not valid JSON');
    expect(err.message).toContain('warning: cache cold');
    expect(err.message).toContain('{not json');
    expect(err.issues.length).toBeGreaterThan(0);

    const ok = await generateTasks(
      runner,
      `echo '{"tasks":[{"id":"a","name":"a","command":"true"}]}'`,
      { label: 'w' },
      parse,
    );
    expect(ok.tasks.map((t) => t.id)).toEqual(['a']);
  });

  it('runs in cwd with the given env', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sh-gen-'));
    const out = await runGeneratorCommand(runner, 'echo "$PWD|$SCRIPTHUT_GIT_SHA"', {
      cwd: dir,
      env: { SCRIPTHUT_GIT_SHA: SHA },
      label: 'g',
    });
    expect(out.trim()).toBe(`${dir}|${SHA}`);
  });
});

describe('prepareClone (local git)', () => {
  it('clones into <clone_dir>/<sha>, runs postclone in the final directory, writes the marker, then reuses it', async () => {
    const repo = bareRepo({ 'gen.sh': 'echo hi\n', 'big/file': 'x' });
    const cloneDir = join(mkdtempSync(join(tmpdir(), 'sh-clones-')), 'clones');
    const s = spec(repo.url, cloneDir, { postclone: 'rm -rf big && pwd > .postclone-pwd' });
    const first = await prepareClone(runner, s);
    expect(first).toEqual({ sha: repo.head(), path: `${cloneDir}/${repo.head()}`, reused: false });
    expect(readFileSync(join(first.path, 'gen.sh'), 'utf8')).toBe('echo hi\n');
    expect(existsSync(join(first.path, 'big'))).toBe(false);
    expect(readFileSync(join(first.path, '.postclone-pwd'), 'utf8').trim()).toBe(first.path);
    expect(existsSync(join(first.path, CLONE_MARKER))).toBe(true);
    expect(git(['rev-parse', 'HEAD'], first.path)).toBe(repo.head());
    // no temp dirs left
    expect(readdirSync(cloneDir).filter((n) => n.startsWith('.clone-'))).toEqual([]);

    const again = await prepareClone(runner, s);
    expect(again).toEqual({ ...first, reused: true });

    // a new push gives a new directory
    const next = repo.push({ 'gen.sh': 'echo v2\n' });
    const third = await prepareClone(runner, s);
    expect(third.sha).toBe(next);
    expect(third.reused).toBe(false);
    expect(readFileSync(join(third.path, 'gen.sh'), 'utf8')).toBe('echo v2\n');
    expect(await resolveCommit(runner, s)).toBe(next);
  });

  it('replaces a directory without the marker and ignores leftover temp dirs', async () => {
    const repo = bareRepo({ 'a.txt': 'a' });
    const cloneDir = mkdtempSync(join(tmpdir(), 'sh-clones-'));
    const sha = repo.head();
    mkdirSync(join(cloneDir, sha));
    writeFileSync(join(cloneDir, sha, 'half-written'), '');
    mkdirSync(join(cloneDir, `.clone-${sha.slice(0, 12)}-abcdef`));
    const r = await prepareClone(runner, spec(repo.url, cloneDir));
    expect(r.reused).toBe(false);
    expect(existsSync(join(r.path, 'half-written'))).toBe(false);
    expect(readFileSync(join(r.path, 'a.txt'), 'utf8')).toBe('a');
  });

  it('a failing postclone fails with its exit code, leaves nothing to reuse, and the next attempt clones again', async () => {
    const repo = bareRepo({ 'a.txt': 'a' });
    const cloneDir = mkdtempSync(join(tmpdir(), 'sh-clones-'));
    const flag = join(cloneDir, 'flag');
    const s = spec(repo.url, cloneDir, {
      postclone: `echo ran >> marker-run; if [ ! -e ${flag} ]; then echo "pip: resolution failed" >&2; exit 9; fi`,
    });
    const err = (await prepareClone(runner, s).catch((e: unknown) => e)) as ScriptHutError;
    expect(err.code).toBe('workflow_command_failed');
    expect(err.message).toContain('exit code 9');
    expect(err.message).toContain('pip: resolution failed');
    expect(err.message).toContain('postclone failed');
    expect(readdirSync(cloneDir).filter((n) => !n.startsWith('.scripthut-locks'))).toEqual([]);
    writeFileSync(flag, '');
    const ok = await prepareClone(runner, s);
    expect(ok.reused).toBe(false);
    expect(readFileSync(join(ok.path, 'marker-run'), 'utf8')).toBe('ran\n');
  });

  it('clones a pinned commit even after the branch moved on', async () => {
    const repo = bareRepo({ 'v.txt': '1' });
    const pinned = repo.head();
    repo.push({ 'v.txt': '2' });
    const cloneDir = mkdtempSync(join(tmpdir(), 'sh-clones-'));
    const r = await prepareClone(runner, spec(repo.url, cloneDir, { commit: pinned }));
    expect(r.sha).toBe(pinned);
    expect(readFileSync(join(r.path, 'v.txt'), 'utf8')).toBe('1');
  });

  it('an unknown branch or repository is one clear error', async () => {
    const repo = bareRepo({ 'a.txt': 'a' });
    const cloneDir = mkdtempSync(join(tmpdir(), 'sh-clones-'));
    await expect(prepareClone(runner, spec(repo.url, cloneDir, { branch: 'nope' }))).rejects.toThrow(
      /branch nope not found/,
    );
    await expect(prepareClone(runner, spec(`${repo.url}-missing`, cloneDir))).rejects.toThrow(
      /git ls-remote .* failed/,
    );
    await expect(resolveCommit(runner, spec(repo.url, cloneDir, { branch: 'nope' }))).rejects.toThrow(
      /not found/,
    );
  });

  it('uploads the deploy key through withTempFile and points GIT_SSH_COMMAND at it', async () => {
    const keyDir = mkdtempSync(join(tmpdir(), 'sh-key-'));
    const key = join(keyDir, 'deploy');
    writeFileSync(key, 'PRIVATE-KEY-CONTENT\n', { mode: 0o600 });
    const seen: { path?: string; env?: Record<string, string>; command?: string; mode?: string } = {};
    const spy: CommandRunner = {
      remote: true,
      exec: async (command, options) => {
        seen.command = `${command}\n${options?.stdin ?? ''}`;
        seen.env = options?.env;
        seen.mode = execFileSync('stat', ['-c', '%a', seen.path!], { encoding: 'utf8' }).trim();
        return { exitCode: 0, stdout: `SCRIPTHUT_SHA=${SHA}\nSCRIPTHUT_REUSED\n`, stderr: '' };
      },
      withTempFile: async (content, fn) => {
        const p = join(keyDir, 'uploaded');
        writeFileSync(p, content, { mode: 0o600 });
        seen.path = p;
        try {
          return await fn(p);
        } finally {
          execFileSync('rm', ['-f', p]);
        }
      },
    };
    const r = await prepareClone(spy, spec('ssh://git@example.com/x.git', '~/repos', { deployKey: key }));
    expect(r).toEqual({ sha: SHA, path: `~/repos/${SHA}`, reused: true });
    expect(seen.mode).toBe('600');
    expect(seen.env?.GIT_SSH_COMMAND).toBe(
      `ssh -i ${seen.path} -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=accept-new`,
    );
    expect(seen.command).not.toContain('PRIVATE-KEY-CONTENT');
    expect(existsSync(seen.path!)).toBe(false);
    await expect(prepareClone(spy, spec('u', '/c', { deployKey: join(keyDir, 'missing') }))).rejects.toThrow(
      /deploy key .* cannot be read/,
    );
  });
});
