/**
 * What real sites do to the Slurm backend, with the backend's real programs run by the local bash
 * and Slurm faked (test/local-runner.ts): hostile environments, refused and lost submissions,
 * clusters, 20,000 tracked jobs, exit codes above 128, Slurm 25.11 states.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BackendHealth, CommandLogEntry, ExecResult } from '@scripthut/core';
import { BackendError } from '@scripthut/core';
import { describe, expect, it } from 'vitest';
import { backend, runner, tracked, useLocalRunner } from '../test/backend-harness.js';
import type { LocalBashRunner } from '../test/local-runner.js';
import { makeRequest } from '../test/requests.js';
import { createSlurmBackend, SBATCH_RETRY_WINDOW_MS } from './backend.js';
import type { SlurmExecOptions, SlurmSsh } from './index.js';

useLocalRunner();

describe('an environment that would rewrite our commands', () => {
  it('SBATCH_*, SQUEUE_*, SLURM_* (but SLURM_CONF) and shell functions never reach the commands', async () => {
    runner.env = {
      SBATCH_PARTITION: 'long',
      SBATCH_TIMELIMIT: '5',
      SQUEUE_PARTITION: 'long',
      SQUEUE_FORMAT: '%i %T',
      SLURM_TIME_FORMAT: 'relative',
      SLURM_CLUSTERS: 'elsewhere',
      SLURM_CONF: '/etc/slurm/slurm.conf',
      'BASH_FUNC_squeue%%': '() { echo hijacked; }',
    };
    const b = backend();
    const [o] = await b.submit([makeRequest('e1')]);
    expect(o!.ok).toBe(true);
    expect(runner.readState('sbatch.env').trim()).toBe('SLURM_CONF=/etc/slurm/slurm.conf');
    runner.writeState('squeue.txt', `${o!.ok && o!.jobId}|RUNNING|None|vm|2026-02-11T10:00:00\n`);
    const res = await b.status([tracked(o!.ok ? o!.jobId : '', 'e1')]);
    expect([...res.values()][0]).toMatchObject({ state: 'running', startedAt: '2026-02-11T10:00:00Z' });
    const env = runner.readState('squeue.env').trim().split('\n');
    // The status squeue runs with the standard time format only (set on its command line).
    expect(env).toEqual(
      expect.arrayContaining(['SLURM_CONF=/etc/slurm/slurm.conf', 'SLURM_TIME_FORMAT=standard']),
    );
    expect(env.filter((l) => /^(SQUEUE_|SBATCH_|SLURM_CLUSTERS)/.test(l))).toEqual([]);
  });
});

describe('refused submissions: a clear state for each', () => {
  const cases: [string, string, { transient: boolean; maybeSubmitted?: true; error: RegExp }][] = [
    [
      'submit limit (Slurm 23.02+: reason line, then the policy line)',
      "sbatch: error: QOSMaxSubmitJobPerUserLimit\nsbatch: error: Batch job submission failed: Job violates accounting/QOS policy (job submit limit, user's size and/or time limits)\n",
      { transient: true, error: /waiting: the submit limit QOSMaxSubmitJobPerUserLimit is reached/ },
    ],
    [
      'MaxWall with DenyOnLimit',
      "sbatch: error: QOSMaxWallDurationPerJobLimit\nsbatch: error: Batch job submission failed: Job violates accounting/QOS policy (job submit limit, user's size and/or time limits)\n",
      {
        transient: false,
        error: /refused the job under its accounting\/QOS policy \(QOSMaxWallDurationPerJobLimit\)/,
      },
    ],
    [
      'full queue (Slurm 26.05 text, after sbatch’s own retries)',
      'sbatch: error: Slurm job queue full, sleeping and retrying\nsbatch: error: Batch job submission failed: MaxJobCount limit reached\n',
      { transient: true, error: /waiting: the cluster's job queue is full/ },
    ],
    [
      'lost answer',
      'sbatch: error: Batch job submission failed: Socket timed out on send/recv operation\n',
      { transient: true, maybeSubmitted: true, error: /answer of sbatch was lost/ },
    ],
  ];
  for (const [what, stderr, expected] of cases) {
    it(what, async () => {
      runner.writeState('sbatch.fail', stderr);
      const [o] = await backend().submit([makeRequest('f1')]);
      expect(o).toMatchObject({ ok: false, transient: expected.transient });
      expect(!o!.ok && o!.maybeSubmitted).toBe(expected.maybeSubmitted ?? undefined);
      expect(!o!.ok && o!.error).toMatch(expected.error);
      expect(!o!.ok && o!.error).toContain(stderr.trim().split('\n').at(-1));
      // A refused task leaves no marker behind.
      expect(existsSync(join(runner.home, '.cache/scripthut/markers/f1.rc'))).toBe(false);
    });
  }

  it('sbatch’s retry loop is the retry window', () => {
    expect(backend().submitRetryWindowMs).toBe(SBATCH_RETRY_WINDOW_MS);
    expect(SBATCH_RETRY_WINDOW_MS).toBeGreaterThanOrEqual(120_000);
  });
});

/** An SSH that runs through `runner` but loses the answer after the program ran. */
class LosingSsh implements SlurmSsh {
  readonly remote = true;
  calls = 0;
  constructor(
    private readonly inner: LocalBashRunner,
    private readonly lose: (n: number, r: ExecResult) => ExecResult | Error,
  ) {}
  async exec(command: string, options: SlurmExecOptions = {}): Promise<ExecResult> {
    const r = await this.inner.exec(command, options);
    const out = this.lose(++this.calls, r);
    if (out instanceof Error) throw out;
    return out;
  }
  health(): BackendHealth {
    return { connected: true, lastError: null, endpoint: 'x' };
  }
  commandLog(): CommandLogEntry[] {
    return [];
  }
  async close(): Promise<void> {}
}

describe('lost submissions never lead to a second job', () => {
  it('the program dies after sbatch created the job: the job is found by its tag and adopted', async () => {
    runner.writeState('sbatch.kill-after', '');
    const b = backend();
    await b.homeDir!();
    const [o] = await b.submit([makeRequest('sh0a1b2c3dk1')]);
    expect(o).toMatchObject({ ok: true, jobId: '101', meta: { recovered: true } });
    expect(runner.readState('counter').trim()).toBe('101');
  });

  it('the connection drops after sbatch ran and the job is not visible yet: maybe submitted, never resubmitted by the backend', async () => {
    let submitted = 0;
    const ssh = new LosingSsh(runner, (_n, r) => {
      if (!r.stdout.includes('D\t')) return r;
      submitted++;
      // The tag lookup right after the loss does not see the job yet (accounting/queue lag).
      runner.writeState('lookup.hidden', '');
      return new BackendError('connection to x lost while running', {
        transient: true,
        details: { started: true, stdout: r.stdout.split('\n')[0] },
      });
    });
    const b = createSlurmBackend({ name: 'hpc', ssh, maxConcurrent: 10 });
    await b.homeDir!();
    const outcomes = await b.submit([makeRequest('sh0a1b2c3dl1'), makeRequest('sh0a1b2c3dl2')]);
    expect(submitted).toBe(1);
    for (const o of outcomes) expect(o).toMatchObject({ ok: false, transient: true, maybeSubmitted: true });
    expect(!outcomes[0]!.ok && outcomes[0]!.error).toMatch(/looked up by its tag sh0a1b2c3dl1/);
  });

  it('a command that never started (no channel) fails the whole batch without a maybe', async () => {
    const b = createSlurmBackend({ name: 'hpc', ssh: runner, maxConcurrent: 10 });
    await b.homeDir!();
    runner.exec = async () => {
      throw new BackendError('cannot start command on x: channel open failure', {
        transient: true,
        details: { started: false },
      });
    };
    await expect(b.submit([makeRequest('n1')])).rejects.toThrow(/cannot start command/);
    expect(runner.readState('counter')).toBe('');
  });
});

describe('clusters (-M)', () => {
  it('a job submitted with --clusters is recorded as id;cluster and followed with -M', async () => {
    const b = backend({ policy: { clusters: 'c1' } });
    const [o] = await b.submit([makeRequest('sh0a1b2c3dm1')]);
    expect(o).toMatchObject({ ok: true, jobId: '101;c1', meta: { cluster: 'c1' } });
    expect(readFileSync(join(runner.state, 'job-101.sh'), 'utf8')).toContain('#SBATCH --clusters=c1');
    runner.writeState('squeue.txt', '101|RUNNING|None|vm|2026-02-11T10:00:00\n');
    const res = await b.status([tracked('101;c1', 'sh0a1b2c3dm1')]);
    expect(res.get('101;c1')).toMatchObject({ state: 'running' });
    expect(runner.readState('squeue.args')).toMatch(/-u \S+ -M c1 -o/);
    runner.writeState('squeue.args', '');
    expect(Object.fromEntries(await b.findByTags(['sh0a1b2c3dm1']))).toEqual({ sh0a1b2c3dm1: '101;c1' });
    expect(runner.readState('squeue.args')).toMatch(/-M c1/);
  });
});

describe('sizes', () => {
  it('20,000 tracked jobs: one squeue, one sacct, no argument lists', async () => {
    const b = backend();
    const jobs = Array.from({ length: 20_000 }, (_, i) =>
      tracked(String(100_000 + i), `sh0123abcd${i.toString(36)}`),
    );
    runner.writeState(
      'squeue.txt',
      ['100000|RUNNING|None|vm|N/A', '100001|PENDING|Priority||N/A', '555|RUNNING|None|vm|N/A'].join('\n'),
    );
    runner.writeState('sacct.txt', '100002|COMPLETED|0:0|2026-02-11T10:00:00|2026-02-11T10:00:01|vm|None\n');
    const res = await b.status(jobs);
    expect(runner.log).toHaveLength(2);
    expect(runner.readState('squeue.args').trim().split('\n')).toHaveLength(1);
    const sacctArgs = runner.readState('sacct.args').trim().split('\n');
    expect(sacctArgs).toHaveLength(1);
    expect(sacctArgs[0]).toMatch(/ -u \S+$/);
    expect(res.size).toBe(20_000);
    expect(res.get('100000')?.state).toBe('running');
    expect(res.get('100001')?.state).toBe('pending');
    expect(res.get('100002')).toMatchObject({ state: 'completed', final: true });
    expect(res.get('119999')?.state).toBe('unknown');
    expect(res.has('555')).toBe(false);
  });

  it('cancel of 2,500 jobs: scancel in chunks of 1,000 in one round trip', async () => {
    const b = backend();
    await b.cancel(Array.from({ length: 2500 }, (_, i) => tracked(String(i + 1), 'x')));
    expect(runner.log).toHaveLength(1);
    const calls = runner.readState('scancel.args').trim().split('\n');
    expect(calls.map((c) => c.split(' ').length)).toEqual([1000, 1000, 500]);
  });
});

describe('exit codes and newer states', () => {
  it('the marker’s exit code wins over accounting’s (sacct ≤ 25.05 reports 130 as 2)', async () => {
    const b = backend();
    const markers = join(runner.home, '.cache/scripthut/markers');
    mkdirSync(markers, { recursive: true });
    writeFileSync(join(markers, 'x1.rc'), '130\n');
    runner.writeState('sacct.txt', '21|FAILED|2:0|2026-02-11T10:00:00|2026-02-11T10:00:01|vm|None\n');
    const res = await b.status([tracked('21', 'x1')]);
    expect(res.get('21')).toMatchObject({ state: 'failed', exitCode: 130, final: true });
    expect(res.get('21')?.reason).toMatch(/exit code 130 \(from the job's exit marker\)/);
  });

  it('EXPEDITING (25.11) is not final; SPECIAL_EXIT is held, waiting for a release', async () => {
    const b = backend();
    runner.writeState(
      'squeue.txt',
      ['31|EXPEDITING|None|vm|2026-02-11T10:00:00', '32|SPECIAL_EXIT|JobHeldAdmin||N/A'].join('\n'),
    );
    const res = await b.status([tracked('31', 'a'), tracked('32', 'b')]);
    expect(res.get('31')).toMatchObject({ state: 'completing', final: false });
    expect(res.get('32')).toMatchObject({ state: 'pending', final: false });
    expect(res.get('32')?.reason).toMatch(/SPECIAL_EXIT: requeued and held \(JobHeldAdmin\); release it/);
  });

  it('an empty (pre-created) marker is not an exit code; markers of final jobs are cleaned up', async () => {
    const b = backend();
    const markers = join(runner.home, '.cache/scripthut/markers');
    mkdirSync(markers, { recursive: true });
    writeFileSync(join(markers, 'p1.rc'), '');
    writeFileSync(join(markers, 'p2.rc'), '0\n');
    runner.writeState('squeue.txt', '41|COMPLETED|None|vm|N/A\n42|COMPLETED|None|vm|N/A\n');
    const res = await b.status([tracked('41', 'p1'), tracked('42', 'p2')]);
    expect(res.get('41')).toMatchObject({ state: 'completed', exitCode: 0, final: true });
    expect(runner.log.at(-1)!.stdout).toContain('@@m p2 0');
    expect(runner.log.at(-1)!.stdout).not.toContain('@@m p1');
    await b.status([tracked('43', 'p3')]);
    expect(existsSync(join(markers, 'p1.rc')) || existsSync(join(markers, 'p2.rc'))).toBe(false);
  });
});
