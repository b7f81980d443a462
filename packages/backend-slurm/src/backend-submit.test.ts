import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { backend, runner, useLocalRunner } from '../test/backend-harness.js';
import { makeRequest } from '../test/requests.js';
import { buildSubmitProgram, parseSubmitAnswer } from './programs.js';

useLocalRunner();

describe('submit', () => {
  it('submits a batch in ONE exec (after the home directory is known), one job per task', async () => {
    const b = backend();
    await b.homeDir!();
    const before = runner.log.length;
    const reqs = [0, 1, 2, 3, 4].map((i) => makeRequest(`tg${i}`, { id: `t${i}`, name: `Task ${i}` }));
    const outcomes = await b.submit(reqs);
    expect(runner.log.length - before).toBe(1);
    expect(runner.log.at(-1)!.command).toMatch(/sbatch --parsable × 5/);
    expect(outcomes.map((o) => o.ok)).toEqual([true, true, true, true, true]);
    expect(outcomes.map((o) => (o.ok ? o.jobId : null))).toEqual(['101', '102', '103', '104', '105']);
    // Exactly one job per task, each with its own tag and marker.
    for (let i = 0; i < 5; i++) {
      const script = readFileSync(join(runner.state, `job-${101 + i}.sh`), 'utf8');
      expect(script).toContain(`#SBATCH --job-name=tg${i}`);
      expect(script).toContain(`#SBATCH --output="${runner.home}/scripthut-logs/run1/t${i}.out"`);
      expect(script).toContain(`.cache/scripthut/markers/tg${i}.rc`);
    }
    expect(existsSync(join(runner.state, 'job-106.sh'))).toBe(false);
    // Log and marker directories were created (home path contains a space).
    expect(existsSync(join(runner.home, 'scripthut-logs/run1'))).toBe(true);
    expect(existsSync(join(runner.home, '.cache/scripthut/markers'))).toBe(true);
    const o0 = outcomes[0]!;
    expect(o0.ok && o0.meta).toMatchObject({ tag: 'tg0' });
  });

  it('the first submit resolves the home directory once (2 execs), then 1 per batch', async () => {
    const b = backend();
    await b.submit([makeRequest('a1')]);
    expect(runner.log.length).toBe(2);
    await b.submit([makeRequest('a2')]);
    expect(runner.log.length).toBe(3);
  });

  it('a rejected submission fails only that task, with Slurm’s own message', async () => {
    const b = backend();
    const outcomes = await b.submit([
      makeRequest('ok1'),
      makeRequest('bad1', { partition: 'nosuchpart' }),
      makeRequest('bad2', { memory: '999G' }),
      makeRequest('ok2'),
    ]);
    expect(outcomes.map((o) => o.ok)).toEqual([true, false, false, true]);
    const bad = outcomes[1]!;
    expect(!bad.ok && bad.error).toMatch(/invalid partition specified: nosuchpart/);
    expect(!bad.ok && bad.transient).toBe(false);
    expect(!bad.ok && bad.script).toContain('--partition=nosuchpart');
    const mem = outcomes[2]!;
    expect(!mem.ok && mem.error).toMatch(/Memory specification can not be satisfied/);
  });

  it('a script that cannot be rendered fails that task without reaching sbatch', async () => {
    const b = backend();
    await b.homeDir!();
    const outcomes = await b.submit([makeRequest('ok1'), makeRequest('nl1', { partition: 'a\nb' })]);
    expect(outcomes[0]!.ok).toBe(true);
    expect(!outcomes[1]!.ok && outcomes[1]!.error).toMatch(
      /cannot build the job script: partition cannot contain a newline/,
    );
    expect(runner.readState('counter').trim()).toBe('101');
  });

  it('chunks large batches', async () => {
    const b = backend({ submitChunkSize: 3 });
    await b.homeDir!();
    const before = runner.log.length;
    const outcomes = await b.submit(
      Array.from({ length: 7 }, (_, i) => makeRequest(`c${i}`, { id: `c${i}` })),
    );
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(runner.log.length - before).toBe(3);
    expect(new Set(outcomes.map((o) => (o.ok ? o.jobId : ''))).size).toBe(7);
  });

  it('a job id that squeue does not show right after sbatch fails the task', async () => {
    const b = backend();
    await b.homeDir!();
    runner.writeState('hide-101', '');
    const [o] = await b.submit([makeRequest('v1')]);
    expect(!o!.ok && o!.error).toMatch(/squeue does not know it/);
  });

  it('hostile task text stays inert (heredoc delimiter, quotes, $())', async () => {
    const b = backend();
    const command = 'echo \'SCRIPTHUT_EOF\'\nSCRIPTHUT_EOF\necho $(touch /tmp/never-$$) "`id`"';
    const [o] = await b.submit([makeRequest('h1', { command, name: 'it\'s "$(x)"' })]);
    expect(o!.ok).toBe(true);
    const script = readFileSync(join(runner.state, 'job-101.sh'), 'utf8');
    expect(script).toContain(command);
    expect(script).toContain('#SBATCH --comment="it\'s \\"$(x)\\""');
  });
});

describe('submit program', () => {
  it('prints one machine-readable line per task and a verification line', () => {
    const program = buildSubmitProgram(
      [{ index: 0, tag: 'tg0', script: '#!/bin/bash\necho hi\n' }],
      ['~/logs'],
      '~/.m',
    );
    expect(program).toContain(': >"$M"/tg0.rc');
    expect(program).toContain('sbatch --parsable >"$T/o" 2>"$T/e" <<\'SCRIPTHUT_EOF\'');
    expect(program).toContain('mkdir -p -- "$HOME"/logs "$M"');
    const answer = parseSubmitAnswer(
      `junk from a login profile\nD\t0\nS\t0\t0\t${Buffer.from('42\n').toString('base64')}\t\nS\t1\t1\t\t${Buffer.from('sbatch: error: x').toString('base64')}\nV\t0\t42,\n`,
    );
    expect(answer.mkdirRc).toBe(0);
    expect(answer.tasks.get(0)).toEqual({ index: 0, rc: 0, stdout: '42\n', stderr: '' });
    expect(answer.tasks.get(1)?.stderr).toBe('sbatch: error: x');
    expect([...answer.verified!]).toEqual(['42']);
  });
});
