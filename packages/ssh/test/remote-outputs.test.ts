import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OUTPUT_LIMITS, taskOutputPaths } from '@scripthut/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  buildListOutputsProgram,
  listRemoteOutputs,
  parseFindRecords,
  parseListOutputsAnswer,
  readRemoteOutputFile,
} from '../src/remote-outputs.js';
import { type LocalBash, localBash } from './local-bash.js';

let bash: LocalBash;
beforeEach(() => {
  bash = localBash();
});
afterEach(() => bash.dispose());

const identity = (p: string) => p;

describe('output listing program (real bash, real files)', () => {
  it('lists many tasks in ONE command with paths on stdin, sizes, mtimes and both summaries', async () => {
    const a = taskOutputPaths('~/logs', 'run00001', 'a', 0);
    const b = taskOutputPaths(join(bash.home, 'logs dir'), 'run00001', 'b x', 1);
    const aDir = join(bash.home, 'logs/outputs/run00001/tasks/a');
    mkdirSync(join(aDir, 'sub'), { recursive: true });
    writeFileSync(join(aDir, 'plot.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47]));
    writeFileSync(join(aDir, 'sub', 'tab\tname.txt'), 'x');
    writeFileSync(join(aDir, 'sub', 'data.csv'), 'x,y');
    writeFileSync(join(aDir, 'task-summary.md'), '# A\nfine');
    mkdirSync(join(bash.home, 'logs/outputs/run00001/run-summary'), { recursive: true });
    writeFileSync(join(bash.home, 'logs/outputs/run00001/run-summary/a.md'), 'run part of a');
    const found = await listRemoteOutputs(
      bash.run,
      [
        { key: 'k-a', paths: a },
        { key: 'k-b', paths: b },
      ],
      identity,
      'test',
    );
    expect(bash.calls).toHaveLength(1);
    expect(bash.calls[0]!.command).toBe('bash -s');
    // the paths travel in the program text (stdin), not in the command line
    expect(bash.calls[0]!.options.stdin).toContain('logs dir/outputs/run00001/tasks/b_x_1');
    const la = found.get('k-a')!;
    expect(la.missing).toBe(false);
    expect(la.files.map((f) => [f.path, f.size])).toEqual([
      ['plot.png', 4],
      ['sub/data.csv', 3],
      ['task-summary.md', 8],
    ]);
    expect(la.skipped).toBe(1); // a control character (tab) in a name: not recorded
    expect(Date.parse(la.files[0]!.mtime)).toBeGreaterThan(Date.now() - 600_000);
    expect(la.taskSummary).toEqual({ text: '# A\nfine', truncated: false });
    expect(la.runSummary).toEqual({ text: 'run part of a', truncated: false });
    const lb = found.get('k-b')!;
    expect(lb).toMatchObject({ missing: true, files: [], taskSummary: null, runSummary: null });
  });

  it('bounds the listing: 200 files, newline names skipped, big files marked, long summaries cut', async () => {
    const p = taskOutputPaths(bash.home, 'run00002', 't', 0);
    const dir = join(bash.home, 'outputs/run00002/tasks/t');
    mkdirSync(dir, { recursive: true });
    for (let i = 0; i < 230; i++) writeFileSync(join(dir, `f${String(i).padStart(3, '0')}.txt`), 'x');
    writeFileSync(join(dir, 'bad\nname'), 'x');
    writeFileSync(join(dir, 'task-summary.md'), 'é'.repeat(OUTPUT_LIMITS.maxSummaryBytes)); // 2 bytes each
    const found = await listRemoteOutputs(bash.run, [{ key: 'k', paths: p }], identity, 'test');
    const l = found.get('k')!;
    expect(l.files.length).toBe(OUTPUT_LIMITS.maxFiles);
    expect(l.truncated).toBe(true);
    expect(l.files.every((f) => !f.path.includes('\n'))).toBe(true);
    expect(l.taskSummary!.truncated).toBe(true);
    expect(Buffer.byteLength(l.taskSummary!.text)).toBeLessThanOrEqual(OUTPUT_LIMITS.maxSummaryBytes);
    expect(l.taskSummary!.text.endsWith('é')).toBe(true);

    const big = taskOutputPaths(bash.home, 'run00003', 't', 0);
    const bigDir = join(bash.home, 'outputs/run00003/tasks/t');
    mkdirSync(bigDir, { recursive: true });
    writeFileSync(join(bigDir, 'big.bin'), Buffer.alloc(OUTPUT_LIMITS.maxFileBytes + 1));
    writeFileSync(join(bigDir, 'ok.bin'), Buffer.alloc(10));
    const l2 = (await listRemoteOutputs(bash.run, [{ key: 'k', paths: big }], identity, 't')).get('k')!;
    expect(l2.files).toEqual([
      expect.objectContaining({ path: 'big.bin', tooLarge: true }),
      expect.objectContaining({ path: 'ok.bin', size: 10 }),
    ]);
    expect(l2.files[1]!.tooLarge).toBeUndefined();
  });

  it('never follows symbolic links: a linked output directory is missing, linked files are not listed', async () => {
    const secret = join(bash.home, 'secret');
    mkdirSync(secret);
    writeFileSync(join(secret, 'id_rsa'), 'KEY');
    const linked = taskOutputPaths(bash.home, 'run00004', 'l', 0);
    mkdirSync(join(bash.home, 'outputs/run00004/tasks'), { recursive: true });
    symlinkSync(secret, join(bash.home, 'outputs/run00004/tasks/l'));
    const inner = taskOutputPaths(bash.home, 'run00004', 'm', 0);
    const innerDir = join(bash.home, 'outputs/run00004/tasks/m');
    mkdirSync(innerDir);
    symlinkSync(join(secret, 'id_rsa'), join(innerDir, 'key'));
    symlinkSync(secret, join(innerDir, 'dir'));
    writeFileSync(join(innerDir, 'real.txt'), 'r');
    const found = await listRemoteOutputs(
      bash.run,
      [
        { key: 'l', paths: linked },
        { key: 'm', paths: inner },
      ],
      identity,
      't',
    );
    expect(found.get('l')!.missing).toBe(true);
    expect(found.get('m')!.files.map((f) => f.path)).toEqual(['real.txt']);
    await expect(readRemoteOutputFile(bash.run, innerDir, 'key', 1000, 't')).rejects.toThrow(/no such file/);
    await expect(readRemoteOutputFile(bash.run, innerDir, 'dir/id_rsa', 1000, 't')).rejects.toThrow(
      /symbolic link/,
    );
    await expect(
      readRemoteOutputFile(bash.run, innerDir, '../../../../secret/id_rsa', 1000, 't'),
    ).rejects.toThrow(/unsafe output path/);
  });

  it('reads a recorded binary file byte for byte, and refuses one above the cap', async () => {
    const dir = join(bash.home, 'o');
    mkdirSync(dir);
    const bytes = Buffer.from(Array.from({ length: 3000 }, (_, i) => i % 256));
    writeFileSync(join(dir, 'img.png'), bytes);
    expect((await readRemoteOutputFile(bash.run, dir, 'img.png', 5000, 't')).equals(bytes)).toBe(true);
    await expect(readRemoteOutputFile(bash.run, dir, 'img.png', 100, 't')).rejects.toThrow(/too large/);
  });

  it('a program cut short is an error, not an empty listing', () => {
    expect(() => parseListOutputsAnswer('@@o 0\nM\n', 1)).toThrow(/ended early/);
    expect(() => parseListOutputsAnswer('@@o 0\nM\n@@done\n', 2)).toThrow(/no answer for request 1/);
    expect(parseListOutputsAnswer('noise from .bashrc\n@@o 0\nM\n@@done\n', 1)[0]!.missing).toBe(true);
  });

  it('paths that cannot travel on one line are answered missing without a lookup', () => {
    const program = buildListOutputsProgram([{ paths: { dir: '/a\nrm -rf ~', runSummary: '/x' } }]);
    expect(program).not.toContain('rm -rf');
  });

  it('parses find records with tabs in names and skips malformed ones', () => {
    const data = Buffer.from('12\t1700000000.5\ta\tb.txt\0garbage\x003\t1.0\tc\0', 'utf8');
    expect(parseFindRecords(data)).toEqual([
      { path: 'a\tb.txt', size: 12, mtimeMs: 1700000000500 },
      { path: 'c', size: 3, mtimeMs: 1000 },
    ]);
  });
});
