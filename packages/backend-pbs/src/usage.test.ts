import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseQstatText } from './parse.js';
import { pbsMemoryBytes, pbsUsage } from './usage.js';

const FIXTURES = join(import.meta.dirname, '../test/fixtures');
/** The qstat text of a captured fixture (after its `--- stdout` header). */
const capture = (name: string) => {
  const text = readFileSync(join(FIXTURES, name), 'utf8');
  return text.slice(text.indexOf('Job Id:'));
};

// Real OpenPBS 23.06.06 `qstat -x -f` of a finished job (shared/vendor/openpbs/samples.md, job 9).
const REAL_FINISHED = `Job Id: 9.pbshost
    Job_Name = fill
    resources_used.cpupercent = 0
    resources_used.cput = 00:00:00
    resources_used.mem = 7412kb
    resources_used.ncpus = 2
    resources_used.vmem = 10380kb
    resources_used.walltime = 00:00:25
    job_state = F
    exec_host = pbshost/0*2
    mtime = Fri Nov 27 13:50:48 2026
    Resource_List.mem = 100mb
    Resource_List.ncpus = 2
    stime = Fri Nov 27 13:50:22 2026
    obittime = Fri Nov 27 13:50:48 2026
    Exit_status = 0
`;

describe('pbsMemoryBytes', () => {
  it.each([
    ['7412kb', 7412 * 1024],
    ['100mb', 100 * 1024 ** 2],
    ['2gb', 2 * 1024 ** 3],
    ['1024b', 1024],
    ['1024', 1024],
  ])('%s → %d', (text, bytes) => expect(pbsMemoryBytes(text)).toBe(bytes));
  it('is null for empty or unknown units', () => {
    expect(pbsMemoryBytes('')).toBeNull();
    expect(pbsMemoryBytes('12w')).toBeNull();
  });
});

describe('pbsUsage', () => {
  it('reads resources_used, exec_host, stime and obittime of a finished job (real OpenPBS output)', () => {
    const [rec] = parseQstatText(REAL_FINISHED);
    expect(pbsUsage(rec!)).toEqual({
      kind: 'ok',
      node: 'pbshost',
      startedAt: '2026-11-27T13:50:22.000Z',
      finishedAt: '2026-11-27T13:50:48.000Z',
      elapsedSec: 25,
      allocCpus: 2,
      cpuTimeSec: 0,
      maxRssBytes: 7412 * 1024,
      reqMemBytes: 100 * 1024 ** 2,
      note: null,
    });
  });

  it('a job too short to be sampled (mem 0kb) has no peak RSS and no CPU time, with a note, never 0', () => {
    const [rec] = parseQstatText(capture('openpbs-23.06.06/on-qstat-x-exit3-text.txt'));
    const u = pbsUsage(rec!);
    expect(u).toMatchObject({
      kind: 'ok',
      maxRssBytes: null,
      cpuTimeSec: null,
      allocCpus: 1,
      reqMemBytes: 100 * 1024 ** 2,
    });
    expect(u.kind === 'ok' && u.note).toMatch(/not sampled/);
  });

  it('is pending while the job runs or exits', () => {
    const [rec] = parseQstatText(REAL_FINISHED.replace('job_state = F', 'job_state = R'));
    expect(pbsUsage(rec!)).toMatchObject({ kind: 'pending' });
    const [exiting] = parseQstatText(REAL_FINISHED.replace('job_state = F', 'job_state = E'));
    expect(pbsUsage(exiting!)).toMatchObject({ kind: 'pending' });
  });

  it('Torque: completed (C) job with start_time/comp_time epochs and Resource_List.ncpus', () => {
    const torque = `Job Id: 600.pbs
    job_state = C
    resources_used.cput = 00:05:00
    resources_used.walltime = 00:10:00
    resources_used.mem = 512mb
    Resource_List.ncpus = 4
    exec_host = n1/0-3
    start_time = 1795787422
    comp_time = 1795788022
`;
    const [rec] = parseQstatText(torque);
    expect(pbsUsage(rec!)).toMatchObject({
      kind: 'ok',
      node: 'n1',
      allocCpus: 4,
      cpuTimeSec: 300,
      elapsedSec: 600,
      maxRssBytes: 512 * 1024 ** 2,
      startedAt: '2026-11-27T13:50:22.000Z',
    });
  });
});
