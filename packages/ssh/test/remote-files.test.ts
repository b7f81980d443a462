import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BackendError } from '@scripthut/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  buildReadLogProgram,
  completeUtf8,
  parseReadFileAnswer,
  parseReadLogAnswer,
  readRemoteFile,
  readRemoteLog,
  remoteHome,
} from '../src/remote-files.js';
import { type LocalBash, localBash } from './local-bash.js';

let bash: LocalBash;
beforeEach(() => {
  bash = localBash();
});
afterEach(() => bash.dispose());

describe('completeUtf8', () => {
  it('drops a trailing partial character and keeps complete ones', () => {
    const euro = Buffer.from('€'); // 3 bytes
    expect(completeUtf8(Buffer.concat([Buffer.from('a'), euro.subarray(0, 2)]))).toEqual(Buffer.from('a'));
    expect(completeUtf8(Buffer.concat([Buffer.from('a'), euro.subarray(0, 1)]))).toEqual(Buffer.from('a'));
    expect(completeUtf8(Buffer.from('aé€'))).toEqual(Buffer.from('aé€'));
    expect(completeUtf8(Buffer.from('😀').subarray(0, 3))).toEqual(Buffer.alloc(0));
    expect(completeUtf8(Buffer.alloc(0))).toEqual(Buffer.alloc(0));
  });
});

describe('read-log program', () => {
  it('quotes the path and parses its answer', () => {
    const program = buildReadLogProgram("/tmp/it's here.log", { tailBytes: 10, maxBytes: 5 });
    expect(program).toContain(`f='/tmp/it'\\''s here.log'`);
    expect(program).toContain('o=$(( s > 10 ? s - 10 : 0 ))');
    expect(program).toContain('head -c 5');
    expect(parseReadLogAnswer('MISSING\n')).toEqual({ missing: true });
    expect(parseReadLogAnswer(`SIZE 3\nOFFSET 1\nDATA ${Buffer.from('bc').toString('base64')}\n`)).toEqual({
      missing: false,
      size: 3,
      offset: 1,
      data: Buffer.from('bc'),
    });
    expect(() => parseReadLogAnswer('SIZE 3\n')).toThrow(/unexpected answer/);
  });
});

describe('readRemoteLog', () => {
  it('reads from offsets, tails, and reports missing files', async () => {
    mkdirSync(join(bash.home, 'logs'));
    writeFileSync(join(bash.home, 'logs/a.out'), 'hello world\n');
    const path = join(bash.home, 'logs/a.out');
    expect(await readRemoteLog(bash.run, path, {})).toEqual({ content: 'hello world\n', nextOffset: 12 });
    expect(await readRemoteLog(bash.run, path, { offset: 6, maxBytes: 3 })).toEqual({
      content: 'wor',
      nextOffset: 9,
    });
    expect(await readRemoteLog(bash.run, path, { tailBytes: 6 })).toEqual({
      content: 'world\n',
      nextOffset: 12,
    });
    expect(await readRemoteLog(bash.run, path, { offset: 12 })).toEqual({ content: '', nextOffset: 12 });
    expect(await readRemoteLog(bash.run, `${path}.none`, { offset: 3 })).toEqual({
      content: '',
      nextOffset: 3,
      missing: true,
    });
    expect(await readRemoteLog(bash.run, null, { offset: 4 })).toEqual({
      content: '',
      nextOffset: 4,
      missing: true,
    });
    expect(bash.calls.at(-1)?.options.logAs).toBe(`read from byte 3 of ${path}.none`);
  });

  it('never splits a multi-byte character across chunks, except at the end of the file', async () => {
    writeFileSync(join(bash.home, 'u.txt'), 'aé€b');
    const path = join(bash.home, 'u.txt');
    const first = await readRemoteLog(bash.run, path, { offset: 0, maxBytes: 4 });
    expect(first).toEqual({ content: 'aé', nextOffset: 3 });
    expect(await readRemoteLog(bash.run, path, { offset: first.nextOffset, maxBytes: 10 })).toEqual({
      content: '€b',
      nextOffset: 7,
    });
    writeFileSync(join(bash.home, 'cut.txt'), Buffer.from('a€').subarray(0, 3));
    const cut = await readRemoteLog(bash.run, join(bash.home, 'cut.txt'), { offset: 0 });
    expect(cut.nextOffset).toBe(3);
  });

  it('reports an unreadable answer as a transient BackendError', async () => {
    const err = await readRemoteLog(
      async () => ({ stdout: 'garbage', stderr: 'boom', exitCode: 1 }),
      '/x',
      {},
    ).catch((e) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect(err.transient).toBe(true);
    expect(err.message).toBe('cannot read log /x: boom');
  });
});

describe('readRemoteFile', () => {
  it('resolves relative paths against cwd, fails on missing and too large files', async () => {
    mkdirSync(join(bash.home, 'repo dir'));
    writeFileSync(join(bash.home, 'repo dir/tasks.json'), '{"tasks":[]}');
    expect(await readRemoteFile(bash.run, 'tasks.json', '~/repo dir', 'hpc')).toBe('{"tasks":[]}');
    await expect(readRemoteFile(bash.run, 'nope.json', '~/repo dir', 'hpc')).rejects.toThrow(
      /cannot read nope.json on backend hpc: no such file/,
    );
    const big = await readRemoteFile(bash.run, 'tasks.json', '~/repo dir', 'hpc', 5).catch((e) => e);
    expect(big).toBeInstanceOf(BackendError);
    expect(big.transient).toBe(false);
    expect(big.message).toMatch(/file too large: 12 bytes/);
  });
});

describe('remoteHome', () => {
  it('asks for $HOME once and resolves ~, ~/x and relative paths', async () => {
    const home = remoteHome(bash.run, 'hpc');
    expect(home.resolvePath('~/a')).toBe('~/a');
    expect(await home.homeDir()).toBe(bash.home);
    expect(await home.homeDir()).toBe(bash.home);
    expect(bash.calls).toHaveLength(1);
    expect(home.resolvePath('~')).toBe(bash.home);
    expect(home.resolvePath('~/a/b')).toBe(`${bash.home}/a/b`);
    expect(home.resolvePath('rel')).toBe(`${bash.home}/rel`);
    expect(home.resolvePath('/abs')).toBe('/abs');
  });

  it('throws a transient error for a non-absolute answer and retries later', async () => {
    let answer = 'not-a-path';
    const home = remoteHome(async () => ({ stdout: answer, stderr: '', exitCode: 0 }), 'hpc');
    await expect(home.homeDir()).rejects.toThrow(/cannot resolve the home directory on backend hpc/);
    answer = '/home/me/';
    await expect(home.homeDir()).rejects.toThrow(/cannot resolve/);
    // The answer is framed: noise printed around it (rc files of a login shell) is ignored.
    answer = 'Welcome to the cluster!\n/not/this\n@@home /home/me/\nmodule: loaded\n';
    expect(await home.homeDir()).toBe('/home/me');
  });
});

describe('readRemoteFile framing', () => {
  it('takes the content between the markers, byte-exact, whatever is printed around it', async () => {
    const text = '{"tasks":[{"id":"ü"}]}\n\n';
    const b64 = Buffer.from(text).toString('base64');
    const size = Buffer.byteLength(text);
    const noisy = async () => ({
      stdout: `banner\n@@file ${size}\n${b64.slice(0, 10)}\n${b64.slice(10)}\n@@end\nbye\n`,
      stderr: '',
      exitCode: 0,
    });
    expect(await readRemoteFile(noisy, 'x.json', null, 'hpc')).toBe(text);
    expect(parseReadFileAnswer(`@@file ${size + 1}\n${b64}\n@@end\n`)).toBeNull();
    expect(parseReadFileAnswer(`@@file ${size}\n${b64}\n`)).toBeNull();
    const truncated = async () => ({ stdout: `@@file ${size}\n${b64}\n`, stderr: '', exitCode: 0 });
    await expect(readRemoteFile(truncated, 'x.json', null, 'hpc')).rejects.toThrow(/incomplete/);
  });

  it('reads a working directory and a file name that start with "-" literally', async () => {
    mkdirSync(join(bash.home, '-P'));
    writeFileSync(join(bash.home, '-P/-n'), 'dash');
    expect(await readRemoteFile(bash.run, '-n', '-P', 'hpc')).toBe('dash');
  });
});
