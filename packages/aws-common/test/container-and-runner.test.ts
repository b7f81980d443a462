import type { SubmitRequest } from '@scripthut/core';
import { describe, expect, it } from 'vitest';
import {
  awsCredentials,
  containerEnvAndDir,
  DEFAULT_CLONE_DIR,
  gitCloneBlock,
  localCommandRunner,
  renderContainerScript,
} from '../src/index.js';

const request = (over: Partial<SubmitRequest> = {}): SubmitRequest =>
  ({
    runId: 'ab12cd34',
    taskId: 't1',
    tag: 'shab12cd34t001',
    task: { id: 't1', name: 'Task one', command: 'echo hi' },
    env: { A: '1', SECRET: 's3cr3t' },
    secretEnvNames: ['SECRET'],
    extraInit: 'module load x',
    workingDir: '/work/dir',
    ...over,
  }) as unknown as SubmitRequest;

describe('container task script', () => {
  it('keeps the working dir and env of non-git requests', () => {
    expect(containerEnvAndDir(request())).toEqual({
      env: { A: '1', SECRET: 's3cr3t' },
      workingDir: '/work/dir',
    });
  });

  it('maps git workflows into the container clone', () => {
    const git = { repo: 'https://example.org/r.git', sha: 'abc', branch: 'main', cloneDir: '/host/clone/' };
    const inClone = containerEnvAndDir(request({ git, workingDir: '/host/clone/sub' } as never));
    expect(inClone.workingDir).toBe(`${DEFAULT_CLONE_DIR}/sub`);
    expect(inClone.env).toMatchObject({
      SCRIPTHUT_CLONE_DIR: DEFAULT_CLONE_DIR,
      SCRIPTHUT_GIT_REPO: git.repo,
      SCRIPTHUT_GIT_SHA: 'abc',
      SCRIPTHUT_GIT_BRANCH: 'main',
    });
    expect(containerEnvAndDir(request({ git, workingDir: './rel/' } as never)).workingDir).toBe(
      `${DEFAULT_CLONE_DIR}/rel`,
    );
    const custom = containerEnvAndDir(
      request({ git, workingDir: '/host/clone', env: { SCRIPTHUT_CLONE_DIR: '/c' } } as never),
    );
    expect(custom.workingDir).toBe('/c');
    expect(containerEnvAndDir(request({ git, workingDir: '/elsewhere' } as never)).workingDir).toBe(
      '/elsewhere',
    );
  });

  it('renders env names (never values), extra_init, the clone block for git and the command', () => {
    const plain = renderContainerScript(request());
    expect(plain).toContain('echo hi');
    expect(plain).toContain('module load x');
    expect(plain).not.toContain('s3cr3t');
    expect(plain).not.toContain('git clone');
    const git = { repo: 'r', sha: 'abc', branch: 'main' };
    expect(renderContainerScript(request({ git } as never))).toContain(gitCloneBlock());
  });
});

describe('localCommandRunner', () => {
  it('runs bash locally with cwd, env and stdin', async () => {
    const r = localCommandRunner();
    expect(r.remote).toBe(false);
    const out = await r.exec('printf "%s|%s|" "$PWD" "$X"; cat', {
      cwd: '/tmp',
      env: { X: 'y' },
      stdin: 'in',
    });
    expect(out).toEqual({ stdout: '/tmp|y|in', stderr: '', exitCode: 0 });
    expect((await r.exec('exit 7')).exitCode).toBe(7);
  });

  it('kills a command that outlives its timeout (exit 124, note on stderr)', async () => {
    const slow = await localCommandRunner().exec('sleep 5', { timeoutMs: 100 });
    expect(slow.exitCode).toBe(124);
    expect(slow.stderr).toContain('timed out after 100 ms');
  });
});

describe('awsCredentials', () => {
  it('returns a lazy provider for a profile and for the default chain', () => {
    expect(typeof awsCredentials('some-profile')).toBe('function');
    expect(typeof awsCredentials(null)).toBe('function');
  });
});
