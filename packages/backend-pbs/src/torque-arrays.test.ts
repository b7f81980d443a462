/**
 * Torque job arrays (`qsub -t`): server limits, element and array ids, the cancel and status
 * programs, and the status of elements — each a job of its own on Torque (`C` with its own
 * `exit_status`), unlike PBS Pro's `X` subjobs.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecResult, TrackedJob } from '@scripthut/core';
import { afterAll, describe, expect, it } from 'vitest';
import { parseMaxArraySize, parseMaxSlotLimit, pbsArrayJobIdOf, torqueSlotLimit } from './arrays.js';
import { parseQstatXml } from './parse.js';
import { buildCancelProgram, buildStatusProgram } from './programs.js';
import { createStatusPoll, endedElement } from './status.js';
import { mapActiveState } from './verdict.js';

const dir = mkdtempSync(join(tmpdir(), 'torque-arrays-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A Torque element record as `qstat -f -t -x` prints it (attributes trimmed to what matters). */
function elementXml(id: string, index: number, state: string, exit: number | null): string {
  return [
    `<Job><Job_Id>${id}</Job_Id><Job_Name>sh0a1b2c3d01-array3_t-${index}</Job_Name>`,
    `<job_state>${state}</job_state><queue>batch</queue>`,
    '<Resource_List><walltime>00:05:00</walltime></Resource_List>',
    '<resources_used><walltime>00:00:02</walltime></resources_used>',
    '<start_time>1795841674</start_time><comp_time>1795841676</comp_time>',
    exit === null ? '' : `<exit_status>${exit}</exit_status>`,
    `<job_array_id>${index}</job_array_id></Job>`,
  ].join('');
}

describe('Torque array limits and ids', () => {
  it('max_job_array_size and max_slot_limit from qstat -Bf; absent → null', () => {
    const server =
      'Server: torquesim\n    keep_completed = 300\n    max_job_array_size = 500\n    max_slot_limit = 8\n';
    expect(parseMaxArraySize(server)).toBe(500);
    expect(parseMaxSlotLimit(server)).toBe(8);
    expect(parseMaxArraySize('Server: t\n    keep_completed = 300\n')).toBeNull();
    expect(parseMaxSlotLimit('Server: t\n    keep_completed = 300\n')).toBeNull();
  });

  it('the %M slot limit is the throttle, at most max_slot_limit (qsub refuses more)', () => {
    expect(torqueSlotLimit(null, 8)).toBeNull();
    expect(torqueSlotLimit(5, null)).toBe(5);
    expect(torqueSlotLimit(20, 8)).toBe(8);
    expect(torqueSlotLimit(0, 8)).toBeNull();
  });

  it('an element id names its array (Torque qselect lists elements, not the array)', () => {
    expect(pbsArrayJobIdOf('123[7].torquesim')).toBe('123[].torquesim');
    expect(pbsArrayJobIdOf('123[].torquesim')).toBe('123[].torquesim');
    expect(pbsArrayJobIdOf('123.torquesim')).toBe('123.torquesim');
  });
});

describe('the Torque cancel program', () => {
  /** Run the program with fake `qselect` (listing `live`, `queued` for -s) and `qdel` (logging ids). */
  function cancel(ids: string[], live: string[], queued: string[] = []) {
    const bin = mkdtempSync(join(dir, 'bin-'));
    writeFileSync(join(bin, 'live'), live.map((l) => `${l}\n`).join(''));
    writeFileSync(join(bin, 'queued'), queued.map((l) => `${l}\n`).join(''));
    const qselect = `#!/bin/bash\nfor a in "$@"; do [ "$a" = -T ] && { echo "qselect: invalid option -- 'T'" >&2; exit 2; }; [ "$a" = -s ] && { cat ${bin}/queued; exit 0; }; done\ncat ${bin}/live\n`;
    writeFileSync(join(bin, 'qselect'), qselect);
    writeFileSync(join(bin, 'qdel'), `#!/bin/bash\nprintf '%s\\n' "$@" >>${bin}/qdel.log\n`);
    chmodSync(join(bin, 'qselect'), 0o755);
    chmodSync(join(bin, 'qdel'), 0o755);
    const r = spawnSync('bash', [], {
      input: buildCancelProgram(ids, 'torque'),
      env: { PATH: `${bin}:${process.env.PATH}` },
      encoding: 'utf8',
    });
    let deleted: string[] = [];
    try {
      deleted = readFileSync(join(bin, 'qdel.log'), 'utf8').trim().split('\n');
    } catch {}
    return { out: r.stdout, deleted };
  }

  it('no qselect -T; an element is deleted when qselect lists it, or lists its array, never when it lists neither', () => {
    expect(buildCancelProgram(['15[4].torquesim'], 'torque')).not.toContain('-T');
    expect(buildCancelProgram(['15[4].pbssim'], 'pro')).toContain('-T');
    expect(cancel(['15[1].t'], ['15[0].t', '15[1].t', '15[2].t']).deleted).toEqual(['15[1].t']);
    expect(cancel(['15[1].t'], ['15[].t']).deleted).toEqual(['15[1].t']);
    const gone = cancel(['15[1].t', '16.t'], ['17[1].t', '16.t']);
    expect(gone.deleted).toEqual(['16.t']);
    expect(gone.out).toContain('@@rc\n0\n');
    // queued ones last, as for PBS Pro
    expect(cancel(['15[1].t', '15[2].t'], ['15[1].t', '15[2].t'], ['15[1].t']).deleted).toEqual([
      '15[2].t',
      '15[1].t',
    ]);
  });
});

describe('status of Torque elements', () => {
  it('qstat gets -t only when elements are asked for', () => {
    const program = (ids: string[]) =>
      buildStatusProgram({
        flavour: 'torque',
        ids,
        markerDir: '~/m',
        tags: [],
        format: 'xml',
        history: false,
      });
    expect(program(['15[2].torquesim', '16.torquesim'])).toContain(
      `opts() { o='-f -t'; [ "$fmt" = xml ] && o="$o -x"; }`,
    );
    expect(program(['16.torquesim'])).toContain(`opts() { o='-f'; [ "$fmt" = xml ] && o="$o -x"; }`);
  });

  it("an ended element's record is its own: exit_status decides when no marker came, the marker when it did", async () => {
    const ids = ['15[0].torquesim', '15[1].torquesim', '15[2].torquesim', '15[3].torquesim'];
    const xml = `<Data>${[
      elementXml(ids[0]!, 0, 'C', 0),
      elementXml(ids[1]!, 1, 'C', 5),
      elementXml(ids[2]!, 2, 'R', null),
      elementXml(ids[3]!, 3, 'C', -11),
    ].join('')}</Data>`;
    const records = parseQstatXml(xml);
    expect(records.map((r) => r.attrs.job_array_id)).toEqual(['0', '1', '2', '3']);
    expect(endedElement(records[1]!, 'torque')).toBeNull();
    expect(endedElement(records[1]!, 'pro')).not.toBeNull();
    const tags = ['sh0a1b2c3d01', 'sh0a1b2c3d11', 'sh0a1b2c3d21', 'sh0a1b2c3d31'];
    const answer = [
      '@@fmt',
      'xml',
      '@@history',
      '0',
      '@@out',
      xml,
      '@@rc',
      '0',
      '@@err',
      '',
      '@@markers',
      `${tags[0]} 0`,
      '@@end',
      '',
    ].join('\n');
    const commands: string[] = [];
    const run = async (_c: string, o?: { stdin?: string }): Promise<ExecResult> => {
      commands.push(o?.stdin ?? '');
      return { stdout: answer, stderr: '', exitCode: 0 };
    };
    const poll = createStatusPoll({
      name: 'pbs',
      markerDir: '~/m',
      run,
      server: async () => ({ flavour: 'torque', history: false }),
      setHistory: () => undefined,
      resolvePath: async (p) => p,
      forcedFormat: null,
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
    expect(commands).toHaveLength(1); // one qstat for every element, no second round trip
    expect(commands[0]).toContain("o='-f -t'");
    expect(st.get(ids[0]!)).toMatchObject({ state: 'completed', exitCode: 0, final: true });
    expect(st.get(ids[1]!)).toMatchObject({ state: 'failed', exitCode: 5, final: true });
    expect(st.get(ids[2]!)).toMatchObject({ state: 'running', final: false });
    expect(st.get(ids[3]!)).toMatchObject({ state: 'timeout', final: true });
  });

  it('an element held by the slot limit (H, Hold_Types l) is pending', () => {
    const [held] = parseQstatXml(
      `<Data>${elementXml('15[4].torquesim', 4, 'H', null).replace('</job_state>', '</job_state><Hold_Types>l</Hold_Types>')}</Data>`,
    );
    expect(mapActiveState('H', held)).toEqual({ state: 'pending', reason: 'Held (l)' });
  });
});
