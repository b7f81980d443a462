import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import type { BackendHealth, CommandLogEntry, ExecResult, TrackedJob } from '@scripthut/core';
import { BackendError } from '@scripthut/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalBashRunner } from '../test/local-runner.js';
import { makeRequest } from '../test/requests.js';
import { createSlurmBackend, type SlurmExecOptions, type SlurmSsh } from './backend.js';
import { buildSubmitProgram, parseSubmitAnswer } from './programs.js';

let runner: LocalBashRunner;
beforeEach(() => {
  runner = new LocalBashRunner();
});
afterEach(() => runner.cleanup());

const backend = (over: Partial<Parameters<typeof createSlurmBackend>[0]> = {}) =>
  createSlurmBackend({ name: 'hpc', ssh: runner, maxConcurrent: 10, ...over });

function tracked(jobId: string, tag: string, over: Partial<TrackedJob> = {}): TrackedJob {
  return {
    jobId,
    runId: 'run1',
    taskId: tag,
    tag,
    stdoutPath: null,
    stderrPath: null,
    submittedAt: '2026-02-11T10:00:00.000Z',
    lastState: 'running',
    meta: {},
    ...over,
  };
}

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

describe('status', () => {
  it('one squeue for all jobs; terminal queue states use the exit markers', async () => {
    const b = backend();
    const markers = join(runner.home, '.cache/scripthut/markers');
    mkdirSync(markers, { recursive: true });
    writeFileSync(join(markers, 'tb.rc'), '0\n');
    writeFileSync(join(markers, 'tc.rc'), '3\n');
    runner.writeState(
      'squeue.txt',
      [
        '1|PENDING|Resources||N/A',
        '2|COMPLETED|None|vm|2026-02-11T10:00:00',
        '3|FAILED|NonZeroExitCode|vm|2026-02-11T10:00:00',
        '4|RUNNING|None|vm|2026-02-11T10:00:05',
        '5|TIMEOUT|TimeLimit|vm|2026-02-11T10:00:05',
      ].join('\n'),
    );
    const res = await b.status([
      tracked('1', 'ta'),
      tracked('2', 'tb'),
      tracked('3', 'tc'),
      tracked('4', 'td'),
      tracked('5', 'te'),
    ]);
    expect(runner.readState('squeue.args').trim().split('\n')).toEqual([
      `-h -r -t all -u ${userInfo().username} -o %i|%T|%r|%N|%S`,
    ]);
    // Only the markers of ended jobs are read (2, 3, 5): pending and running ones are left alone.
    expect(runner.log.at(-1)!.command).toMatch(/squeue -h -t all -u \$USER/);
    expect(runner.readState('sacct.args')).toBe('');
    expect(res.get('1')).toMatchObject({ state: 'pending', reason: 'Resources', startedAt: null });
    expect(res.get('2')).toMatchObject({ state: 'completed', exitCode: 0, final: true, node: 'vm' });
    expect(res.get('3')).toMatchObject({ state: 'failed', exitCode: 3, final: true });
    expect(res.get('4')).toMatchObject({ state: 'running', startedAt: '2026-02-11T10:00:05Z', final: false });
    expect(res.get('5')).toMatchObject({ state: 'timeout', final: true });
  });

  it('jobs not in squeue go to ONE bounded sacct; accounting lag → unknown; markers bridge the gap', async () => {
    const b = backend();
    const markers = join(runner.home, '.cache/scripthut/markers');
    mkdirSync(markers, { recursive: true });
    writeFileSync(join(markers, 'tz.rc'), '0\n');
    runner.writeState('squeue.txt', '');
    runner.writeState(
      'sacct.txt',
      [
        '7|COMPLETED|0:0|2026-02-11T10:00:00|2026-02-11T10:00:01|vm|None',
        '7.batch|COMPLETED|1:0|2026-02-11T10:00:00|2026-02-11T10:00:01|vm|',
        '8|CANCELLED by 1001|0:0|2026-02-11T10:00:00|2026-02-11T10:00:09|vm|None',
      ].join('\n'),
    );
    const res = await b.status([
      tracked('7', 'tx', { submittedAt: '2026-02-11T12:00:00.000Z' }),
      tracked('8', 'ty', { submittedAt: '2026-02-11T11:00:00.000Z' }),
      tracked('9', 'tz'),
      tracked('10', 'tw'),
    ]);
    const sacctArgs = runner.readState('sacct.args').trim().split('\n');
    expect(sacctArgs).toHaveLength(1);
    expect(sacctArgs[0]).toBe(
      '-n -P --format=JobID,State,ExitCode,Start,End,NodeList,Reason --starttime=2026-02-11T09:00:00 -j 7,8,9,10',
    );
    expect(res.get('7')).toMatchObject({
      state: 'failed',
      exitCode: 1,
      final: true,
      finishedAt: '2026-02-11T10:00:01Z',
    });
    expect(res.get('8')).toMatchObject({ state: 'cancelled', final: true });
    expect(res.get('9')).toMatchObject({ state: 'completed', exitCode: 0, final: false });
    expect(res.get('10')).toMatchObject({ state: 'unknown', final: false });
  });

  it('a failing squeue is a transient error naming the backend; the queue of the user is filtered to our ids', async () => {
    const b = backend();
    runner.writeState('squeue.txt', '1|RUNNING|None|vm|2026-02-11T10:00:00\n99|RUNNING|None|vm|N/A\n');
    const res = await b.status([tracked('1', 'q1'), tracked('77', 'q2')]);
    expect([...res.keys()].sort()).toEqual(['1', '77']);
    expect(res.get('1')?.state).toBe('running');
    expect(res.get('77')?.state).toBe('unknown');
    runner.writeState('squeue.rc', '1');
    runner.writeState(
      'squeue.err',
      'slurm_load_jobs error: Unable to contact slurm controller (connect failure)\n',
    );
    const err = await b.status([tracked('77', 'q1')]).catch((e) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect(BackendError.isTransient(err)).toBe(true);
    expect(err.message).toMatch(/squeue failed on backend hpc: .*connect failure/);
  });

  it('a FAILED job without marker asks accounting; memory-limit text makes it OOM', async () => {
    const b = backend();
    runner.writeState('squeue.txt', '16|FAILED|NonZeroExitCode|vm|2026-02-11T10:00:00\n');
    runner.writeState(
      'sacct.txt',
      '16|FAILED|0:9|2026-02-11T10:00:00|2026-02-11T10:00:03|vm|None\n16.batch|CANCELLED by 0|0:9|2026-02-11T10:00:00|2026-02-11T10:00:03|vm|\n',
    );
    mkdirSync(join(runner.home, 'logs'), { recursive: true });
    writeFileSync(
      join(runner.home, 'logs/t.err'),
      'slurmstepd-vm: error: StepId=16.batch exceeded memory limit (1 > 0), being killed\n',
    );
    const res = await b.status([tracked('16', 'm1', { stderrPath: '~/logs/t.err' })]);
    expect(res.get('16')).toMatchObject({ state: 'out_of_memory', final: true });
  });

  it('rejects invalid ids without putting them in a command', async () => {
    const b = backend();
    const res = await b.status([tracked('1; rm -rf ~', 'x1')]);
    expect(res.get('1; rm -rf ~')?.state).toBe('unknown');
    expect(runner.log).toHaveLength(0);
  });
});

describe('quickStatus, findByTags, cancel', () => {
  it('quickStatus reads markers in one exec, no scheduler command', async () => {
    const b = backend();
    const markers = join(runner.home, '.cache/scripthut/markers');
    mkdirSync(markers, { recursive: true });
    writeFileSync(join(markers, 'qa.rc'), '0\n');
    writeFileSync(join(markers, 'qb.rc'), '42\n');
    writeFileSync(join(markers, 'qd.rc'), '5\n');
    const res = await b.quickStatus!([
      tracked('1', 'qa'),
      tracked('2', 'qb'),
      tracked('3', 'qc'),
      tracked('4', 'qd', { lastState: 'pending' }),
    ]);
    expect(runner.log).toHaveLength(1);
    expect(runner.readState('squeue.args') + runner.readState('sacct.args')).toBe('');
    expect(res.get('1')).toMatchObject({ state: 'completed', exitCode: 0, final: false });
    expect(res.get('2')).toMatchObject({ state: 'failed', exitCode: 42 });
    expect(res.has('3')).toBe(false);
    // A job seen queued can start and end between two scheduler polls: it is read too.
    expect(res.get('4')).toMatchObject({ state: 'failed', exitCode: 5 });
    expect(b.quickStatusIntervalMs).toBe(2000);
    // The markers of reported jobs are removed by the next program; others stay.
    writeFileSync(join(markers, 'qe.rc'), '');
    await b.quickStatus!([tracked('5', 'qe')]);
    expect(existsSync(join(markers, 'qa.rc'))).toBe(false);
    expect(existsSync(join(markers, 'qd.rc'))).toBe(false);
    expect(existsSync(join(markers, 'qe.rc'))).toBe(true);
  });

  it('quickStatus reads every running job but at most 500 queued ones per call, in rotation', async () => {
    const b = backend();
    const markers = join(runner.home, '.cache/scripthut/markers');
    mkdirSync(markers, { recursive: true });
    const running = Array.from({ length: 3 }, (_, i) => tracked(`${i + 1}`, `r${i}`));
    const queued = Array.from({ length: 1200 }, (_, i) =>
      tracked(`${1000 + i}`, `q${i}`, { lastState: 'pending' }),
    );
    for (const j of [...running, ...queued]) writeFileSync(join(markers, `${j.tag}.rc`), '0\n');
    // Like the engine: jobs reported finished are not asked about again.
    const first = await b.quickStatus!([...running, ...queued]);
    for (const j of running) expect(first.has(j.jobId)).toBe(true);
    const seen = new Set([...first.keys()].filter((id) => Number(id) >= 1000));
    expect(seen.size).toBe(500);
    const second = await b.quickStatus!(queued.filter((j) => !seen.has(j.jobId)));
    expect(second.size).toBe(500);
    for (const id of second.keys()) seen.add(id);
    const third = await b.quickStatus!(queued.filter((j) => !seen.has(j.jobId)));
    expect(third.size).toBe(200);
    for (const id of third.keys()) seen.add(id);
    expect(seen.size).toBe(1200);
  });

  it('cancel issues one scancel for all valid ids and tolerates finished jobs', async () => {
    const b = backend();
    await b.cancel([tracked('5', 'a'), tracked('6', 'b'), tracked('bad id', 'c')]);
    expect(runner.readState('scancel.args').trim()).toBe('5 6');
    runner.writeState('scancel.args', '');
    await b.cancel([tracked('7;c1', 'a'), tracked('8', 'b'), tracked('9;c1', 'c')]);
    expect(runner.readState('scancel.args').trim().split('\n').sort()).toEqual(['-M c1 7 9', '8']);
    runner.writeState(
      'scancel.err',
      'scancel: error: Kill job error on job id 5: Job/step already completing or completed\n',
    );
    await expect(b.cancel([tracked('5', 'a')])).resolves.toBeUndefined();
    runner.writeState('scancel.err', 'scancel: error: Unable to contact slurm controller\n');
    await expect(b.cancel([tracked('5', 'a')])).rejects.toBeInstanceOf(BackendError);
  });
});

describe('readLog and readFile', () => {
  it('reads from offsets, tails, and reports missing files', async () => {
    const b = backend();
    mkdirSync(join(runner.home, 'logs'), { recursive: true });
    writeFileSync(join(runner.home, 'logs/a.out'), 'hello world\n');
    const req = {
      jobId: '1',
      runId: 'r',
      taskId: 't',
      path: '~/logs/a.out',
      stream: 'stdout' as const,
      meta: {},
    };
    expect(await b.readLog(req, {})).toEqual({ content: 'hello world\n', nextOffset: 12 });
    expect(await b.readLog(req, { offset: 6, maxBytes: 3 })).toEqual({ content: 'wor', nextOffset: 9 });
    expect(await b.readLog(req, { tailBytes: 6 })).toEqual({ content: 'world\n', nextOffset: 12 });
    expect(await b.readLog(req, { offset: 12 })).toEqual({ content: '', nextOffset: 12 });
    expect(await b.readLog({ ...req, path: '~/logs/none.out' }, { offset: 3 })).toEqual({
      content: '',
      nextOffset: 3,
      missing: true,
    });
  });

  it('never splits a multi-byte character across chunks', async () => {
    const b = backend();
    writeFileSync(join(runner.home, 'u.txt'), 'aé€b');
    const req = { jobId: '1', runId: 'r', taskId: 't', path: '~/u.txt', stream: 'stdout' as const, meta: {} };
    const first = await b.readLog(req, { offset: 0, maxBytes: 4 }); // 'a' + 'é' (2) + first byte of '€'
    expect(first).toEqual({ content: 'aé', nextOffset: 3 });
    const second = await b.readLog(req, { offset: first.nextOffset, maxBytes: 10 });
    expect(second).toEqual({ content: '€b', nextOffset: 7 });
  });

  it('readFile resolves relative paths against cwd and fails on missing files', async () => {
    const b = backend();
    mkdirSync(join(runner.home, 'repo dir'), { recursive: true });
    writeFileSync(join(runner.home, 'repo dir/tasks.json'), '{"tasks":[]}');
    expect(await b.readFile('tasks.json', '~/repo dir')).toBe('{"tasks":[]}');
    await expect(b.readFile('nope.json', '~/repo dir')).rejects.toThrow(/no such file/);
  });
});

/** A scripted fake for the commands the local bash runner cannot fake well. */
class ScriptedSsh implements SlurmSsh {
  readonly remote = true;
  calls: { command: string; options: SlurmExecOptions }[] = [];
  constructor(private readonly answer: (command: string, stdin: string) => ExecResult) {}
  async exec(command: string, options: SlurmExecOptions = {}): Promise<ExecResult> {
    this.calls.push({ command, options });
    return this.answer(command, options.stdin ?? '');
  }
  health(): BackendHealth {
    return { connected: true, lastError: null, endpoint: 'fake' };
  }
  commandLog(): CommandLogEntry[] {
    return [];
  }
  async close(): Promise<void> {}
}

describe('job arrays (scripted)', () => {
  it('MaxArraySize is read once per connection; a restricted scontrol means no arrays, not a failure', async () => {
    let rc = 0;
    const ssh = new ScriptedSsh((command) => ({
      stdout: command.includes('scontrol show config') ? 'MaxArraySize            = 1001\n' : '',
      stderr: rc ? 'scontrol: error: access denied' : '',
      exitCode: rc,
    }));
    const b = createSlurmBackend({ name: 'x', ssh, maxConcurrent: 1, arrays: true });
    expect(await b.arrays!.maxSize()).toBe(1000); // capped so the script stays below max_script_size
    expect(await b.arrays!.maxSize()).toBe(1000);
    expect(ssh.calls.filter((c) => c.command.includes('scontrol show config'))).toHaveLength(1);
    rc = 1;
    const restricted = createSlurmBackend({ name: 'y', ssh, maxConcurrent: 1, arrays: true });
    expect(await restricted.arrays!.maxSize()).toBe(0);
    expect(createSlurmBackend({ name: 'z', ssh, maxConcurrent: 1, arrays: false }).arrays).toBeUndefined();
    expect(createSlurmBackend({ name: 'z', ssh, maxConcurrent: 1 }).arrays).toBeUndefined(); // opt-in
  });
});

describe('clusterInfo, findByTags, externalJobs (scripted)', () => {
  it('clusterInfo: partitions, totals, pending reasons and disk in ONE exec', async () => {
    const ssh = new ScriptedSsh(() => ({
      stdout:
        '@@sinfo\nnormal*|up|1|idle|0/2/0/2|1-00:00:00\nlong|up|1|idle|0/2/0/2|7-00:00:00\n@@nodes\nvm|0/2/0/2\nvm|0/2/0/2\n@@pd\nResources\nPriority\nResources\n@@df\nFilesystem 1024-blocks Used Available Capacity Mounted on\n/dev/vda1 1000 400 600 40% /\n@@end\n',
      stderr: '',
      exitCode: 0,
    }));
    const b = createSlurmBackend({ name: 'x', ssh, maxConcurrent: 1, cloneDir: '~/repos' });
    const info = await b.clusterInfo();
    expect(ssh.calls).toHaveLength(1);
    expect(ssh.calls[0]!.options.stdin).toContain('"$HOME"/repos');
    expect(info).toEqual({
      cpusIdle: 2,
      cpusTotal: 2,
      partitions: [
        {
          name: 'normal',
          isDefault: true,
          cpusIdle: 2,
          cpusTotal: 2,
          cpusAllocated: 0,
          nodes: 1,
          timeLimit: '1-00:00:00',
          state: 'idle',
        },
        {
          name: 'long',
          isDefault: false,
          cpusIdle: 2,
          cpusTotal: 2,
          cpusAllocated: 0,
          nodes: 1,
          timeLimit: '7-00:00:00',
          state: 'idle',
        },
      ],
      pendingReasons: { Resources: 2, Priority: 1 },
      disk: { path: '~/repos', totalBytes: 1024000, availableBytes: 614400 },
    });
  });

  it("findByTags: one exec listing the user's jobs, names matched by tag prefix", async () => {
    const ssh = new ScriptedSsh(() => ({
      stdout:
        'noise\n@@squeue -\n12|sh0a1b2c3d11-train_a\n20|sh0a1b2c3d31-array5_x\n\n@@sacct -\n9|sh0a1b2c3d21\n13|sh0a1b2c3d111-other\n14|sh0a1b2c3d11x\n20_3|sh0a1b2c3d31-array5_x\n20_[4-9%2]|sh0a1b2c3d31-array5_x\n7_x|sh0a1b2c3d41\n@@end\n',
      stderr: '',
      exitCode: 0,
    }));
    const b = createSlurmBackend({ name: 'x', ssh, maxConcurrent: 1, arrays: true });
    const found = await b.findByTags([
      'sh0a1b2c3d11',
      'sh0a1b2c3d21',
      'sh0a1b2c3d31',
      'sh0a1b2c3d41',
      'not a tag',
    ]);
    // An array (its elements `20_3`, `20_[4-9%2]`) is found by its job id.
    expect(Object.fromEntries(found)).toEqual({ sh0a1b2c3d11: '12', sh0a1b2c3d21: '9', sh0a1b2c3d31: '20' });
    expect(ssh.calls).toHaveLength(1);
    expect(ssh.calls[0]!.command).toBe('bash -s');
    const program = String(ssh.calls[0]!.options?.stdin);
    expect(program).toContain(`squeue -h -t all -u "$u" -o '%F|%j' | grep -F -f <(__scripthut_tags)`);
    expect(program).toContain('sacct -n -P -X -u "$u" --format=JobID,JobName --starttime now-7days');
    expect(program).toContain('\nsh0a1b2c3d11\nsh0a1b2c3d21\nsh0a1b2c3d31\nsh0a1b2c3d41\nSCRIPTHUT_TAGS\n');
    expect(program).not.toContain('not a tag');
  });

  it('externalJobs quotes the user, or asks for the login user', async () => {
    const ssh = new ScriptedSsh(() => ({
      stdout: '2|okjob|hut|RUNNING|normal|0:02|vm|1|100M|2026-02-11T10:00:00|None\n',
      stderr: '',
      exitCode: 0,
    }));
    const b = createSlurmBackend({ name: 'x', ssh, maxConcurrent: 1, arrays: true });
    const jobs = await b.externalJobs!("o'brien");
    expect(jobs[0]).toMatchObject({ jobId: '2', name: 'okjob', state: 'running' });
    expect(ssh.calls[0]!.command).toContain("-u 'o'\\''brien'");
    await b.externalJobs!(null);
    expect(ssh.calls[1]!.command).toContain('-u "$(id -un)"');
  });

  it('SSH failures become transient BackendErrors', async () => {
    const ssh = new ScriptedSsh(() => {
      throw new Error('connection reset');
    });
    const b = createSlurmBackend({ name: 'x', ssh, maxConcurrent: 1, arrays: true });
    const err = await b.status([tracked('1', 'a')]).catch((e) => e);
    expect(BackendError.isTransient(err)).toBe(true);
    expect(String(err.message)).toMatch(/connection reset/);
  });
});
