/**
 * The backend's programs run by a real local bash against a scripted PBS Pro (test/stub) that
 * answers like OpenPBS 23.06.06: id chunking (20,000 ids), job history off/on and a stale belief
 * about it, malformed `-F json`, jobs that vanish with or without a PBS kill line.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CommandLogEntry, ExecResult, TrackedJob } from '@scripthut/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createPbsBackend } from './backend.js';
import type { PbsSsh } from './index.js';
import { IDS_PER_CALL } from './programs.js';

const STUB_BIN = join(import.meta.dirname, '../test/stub');

interface StubJob {
  state: string;
  name: string;
  exit?: number;
  malformed?: boolean;
}

/** `ssh.exec` as a local `bash -c`, with the stub first on PATH and a private HOME. */
class LocalShell implements PbsSsh {
  readonly remote = true;
  readonly log: CommandLogEntry[] = [];
  constructor(
    private readonly home: string,
    private readonly stub: string,
  ) {}
  exec(command: string, options: { stdin?: string } = {}): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      const child = spawn('bash', ['-c', command], {
        cwd: this.home,
        env: { PATH: `${STUB_BIN}:${process.env.PATH}`, HOME: this.home, PBS_STUB: this.stub, USER: 'me' },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('error', reject);
      child.on('close', (code) => {
        this.log.push({ at: '', command, exitCode: code, durationMs: 0, stdout: '', stderr });
        resolve({ stdout, stderr, exitCode: code ?? -1 });
      });
      child.stdin.on('error', () => undefined); // a program that exits early leaves stdin unread
      child.stdin.end(options.stdin ?? '');
    });
  }
  health() {
    return { connected: true, lastError: null, endpoint: 'local' };
  }
  commandLog() {
    return this.log;
  }
  async close() {}
}

let dir: string;
let stub: string;
let shell: LocalShell;
const setState = (history: boolean, jobs: Record<string, StubJob>) =>
  writeFileSync(join(stub, 'state.json'), JSON.stringify({ history, jobs }));
const calls = () =>
  readFileSync(join(stub, 'calls.log'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [cmd, n, ...opts] = l.split(' ');
      return { cmd: cmd!, ids: Number(n), opts: opts.join(' ') };
    });
const tracked = (jobId: string, tag: string, stderrPath: string | null = null): TrackedJob => ({
  jobId,
  runId: 'r',
  taskId: tag,
  tag,
  stdoutPath: null,
  stderrPath,
  submittedAt: null,
  lastState: 'running',
  meta: {},
});
const backend = () =>
  createPbsBackend({ name: 'stub', ssh: shell, maxConcurrent: 10, markerDir: '~/markers' });

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pbs-backend-test-'));
  stub = join(dir, 'stub');
  mkdirSync(stub);
  mkdirSync(join(dir, 'home', 'markers'), { recursive: true });
  writeFileSync(join(stub, 'calls.log'), '');
  shell = new LocalShell(join(dir, 'home'), stub);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('status and cancel of 20,000 jobs', () => {
  it('one status program, qstat in chunks of ≤ 500 ids, every job reported', async () => {
    const ids = Array.from({ length: 20_000 }, (_, i) => `${1_000_000 + i}.pbs-server.example.org`);
    writeFileSync(join(stub, 'fast'), ''); // the stub's fast path: every id is a running job
    writeFileSync(join(stub, 'live'), `${ids.join('\n')}\n`);
    const pbs = backend();
    await pbs.serverFacts();
    const before = shell.log.length;
    const st = await pbs.status(ids.map((id, i) => tracked(id, `sh0a1b2c3d${i.toString(36)}1`)));
    expect(shell.log.length - before).toBe(1);
    expect([...st.values()].filter((s) => s.state === 'running')).toHaveLength(20_000);
    const q = calls().filter((c) => c.cmd === 'qstat' && c.ids > 0);
    expect(q).toHaveLength(20_000 / IDS_PER_CALL);
    expect(Math.max(...q.map((c) => c.ids))).toBe(IDS_PER_CALL);
    expect(q.every((c) => c.opts === '-f -x -F')).toBe(true);
    // No single command line of the program carries the ids (they travel on stdin).
    expect(shell.log.every((e) => e.command.length < 1000)).toBe(true);

    await pbs.cancel(ids.map((id) => tracked(id, 'x')));
    const d = calls().filter((c) => c.cmd === 'qdel');
    expect(d).toHaveLength(20_000 / IDS_PER_CALL);
    expect(d.reduce((n, c) => n + c.ids, 0)).toBe(20_000);
  }, 300_000); // 80 bash runs: minutes on a loaded 2-core machine
});

describe('cancel', () => {
  it('qdel only what the server still lists, jobs that never ran last (pbs_server 23.06 crashes otherwise)', async () => {
    setState(false, {
      '1.s': { state: 'R', name: 'a' },
      '2.s': { state: 'Q', name: 'b' },
      '3.s': { state: 'F', name: 'c', exit: 0 },
      '4.s': { state: 'R', name: 'd' },
      '5.s': { state: 'H', name: 'e' },
    });
    await backend().cancel(['5.s', '2.s', '3.s', '1.s', '9.s', '4.s'].map((id) => tracked(id, 'x')));
    expect(readFileSync(join(stub, 'qdel.log'), 'utf8')).toBe('1.s 4.s 5.s 2.s\n');
  });

  it("the backend's command log names the jobs a cancel asked for (a few), or counts them", async () => {
    setState(false, { '7.s': { state: 'R', name: 'a' } });
    const logged: (string | undefined)[] = [];
    const exec = shell.exec.bind(shell);
    shell.exec = (command: string, options: { stdin?: string; logAs?: string } = {}) => {
      logged.push(options.logAs);
      return exec(command, options);
    };
    await backend().cancel([tracked('7.s', 'x')]);
    expect(logged.filter((l) => l?.startsWith('qdel'))).toEqual(['qdel 7.s']);
    const many = Array.from({ length: 21 }, (_, i) => tracked(`${i + 100}.s`, 'x'));
    await backend().cancel(many);
    expect(logged.filter((l) => l?.startsWith('qdel'))).toEqual(['qdel 7.s', 'qdel <21 ids>']);
  });

  it('when the live jobs cannot be listed nothing is deleted and the error says so', async () => {
    setState(false, { '1.s': { state: 'R', name: 'a' } });
    writeFileSync(join(stub, 'state.json'), 'not json'); // every stub command fails
    await expect(backend().cancel([tracked('1.s', 'x')])).rejects.toThrow(
      /qselect failed on backend stub, nothing was cancelled/,
    );
  });
});

describe('job history', () => {
  it('history off: live jobs without -x, finished ones by their exit marker', async () => {
    setState(false, { '1.s': { state: 'R', name: 'a' }, '2.s': { state: 'F', name: 'b', exit: 0 } });
    writeFileSync(join(dir, 'home/markers/sh0a1b2c3d021.rc'), '0\n');
    const pbs = backend();
    expect(await pbs.serverFacts()).toEqual({
      flavour: 'pro',
      version: '23.06.06',
      history: false,
      maxArraySize: null,
      maxSlotLimit: null,
    });
    const st = await pbs.status([tracked('1.s', 'sh0a1b2c3d011'), tracked('2.s', 'sh0a1b2c3d021')]);
    expect(st.get('1.s')).toMatchObject({ state: 'running', final: false });
    expect(st.get('2.s')).toMatchObject({ state: 'completed', exitCode: 0, final: true });
    expect(
      calls()
        .filter((c) => c.cmd === 'qstat' && c.ids > 0)
        .map((c) => c.opts),
    ).toEqual(['-f -F']);
  });

  it('a server that turned history off answers -x with nothing: asked again without -x, mode corrected', async () => {
    setState(true, { '1.s': { state: 'R', name: 'a' } });
    const pbs = backend();
    expect((await pbs.serverFacts()).history).toBe(true);
    setState(false, { '1.s': { state: 'R', name: 'a' } });
    const st = await pbs.status([tracked('1.s', 'sh0a1b2c3d011')]);
    expect(st.get('1.s')).toMatchObject({ state: 'running' });
    expect((await pbs.serverFacts()).history).toBe(false);
    expect(
      calls()
        .filter((c) => c.cmd === 'qstat' && c.ids > 0)
        .map((c) => c.opts),
    ).toEqual(['-f -x -F', '-f -F']);
  });

  it('"Job has finished, use -x" (exit 35) means history is on after all: asked again with -x', async () => {
    setState(false, {});
    const pbs = backend();
    expect((await pbs.serverFacts()).history).toBe(false);
    setState(true, { '1.s': { state: 'R', name: 'a' }, '2.s': { state: 'F', name: 'b', exit: 3 } });
    const st = await pbs.status([tracked('1.s', 'sh0a1b2c3d011'), tracked('2.s', 'sh0a1b2c3d021')]);
    expect(st.get('2.s')).toMatchObject({ state: 'failed', exitCode: 3, final: true });
    expect(st.get('1.s')).toMatchObject({ state: 'running' });
    expect((await pbs.serverFacts()).history).toBe(true);
  });

  it('the tag lookup uses qselect -u (with -x only when history is on) and falls back when refused', async () => {
    const jobs = {
      '1.s': { state: 'R', name: 'sh0a1b2c3d011-live' },
      '2.s': { state: 'F', name: 'sh0a1b2c3d021-done', exit: 0 },
      '3.s': { state: 'R', name: 'someone-else' },
    };
    setState(true, jobs);
    const on = backend();
    expect(
      Object.fromEntries(await on.findByTags(['sh0a1b2c3d011', 'sh0a1b2c3d021', 'sh0a1b2c3d031'])),
    ).toEqual({
      sh0a1b2c3d011: '1.s',
      sh0a1b2c3d021: '2.s',
    });
    expect(
      calls()
        .filter((c) => c.cmd === 'qselect')
        .map((c) => c.opts),
    ).toEqual(['-u -x']);
    setState(false, jobs);
    expect(Object.fromEntries(await on.findByTags(['sh0a1b2c3d011', 'sh0a1b2c3d021']))).toEqual({
      sh0a1b2c3d011: '1.s',
    });
    expect(
      calls()
        .filter((c) => c.cmd === 'qselect')
        .map((c) => c.opts),
    ).toEqual(['-u -x', '-u -x', '-u']);
    expect((await on.serverFacts()).history).toBe(false);
  });
});

describe('what qstat cannot say', () => {
  it('one malformed job in -F json: the poll is answered from text, and text is used from then on', async () => {
    setState(true, {
      '1.s': { state: 'R', name: 'a', malformed: true },
      '2.s': { state: 'F', name: 'b', exit: 0 },
    });
    const pbs = backend();
    const jobs = [tracked('1.s', 'sh0a1b2c3d011'), tracked('2.s', 'sh0a1b2c3d021')];
    const st = await pbs.status(jobs);
    expect(st.get('1.s')).toMatchObject({ state: 'running' });
    expect(st.get('2.s')).toMatchObject({ state: 'completed', final: true });
    expect(
      calls()
        .filter((c) => c.cmd === 'qstat' && c.ids > 0)
        .map((c) => c.opts),
    ).toEqual(['-f -x -F', '-f -x']);
    await pbs.status(jobs);
    expect(
      calls()
        .filter((c) => c.cmd === 'qstat' && c.ids > 0)
        .map((c) => c.opts),
    ).toEqual(['-f -x -F', '-f -x', '-f -x']);
  });

  it('-F json that leaves jobs out silently (OpenPBS main prints only the first id): answered from text', async () => {
    writeFileSync(
      join(stub, 'state.json'),
      JSON.stringify({
        history: true,
        jsonFirstOnly: true,
        jobs: {
          '1.s': { state: 'R', name: 'a' },
          '2.s': { state: 'Q', name: 'b' },
          '3.s': { state: 'F', name: 'c', exit: 4 },
        },
      }),
    );
    const st = await backend().status(['1.s', '2.s', '3.s', '9.s'].map((id) => tracked(id, 'sh0a1b2c3d011')));
    expect([...st.values()].map((s) => [s.jobId, s.state])).toEqual([
      ['1.s', 'running'],
      ['2.s', 'pending'],
      ['3.s', 'failed'],
      ['9.s', 'unknown'],
    ]);
    expect(
      calls()
        .filter((c) => c.cmd === 'qstat' && c.ids > 0)
        .map((c) => c.opts),
    ).toEqual(['-f -x -F', '-f -x']);
  });

  it('history off, vanished without a marker: the PBS kill line decides, else unknown (not final)', async () => {
    setState(false, {});
    mkdirSync(join(dir, 'home/logs'));
    writeFileSync(
      join(dir, 'home/logs/w.err'),
      'noise\n=>> PBS: job killed: walltime 12 exceeded limit 5\nTerminated\n',
    );
    writeFileSync(join(dir, 'home/logs/q.err'), 'Terminated\n');
    const st = await backend().status([
      tracked('5.s', 'sh0a1b2c3d051', '~/logs/w.err'),
      tracked('6.s', 'sh0a1b2c3d061', '~/logs/q.err'),
      tracked('7.s', 'sh0a1b2c3d071', null),
    ]);
    expect(st.get('5.s')).toEqual({
      jobId: '5.s',
      state: 'timeout',
      reason: 'killed by PBS: walltime 12 exceeded limit 5',
      exitCode: null,
      final: true,
    });
    for (const id of ['6.s', '7.s'])
      expect(st.get(id)).toMatchObject({
        state: 'unknown',
        final: false,
        reason: expect.stringMatching(/job history is off/),
      });
  });
});

describe('job arrays', () => {
  it('are opt-in (no capability by default); PBS Pro: min(max_array_size or 10000, 1000); Torque: min(max_job_array_size, 1000)', async () => {
    setState(false, {});
    expect(backend().arrays).toBeUndefined();
    const pro = createPbsBackend({ name: 'stub', ssh: shell, maxConcurrent: 10, arrays: true });
    expect(await pro.arrays!.maxSize()).toBe(1000); // the stub's qstat -Bf shows no max_array_size
    expect((await pro.serverFacts()).maxArraySize).toBeNull();
    const torque = createPbsBackend({
      name: 'stub',
      ssh: shell,
      maxConcurrent: 10,
      arrays: true,
      flavour: 'torque',
    });
    // the stub's server shows no max_job_array_size: Torque has no limit of its own
    expect(await torque.arrays!.maxSize()).toBe(1000);
  });
});
