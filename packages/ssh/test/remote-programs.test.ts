import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SubmitOutcome, SubmitRequest, TrackedJob } from '@scripthut/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  chunkSubmitRequests,
  dirOf,
  diskUsageCommand,
  markerCleanup,
  markerCreateLine,
  markerLoop,
  markerRemoveLine,
  parseMarkerLines,
  parseMarkers,
  parseSubmitAnswerLine,
  prepareSubmission,
  readExitMarkers,
  splitSections,
  submitAnswerLine,
  submitPreamble,
} from '../src/remote-programs.js';
import { type LocalBash, localBash } from './local-bash.js';

let bash: LocalBash;
beforeEach(() => {
  bash = localBash();
});
afterEach(() => bash.dispose());

const job = (jobId: string, tag: string): TrackedJob => ({ jobId, tag }) as TrackedJob;

describe('exit markers', () => {
  it('markerLoop prints existing markers only, keeps the cwd and always succeeds', async () => {
    const dir = join(bash.home, 'm k');
    mkdirSync(dir);
    writeFileSync(join(dir, 'a1.rc'), '0\n');
    writeFileSync(join(dir, 'b2.rc'), '137\n');
    writeFileSync(join(dir, 'e4.rc'), ''); // pre-created at submission: the job has not ended
    writeFileSync(join(dir, 'p5.rc'), '13'); // being written: no newline yet
    const r = await bash.run(`${markerLoop(dir, ['a1', 'b2', 'c3', 'e4', 'p5'], '@@m ')}; pwd`);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe(`@@m a1 0\n@@m b2 137\n${bash.home}\n`);
    expect(parseMarkers(r.stdout, '@@m ')).toEqual(
      new Map([
        ['a1', 0],
        ['b2', 137],
      ]),
    );
    expect((await bash.run(markerLoop(join(bash.home, 'none'), ['a1']))).exitCode).toBe(0);
    expect(markerLoop(dir, [])).toBe('true');
  });

  it('parseMarkers ignores malformed and unprefixed lines', () => {
    expect(parseMarkers('a 1\nb x\nc -2 \n@@m d 3')).toEqual(
      new Map([
        ['a', 1],
        ['c', -2],
      ]),
    );
    expect(parseMarkers('a 1\n@@m d 3', '@@m ')).toEqual(new Map([['d', 3]]));
  });

  it('readExitMarkers turns markers into non-final statuses for valid tags only', async () => {
    const dir = join(bash.home, 'markers');
    mkdirSync(dir);
    writeFileSync(join(dir, 'ok.rc'), '0\n');
    writeFileSync(join(dir, 'bad.rc'), '3\n');
    const out = await readExitMarkers(
      bash.run,
      dir,
      [job('1', 'ok'), job('2', 'bad'), job('3', 'none'), job('4', 'x y')],
      (t) => /^\w+$/.test(t),
    );
    expect([...out.keys()].sort()).toEqual(['1', '2']);
    expect(out.get('1')).toEqual({ jobId: '1', state: 'completed', exitCode: 0, reason: null, final: false });
    expect(out.get('2')).toEqual({
      jobId: '2',
      state: 'failed',
      exitCode: 3,
      reason: 'exit code 3',
      final: false,
    });
    expect(bash.calls[0]!.options.stdin).not.toContain('x y');
    const none = await readExitMarkers(bash.run, dir, [job('5', 'x y')], (t) => /^\w+$/.test(t));
    expect(none.size).toBe(0);
    expect(bash.calls).toHaveLength(1);
  });

  it('a `<code> signal` marker is parsed with its flag and left to the scheduler by readExitMarkers', async () => {
    expect(parseMarkerLines('@@m a 143 signal\n@@m b 3\n@@m c 9 sig', '@@m ')).toEqual(
      new Map([
        ['a', { code: 143, signal: true }],
        ['b', { code: 3, signal: false }],
      ]),
    );
    expect(parseMarkers('a 143 signal\nb 3')).toEqual(
      new Map([
        ['a', 143],
        ['b', 3],
      ]),
    );
    const dir = join(bash.home, 'signalled');
    mkdirSync(dir);
    writeFileSync(join(dir, 'killed.rc'), '143 signal\n');
    writeFileSync(join(dir, 'plain.rc'), '143\n');
    const out = await readExitMarkers(bash.run, dir, [job('1', 'killed'), job('2', 'plain')], () => true);
    expect([...out.keys()]).toEqual(['2']);
    expect(out.get('2')).toMatchObject({ state: 'failed', exitCode: 143 });
  });

  it('reads 20,000 markers in one round trip (tags on a heredoc, no argument-size limit)', async () => {
    const dir = join(bash.home, 'many');
    mkdirSync(dir);
    const jobs = Array.from({ length: 20_000 }, (_, i) => job(String(i + 1), `sh0123abcd${i.toString(36)}`));
    for (let i = 0; i < jobs.length; i += 997) writeFileSync(join(dir, `${jobs[i]!.tag}.rc`), `${i % 256}\n`);
    for (let i = 1; i < jobs.length; i += 991) writeFileSync(join(dir, `${jobs[i]!.tag}.rc`), '');
    const out = await readExitMarkers(bash.run, dir, jobs, () => true);
    expect(bash.calls).toHaveLength(1);
    expect(out.size).toBe(Math.ceil(20_000 / 997));
    expect(out.get(jobs[997]!.jobId)?.exitCode).toBe(997 % 256);
  });

  it('markerCleanup removes the named markers only and always succeeds', async () => {
    const dir = join(bash.home, 'clean me');
    mkdirSync(dir);
    const tags = Array.from({ length: 4500 }, (_, i) => `t${i}`);
    for (const t of tags) writeFileSync(join(dir, `${t}.rc`), '0\n');
    writeFileSync(join(dir, 'keep.rc'), '0\n');
    const program = markerCleanup(dir, tags.slice(0, 4400));
    const r = await bash.run('bash -s', { stdin: program });
    expect(r.exitCode).toBe(0);
    expect(readdirSync(dir).sort()).toEqual([...tags.slice(4400).map((t) => `${t}.rc`), 'keep.rc'].sort());
    expect((await bash.run(markerCleanup(join(bash.home, 'gone'), ['a']))).exitCode).toBe(0);
    expect(markerCleanup(dir, [])).toBe('true');
    expect(() => markerCleanup(dir, ['a b'])).toThrow(/invalid marker tag/);
    expect(() => markerLoop(dir, ['x\ny'])).toThrow(/invalid marker tag/);
  });

  it('pre-created markers: create, remove, and an empty one is not an exit code', async () => {
    const dir = join(bash.home, 'pre');
    const lines = submitPreamble([], dir, 'true', 'scripthut-test');
    lines.push(markerCreateLine('a1'), markerCreateLine("b'2"), markerRemoveLine("b'2"));
    const r = await bash.run('bash -s', {
      stdin: `${lines.join('\n')}\n${markerLoop(dir, ['a1'], '@@m ')}\n`,
    });
    expect(r.stdout).toBe('D\t0\n');
    expect(readdirSync(dir)).toEqual(['a1.rc']);
    expect(readFileSync(join(dir, 'a1.rc'), 'utf8')).toBe('');
  });
});

describe('splitSections and diskUsageCommand', () => {
  it('splits @@name sections', () => {
    const s = splitSections('junk\n@@a\n1\n2\n@@b\n@@c\nx');
    expect(s).toEqual(
      new Map([
        ['a', '1\n2'],
        ['b', ''],
        ['c', 'x'],
      ]),
    );
  });

  it('reports df of the nearest existing ancestor', async () => {
    const r = await bash.run(diskUsageCommand(join(bash.home, "not 'there'/deeper")));
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^Filesystem/);
  });
});

describe('submission plumbing', () => {
  it('the preamble creates directories and a temp dir; answer lines round-trip', async () => {
    const dirs = [join(bash.home, 'logs dir'), join(bash.home, 'logs dir'), '', join(bash.home, 'o')];
    const lines = submitPreamble(dirs, join(bash.home, 'markers'), 'cd "$HOME" || exit 90', 'scripthut-test');
    expect(lines.filter((l) => l.includes('logs dir'))).toHaveLength(1);
    lines.push(`printf 'out\\n' >"$T/o"; printf 'warn' >"$T/e"; (exit 3)`);
    lines.push(submitAnswerLine(7, '"$?"'));
    const r = await bash.run('bash -s', { stdin: `${lines.join('\n')}\n` });
    const out = r.stdout.split('\n');
    expect(out[0]).toBe('D\t0');
    expect(parseSubmitAnswerLine(out[1]!.split('\t'))).toEqual({
      index: 7,
      rc: 3,
      stdout: 'out\n',
      stderr: 'warn',
    });
    expect(parseSubmitAnswerLine(['S', 'x', '0', '', ''])).toBeNull();
    expect(parseSubmitAnswerLine(['D', '0'])).toBeNull();
    expect(() => submitPreamble([], '/m', 'true', 'bad prefix')).toThrow(/invalid temporary/);
  });

  const req = (command: string, extra = {}): SubmitRequest =>
    ({
      taskId: `t-${command}`,
      tag: 'tag',
      logDir: '~/logs',
      stdoutPath: '~/logs/o/t.out',
      stderrPath: '/e.err',
      extraInit: '',
      env: {},
      task: { command },
      ...extra,
    }) as unknown as SubmitRequest;

  it('chunks by count and by stdin size, never splitting a request', () => {
    const small = Array.from({ length: 5 }, (_, i) => req(`c${i}`));
    expect(chunkSubmitRequests(small, 2, 1e9)).toEqual([
      [0, 2],
      [2, 4],
      [4, 5],
    ]);
    const big = [req('x'.repeat(5000)), req('y'.repeat(5000)), req('z')];
    expect(chunkSubmitRequests(big, 100, 9500)).toEqual([
      [0, 1],
      [1, 3],
    ]);
    expect(chunkSubmitRequests([], 10, 10)).toEqual([]);
  });

  it('prepareSubmission renders scripts, collects directories and fails unrenderable requests', () => {
    const outcomes: SubmitOutcome[] = [];
    const prepared = prepareSubmission(
      [req('a'), req('bad')],
      10,
      outcomes,
      (r) => {
        if (r.task.command === 'bad') throw new Error('no way');
        return `#!/bin/bash\n${r.task.command}\n`;
      },
      (p) => p.replace(/^~/, '/home/me'),
    );
    expect(prepared.items).toEqual([{ index: 10, script: '#!/bin/bash\na\n' }]);
    expect(prepared.scripts.get(10)).toBe('#!/bin/bash\na\n');
    expect(prepared.dirs).toEqual(['/home/me/logs', '/home/me/logs/o', '/']);
    expect(outcomes[11]).toEqual({
      taskId: 't-bad',
      ok: false,
      error: 'cannot build the job script: no way',
      transient: false,
    });
    expect(dirOf('name')).toBe('');
  });
});

describe('submit answer fast path', () => {
  it('prints a one-line success with builtins only, and falls back to base64 otherwise', async () => {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join: j } = await import('node:path');
    const { spawnSync } = await import('node:child_process');
    const T = mkdtempSync(j(tmpdir(), 'sh-ans-'));
    const run = (setup: string, rc: string) =>
      spawnSync('bash', ['-c', `set -u; T=${T}; ${setup}; ${submitAnswerLine(4, rc)}`])
        .stdout.toString()
        .trim();
    const fast = run(`printf '12345;cl\\n' >"$T/o"; : >"$T/e"; (exit 0)`, '"$?"');
    expect(fast).toBe('J\t4\t0\t12345;cl');
    expect(parseSubmitAnswerLine(fast.split('\t'))).toEqual({
      index: 4,
      rc: 0,
      stdout: '12345;cl\n',
      stderr: '',
    });
    const warned = run(`printf '77\\n' >"$T/o"; printf 'sbatch: warning' >"$T/e"; (exit 0)`, '"$?"');
    expect(parseSubmitAnswerLine(warned.split('\t'))).toEqual({
      index: 4,
      rc: 0,
      stdout: '77\n',
      stderr: 'sbatch: warning',
    });
    const failed = run(`: >"$T/o"; printf 'error: bad' >"$T/e"; (exit 1)`, '"$?"');
    expect(parseSubmitAnswerLine(failed.split('\t'))).toEqual({
      index: 4,
      rc: 1,
      stdout: '',
      stderr: 'error: bad',
    });
  });
});
