/**
 * Parsers and verdicts on real OpenPBS 23.06.06 output: the files captured from the real server
 * (test/fixtures/openpbs-23.06.06, history on and off) and the samples of
 * ../shared/vendor/openpbs/samples.md copied verbatim where they add a state.
 */
import { describe, expect, it } from 'vitest';
import { capture } from '../test/fixtures/capture.js';
import {
  detectFlavour,
  finishedVerdict,
  jobHistoryEnabled,
  parseQstatJson,
  parseQstatText,
  parseQsubOutput,
  pbsJobStatus,
  pbsKillVerdict,
  pbsTimeToIso,
  qsubFailure,
} from './index.js';
import { onlyGoneJobErrors } from './programs.js';

const one = (name: string) => {
  const recs = name.endsWith('json')
    ? parseQstatJson(capture(name).stdout)
    : parseQstatText(capture(name).stdout);
  expect(recs).toHaveLength(1);
  return recs[0]!;
};

describe('OpenPBS 23.06.06: server facts', () => {
  it('detects PBS Pro 23.06.06 and the job history mode from qstat -Bf', () => {
    expect(detectFlavour(capture('off-version').stdout)).toEqual({ flavour: 'pro', version: '23.06.06' });
    const off = capture('off-qstat-Bf').stdout;
    expect(off).toContain('job_history_enable = False');
    expect(jobHistoryEnabled(off)).toBe(false);
    expect(jobHistoryEnabled(off.replace('job_history_enable = False', 'job_history_enable = True'))).toBe(
      true,
    );
    // A stock server that never set it does not print the attribute at all: off.
    expect(jobHistoryEnabled(off.replace(/^ *job_history_enable = .*\n/m, ''))).toBe(false);
  });
});

describe('OpenPBS 23.06.06: live jobs (history on and off alike)', () => {
  it('a running job in JSON and in 79-column text give the same status, dates read as UTC', () => {
    for (const mode of ['on', 'off']) {
      const json = pbsJobStatus(one(`${mode}-qstat-live-json`), undefined, 'pro');
      const text = pbsJobStatus(one(`${mode}-qstat-live-text`), undefined, 'pro');
      expect(json).toMatchObject({ state: 'running', node: 'pbshost', rawState: 'R', final: false });
      expect(text).toEqual(json);
    }
    // `TZ=UTC qstat`: 16:30:05 UTC is the time the job started (stime).
    expect(pbsJobStatus(one('on-qstat-live-json'), undefined, 'pro').startedAt).toBe(
      '2026-11-27T16:30:05.000Z',
    );
  });

  it('a long Job_Name wrapped mid-word at column 79 is re-joined; the login zone shifts dates 5.5 h', () => {
    const name = 'sh0a1b2c3d05-a_task_name_long_enough_to_make_qstat_wrap_the_Job_Name_line';
    const text = capture('off-qstat-longname-text').stdout;
    expect(text).toContain('_the_Job_\n\tName_line');
    expect(one('off-qstat-longname-text').attrs.Job_Name).toBe(name);
    expect(one('off-qstat-longname-json').attrs.Job_Name).toBe(name);
    const utc = pbsTimeToIso(one('off-qstat-longname-text').attrs.stime);
    const local = pbsTimeToIso(one('off-qstat-longname-login-tz').attrs.stime);
    expect(utc).toBe('2026-11-27T16:31:12.000Z');
    expect(Date.parse(local!) - Date.parse(utc!)).toBe(5.5 * 3600_000); // why qstat runs with TZ=UTC
  });

  it('a held job is pending with its hold types', () => {
    expect(pbsJobStatus(one('on-qstat-held-json'), undefined, 'pro')).toMatchObject({
      state: 'pending',
      reason: 'Held (u)',
      final: false,
    });
  });
});

describe('OpenPBS 23.06.06: finished jobs (history on, qstat -x)', () => {
  it('exit 3 → failed with exit code 3 (JSON and text)', () => {
    for (const name of ['on-qstat-x-exit3-json', 'on-qstat-x-exit3-text'])
      expect(pbsJobStatus(one(name), 3, 'pro')).toMatchObject({ state: 'failed', exitCode: 3, final: true });
  });

  it('walltime kill → timeout (Exit_status -29), even with no exit marker', () => {
    expect(pbsJobStatus(one('on-qstat-x-wall-json'), undefined, 'pro')).toMatchObject({
      state: 'timeout',
      exitCode: -29,
      reason: 'killed by PBS: walltime exceeded (Exit_status -29)',
      final: true,
    });
  });

  it('qdel of a running job whose script traps TERM still reads 271 → cancelled', () => {
    const rec = one('on-qstat-x-qdel-running-json');
    expect(rec.attrs.comment).toMatch(/terminated by pbsuser@pbshost$/);
    expect(pbsJobStatus(rec, undefined, 'pro')).toMatchObject({ state: 'cancelled', exitCode: 271 });
  });

  it('a job deleted while held has no Exit_status → cancelled', () => {
    const rec = one('on-qstat-x-heldqdel-json');
    expect(rec.attrs.Exit_status).toBeUndefined();
    expect(pbsJobStatus(rec, undefined, 'pro')).toMatchObject({ state: 'cancelled', exitCode: null });
  });

  it('without -x a finished job is "Job has finished, use -x" (exit 35); unknown ids 153 next to live ones', () => {
    const finished = capture('on-qstat-f-finished');
    expect(finished.exitCode).toBe(35);
    expect(finished.stderr).toMatch(/Job has finished, use -x or -H/);
    const mixed = capture('on-qstat-mixed-json');
    expect(mixed.exitCode).toBe(153);
    expect(parseQstatJson(mixed.stdout).map((r) => r.id)).toEqual(['14.pbshost']);
    expect(onlyGoneJobErrors(mixed.stderr)).toBe(true);
  });
});

describe('OpenPBS 23.06.06: history off', () => {
  it('qstat -x and qselect -x exit 0 with no jobs and say so on stderr', () => {
    for (const name of ['off-qstat-x-refused-json', 'off-qstat-x-refused-text', 'off-qselect-x-refused']) {
      const c = capture(name);
      expect(c.exitCode).toBe(0);
      expect(c.stderr).toMatch(/PBS is not configured to maintain job history/);
    }
    expect(parseQstatJson(capture('off-qstat-x-refused-json').stdout)).toEqual([]);
  });

  it('a finished job is an unknown id at once; the live one still prints', () => {
    const mixed = capture('off-qstat-mixed-json');
    expect(mixed.exitCode).toBe(153);
    expect(mixed.stderr).toBe('qstat: Unknown Job Id 19.pbshost\nqstat: Unknown Job Id 99999.pbshost\n');
    expect(parseQstatJson(mixed.stdout).map((r) => r.id)).toEqual(['22.pbshost']);
    expect(onlyGoneJobErrors(mixed.stderr)).toBe(true);
    expect(capture('off-qstat-wall-gone').stderr).toBe('qstat: Unknown Job Id 20.pbshost\n');
  });

  it("the MoM's kill line in the job's stderr is the walltime verdict", () => {
    for (const mode of ['on', 'off']) {
      const tail = capture(`${mode}-wall-stderr`).stdout;
      expect(tail).toMatch(/^=>> PBS: job killed: walltime \d+ exceeded limit 5\nTerminated\n$/);
      expect(pbsKillVerdict(tail)).toEqual({
        state: 'timeout',
        reason: expect.stringMatching(/^killed by PBS: walltime \d+ exceeded limit 5$/),
      });
    }
    expect(pbsKillVerdict('=>> PBS: job killed: mem 2097152kb exceeded limit 1048576kb\n')).toEqual({
      state: 'out_of_memory',
      reason: 'killed by PBS: mem 2097152kb exceeded limit 1048576kb',
    });
    expect(pbsKillVerdict('=>> PBS: job killed: cput 601 exceeded limit 600\n')?.state).toBe('failed');
    expect(pbsKillVerdict('Terminated\n')).toBeNull();
  });
});

describe('OpenPBS 23.06.06: qsub errors', () => {
  it('unknown queue (170) and a job over the queue limits (188) are permanent task failures', () => {
    const unknown = capture('off-qsub-unknown-queue');
    expect([unknown.exitCode, unknown.stderr]).toEqual([170, 'qsub: Unknown queue\n']);
    expect(qsubFailure(unknown.stderr.trim())).toEqual({ transient: false, reason: 'qsub: Unknown queue' });
    const over = capture('off-qsub-over-queue-walltime');
    expect(over.exitCode).toBe(188);
    expect(qsubFailure(over.stderr.trim()).transient).toBe(false);
  });

  it('the per-user queue limit is transient, with the message as the reason', () => {
    const c = capture('off-qsub-per-user-limit');
    expect([c.exitCode, c.stderr]).toEqual([38, "qsub: would exceed queue generic's per-user limit\n"]);
    expect(qsubFailure(c.stderr.trim())).toEqual({
      transient: true,
      reason: "queue limit reached, waiting for room: qsub: would exceed queue generic's per-user limit",
    });
    // The other entity-limit messages of OpenPBS 23.06 (src/lib/Liblog/pbs_messages.c).
    for (const msg of [
      'qsub: Maximum number of jobs already in queue workq',
      'qsub: Maximum number of jobs for user alice already in queue workq',
      "qsub: Maximum number of jobs in 'Q' state for user alice already in complex",
      "qsub: would exceed complex's per-user limit of jobs in 'Q' state",
      'qsub: would exceed per-user limit on resource ncpus in queue workq',
      'qsub: Maximum number of jobs already in queue', // PBSE_MAXQUED, old-style limits
    ])
      expect(qsubFailure(msg).transient, msg).toBe(true);
  });

  it('a submitted job id', () => {
    expect(parseQsubOutput('23.pbshost\n')).toBe('23.pbshost');
  });
});

describe('exit statuses without a capture of their own (OpenPBS src/include/job.h, Torque docs)', () => {
  const v = (exit: number, flavour: 'pro' | 'torque' = 'pro', marker?: number) =>
    finishedVerdict({
      exit,
      usedSeconds: 10,
      limitSeconds: 3600,
      flavour,
      ...(marker === undefined ? {} : { marker }),
    });
  it('PBS Pro -24…-28 are limit kills, not "could not run"', () => {
    expect(v(-27)).toEqual({
      state: 'out_of_memory',
      reason: 'killed by PBS: memory limit exceeded (Exit_status -27)',
    });
    expect(v(-26).state).toBe('out_of_memory');
    expect(v(-28)).toEqual({
      state: 'failed',
      reason: 'killed by PBS: CPU time limit exceeded (Exit_status -28)',
    });
    expect(v(-24).reason).toMatch(/ncpus/);
    expect(v(-1)).toEqual({ state: 'failed', reason: 'PBS could not run the job (Exit_status -1)' });
  });
  it('Torque -10/-11/-12 are memory, walltime and CPU-time kills; -11 is a rerun on PBS Pro', () => {
    expect(v(-10, 'torque').state).toBe('out_of_memory');
    expect(v(-11, 'torque').state).toBe('timeout');
    expect(v(-12, 'torque').reason).toMatch(/CPU time/);
    expect(v(-11, 'pro').state).toBe('failed');
  });
  it('143 without an exit marker is a TERM (qdel through the trap); with marker 143 the command exited 143', () => {
    expect(v(143).state).toBe('cancelled');
    expect(v(143, 'pro', 143)).toEqual({ state: 'failed', reason: null });
  });
});
