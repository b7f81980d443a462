import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bashRunner } from '../../test/bash-runner.js';
import type { CommandRunner } from '../backend.js';
import { findMissingOutputs, hashInputs } from './programs.js';

const dir = mkdtempSync(join(tmpdir(), 'sh-cache-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
mkdirSync(join(dir, 'data/sub'), { recursive: true });
writeFileSync(join(dir, 'data/a.csv'), 'a\n');
writeFileSync(join(dir, 'data/b.csv'), 'b\n');
writeFileSync(join(dir, 'data/sub/c.csv'), 'c\n');
writeFileSync(join(dir, '-odd name $(touch pwned)'), 'x');

describe('input hashing program (real bash)', () => {
  it('hashes each pattern in one command; globs, directories and ** work; order of matches is irrelevant', async () => {
    const runner = bashRunner();
    const [csv, all, deep, none, nodir] = await hashInputs(runner, [
      { workingDir: dir, pattern: 'data/*.csv' },
      { workingDir: dir, pattern: 'data' },
      { workingDir: dir, pattern: 'data/**/*.csv' },
      { workingDir: dir, pattern: 'nothing/*.txt' },
      { workingDir: join(dir, 'missing'), pattern: 'x' },
    ]);
    expect(runner.calls).toBe(1);
    expect(csv).toMatchObject({ ok: true });
    expect(all).toMatchObject({ ok: true });
    expect(deep).toMatchObject({ ok: true });
    expect(csv).not.toEqual(all); // c.csv is below data/ but not matched by data/*.csv
    expect(none).toEqual({ ok: false, problem: 'no files' });
    expect(nodir).toEqual({ ok: false, problem: 'no working dir' });
  });

  it('changes when a file changes and comes back when it is restored', async () => {
    const runner = bashRunner();
    const item = { workingDir: dir, pattern: 'data/*.csv' };
    const [before] = await hashInputs(runner, [item]);
    writeFileSync(join(dir, 'data/b.csv'), 'B\n');
    const [changed] = await hashInputs(runner, [item]);
    writeFileSync(join(dir, 'data/b.csv'), 'b\n');
    const [restored] = await hashInputs(runner, [item]);
    expect(changed).not.toEqual(before);
    expect(restored).toEqual(before);
  });

  it('treats hostile names as data: no option injection, no command substitution', async () => {
    const runner = bashRunner();
    const [h] = await hashInputs(runner, [{ workingDir: dir, pattern: '-odd name $(touch pwned)' }]);
    expect(h).toMatchObject({ ok: true });
    const [m] = await findMissingOutputs(runner, [{ workingDir: dir, pattern: 'pwned' }]);
    expect(m).toBe(true);
  });
});

describe('output check program (real bash)', () => {
  it('reports the patterns that match nothing, in one command', async () => {
    const runner = bashRunner();
    const missing = await findMissingOutputs(runner, [
      { workingDir: dir, pattern: 'data/a.csv' },
      { workingDir: dir, pattern: 'data/*.csv' },
      { workingDir: dir, pattern: 'data/none.csv' },
      { workingDir: dir, pattern: 'out/*.parquet' },
      { workingDir: dir, pattern: join(dir, 'data') },
    ]);
    expect(runner.calls).toBe(1);
    expect(missing).toEqual([false, false, true, true, false]);
  });

  it('refuses an incomplete answer instead of guessing', async () => {
    const broken: CommandRunner = {
      remote: true,
      async exec() {
        return { stdout: '0\tok\n', stderr: '', exitCode: 0 };
      },
    };
    await expect(findMissingOutputs(broken, [{ workingDir: dir, pattern: 'a' }])).rejects.toThrow(
      /incomplete/,
    );
  });
});
