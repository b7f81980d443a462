import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { BackendError } from '@scripthut/core';
import { describe, expect, it } from 'vitest';
import { backend, runner, tracked, useLocalRunner } from '../test/backend-harness.js';

useLocalRunner();

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
