/**
 * PBS Pro job arrays: ids, limits, the submission and cancel programs, and the status of elements
 * from real OpenPBS 23.06.06 output (test/fixtures/openpbs-23.06.06/*-array-*.txt, both history
 * modes: an array of 5 whose element 0 exits 0, element 1 exits 3, elements 2-4 sleep).
 */
import type { ExecResult, TrackedJob } from '@scripthut/core';
import { buildArraySubmitProgram } from '@scripthut/ssh';
import { describe, expect, it } from 'vitest';
import { capture } from '../test/fixtures/capture.js';
import {
  DEFAULT_MAX_ARRAY_SIZE,
  isPbsElementJobId,
  PBS_ARRAY_PROGRAM,
  parseMaxArraySize,
  pbsElementJobId,
} from './arrays.js';
import { parseQstatText, parseQsubOutput } from './parse.js';
import { buildCancelProgram, onlyGoneJobErrors } from './programs.js';
import { createStatusPoll, elementStatus, endedElement } from './status.js';

const TAG = 'sh0a1b2c3d11';

describe('PBS Pro array ids and limits', () => {
  it('qsub -J answers the array id; elements are <n>[<i>].<server>', () => {
    for (const mode of ['on', 'off']) {
      const id = parseQsubOutput(capture(`${mode}-array-qsub-array`).stdout)!;
      expect(id).toMatch(/^\d+\[\]\.pbshost$/);
      expect(pbsElementJobId(id, 4)).toBe(id.replace('[]', '[4]'));
    }
    expect(pbsElementJobId('15[]', 0)).toBe('15[0]');
    expect(() => pbsElementJobId('15.pbshost', 1)).toThrow(/not a PBS array/);
    expect(() => pbsElementJobId('15[3].pbshost', 1)).toThrow(/not a PBS array/);
    expect(() => pbsElementJobId('15[].pbshost', -1)).toThrow();
    expect(isPbsElementJobId('15[3].pbshost')).toBe(true);
    expect(isPbsElementJobId('15[].pbshost')).toBe(false);
    expect(isPbsElementJobId('15.pbshost')).toBe(false);
  });

  it('max_array_size from the real qstat -Bf; absent → null (the backend then uses 10000)', () => {
    expect(parseMaxArraySize(capture('off-qstat-Bf').stdout)).toBe(10_000);
    expect(parseMaxArraySize('Server: s\n    pbs_version = 23.06.06\n')).toBeNull();
    expect(DEFAULT_MAX_ARRAY_SIZE).toBe(10_000);
  });

  it('the submission program: markers, quoted links, ONE qsub from $HOME, markers removed on refusal', () => {
    const program = buildArraySubmitProgram({
      ...PBS_ARRAY_PROGRAM,
      script: '#!/bin/bash\n#PBS -J 0-1\necho hi\n',
      tags: [TAG, 'sh0a1b2c3d21'],
      links: [[`/l/${TAG}.0.out`, "/logs/it's here.out"]],
      dirs: ['/logs'],
      markerDir: '~/m',
    });
    expect(program).toContain(`\n/logs/it's here.out\t/l/${TAG}.0.out\nSCRIPTHUT_LINKS\n`);
    expect(program).not.toMatch(/^ln /m);
    expect(program.match(/^qsub /gm)).toHaveLength(1);
    expect(program).toContain('cd "$HOME" || exit 90');
    expect(program).toMatch(/if \[ "\$rc" != 0 \]; then rm -f -- "\$M"\/sh0a1b2c3d11\.rc.*sh0a1b2c3d21\.rc/);
  });

  it('cancel: qselect -T (subjobs) only when elements are cancelled; queued subjobs last', () => {
    expect(buildCancelProgram(['5.pbshost'])).not.toContain('-T');
    const p = buildCancelProgram(['15[4].pbshost', '16.pbshost']);
    expect(p).toContain(`qselect -u "$u" -T >"$T/live"`);
    expect(p).toContain(`qselect -u "$u" -T -s QHWT >"$T/q"`);
    // What those list on the real server: plain qselect only the array, -T every element.
    for (const mode of ['on', 'off']) {
      expect(capture(`${mode}-array-qselect-array`).stdout.trim()).toMatch(/^\d+\[\]\.pbshost$/);
      expect(capture(`${mode}-array-qselect-T`).stdout.trim().split('\n')).toHaveLength(5);
      expect(capture(`${mode}-array-qselect-T-queued`).stdout.trim()).toMatch(/^\d+\[4\]\.pbshost$/);
      expect(capture(`${mode}-array-qdel-element-queued`).exitCode).toBe(0);
    }
  });
});

describe('status of array elements (real OpenPBS output)', () => {
  const records = (name: string) => parseQstatText(capture(name).stdout);

  it("an ended element's Exit_status is not its own: 0 for `exit 3` (history off), 1 after the array's qdel (on)", () => {
    const off = records('off-array-qstat-elements-live');
    expect(off.map((r) => [r.attrs.job_state, r.attrs.Exit_status])).toEqual([
      ['X', '0'],
      ['X', '0'], // element 1 exited 3
      ['R', undefined],
      ['Q', '0'],
    ]);
    const after = records('on-array-qstat-elements-after-array-qdel');
    expect(after.map((r) => r.attrs.Exit_status)).toEqual(['1', '1', '271']);
    expect(endedElement(off[1]!)).toBe('job_state X, Exit_status 0');
    expect(endedElement(off[2]!)).toBeNull(); // running
    expect(endedElement(off[3]!)).toBeNull(); // queued
    expect(endedElement(after[0]!)).toBe('job_state F, Exit_status 1');
  });

  it('the exit marker decides an ended element: exit 3 → failed 3, exit 0 → completed', () => {
    const [e0, e1] = records('off-array-qstat-elements-live');
    expect(elementStatus(e1!, 3, 'pro')).toMatchObject({ state: 'failed', exitCode: 3, final: true });
    expect(elementStatus(e0!, 0, 'pro')).toMatchObject({ state: 'completed', exitCode: 0, final: true });
    const [a0] = records('on-array-qstat-elements-after-array-qdel');
    expect(elementStatus(a0!, 0, 'pro')).toMatchObject({ state: 'completed', exitCode: 0 });
  });

  it('the status poll: markers decide ended elements, live ones are live, one without a marker failed; gone ids are not errors', async () => {
    for (const mode of ['on', 'off'] as const) {
      const live = capture(`${mode}-array-qstat-elements-live`);
      const ids = parseQstatText(live.stdout).map((r) => r.id);
      const tags = ['sh0a1b2c3d01', 'sh0a1b2c3d11', 'sh0a1b2c3d21', 'sh0a1b2c3d41'];
      const deleted = capture(`${mode}-array-qstat-element-deleted`).stdout;
      const answer = [
        '@@fmt',
        'text',
        '@@history',
        mode === 'on' ? '1' : '0',
        '@@out',
        // element 4 is shown as deleted (X, no marker)
        live.stdout.replace(/Job Id: \d+\[4\][\s\S]*$/, deleted),
        '@@rc',
        '0',
        '@@err',
        '',
        '@@markers',
        `${tags[0]} 0`,
        `${tags[1]} 3`,
        '@@end',
        '',
      ].join('\n');
      const run = async (): Promise<ExecResult> => ({ stdout: answer, stderr: '', exitCode: 0 });
      const poll = createStatusPoll({
        name: 'pbs',
        markerDir: '~/m',
        run,
        server: async () => ({ flavour: 'pro', history: mode === 'on' }),
        setHistory: () => undefined,
        resolvePath: async (p) => p,
        forcedFormat: 'text',
      });
      const jobs: TrackedJob[] = ids.map((jobId, i) => ({
        jobId,
        tag: tags[i]!,
        runId: 'r',
        taskId: `t${i}`,
        submittedAt: null,
        lastState: 'running',
        stdoutPath: null,
        stderrPath: null,
        meta: {},
      }));
      const st = await poll(jobs);
      expect(st.get(ids[0]!), mode).toMatchObject({ state: 'completed', exitCode: 0, final: true });
      expect(st.get(ids[1]!), mode).toMatchObject({ state: 'failed', exitCode: 3, final: true });
      expect(st.get(ids[2]!), mode).toMatchObject({ state: 'running', final: false });
      expect(st.get(ids[3]!), mode).toMatchObject({ state: 'failed', exitCode: null, final: true });
      expect(st.get(ids[3]!)!.reason).toMatch(/without writing its exit marker/);
      // Elements the server forgot (array over, history off) or never had: "gone", not a failure.
      expect(onlyGoneJobErrors(capture(`${mode}-array-qstat-element-unknown`).stderr)).toBe(true);
    }
    expect(onlyGoneJobErrors(capture('off-array-qstat-elements-after-array-qdel').stderr)).toBe(true);
  });
});
