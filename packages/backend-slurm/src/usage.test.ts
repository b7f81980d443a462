import { describe, expect, it } from 'vitest';
import { parseSacct } from './parse.js';
import { SACCT_USAGE_FIELDS, sacctUsage, slurmMemoryBytes } from './usage.js';

// Real `sacct -n -P --format=JobIDRaw,State,Start,End,ElapsedRaw,NodeList,NNodes,AllocCPUS,TotalCPU,MaxRSS,ReqMem`
// output of Slurm 22.05 (the local test cluster) for a python job holding 200 MB for 3 s after 1 CPU-second.
const REAL = `3741|COMPLETED|2026-11-27T19:07:08|2026-11-27T19:07:14|6|vm|1|1|00:01.180||500M
3741.batch|COMPLETED|2026-11-27T19:07:08|2026-11-27T19:07:14|6|vm|1|1|00:01.180|214572K|`;

describe('slurmMemoryBytes', () => {
  it.each([
    ['1234K', 1234 * 1024],
    ['12M', 12 * 1024 ** 2],
    ['1.5G', 1.5 * 1024 ** 3],
    ['0', 0],
    ['2T', 2 * 1024 ** 4],
  ])('%s → %d bytes', (text, bytes) => {
    expect(slurmMemoryBytes(text, 1, 1, 'K')).toBe(bytes);
  });

  it('multiplies per-node and per-CPU ReqMem (Slurm < 21.08) and reads a bare number as MiB', () => {
    expect(slurmMemoryBytes('4Gn', 2, 8)).toBe(8 * 1024 ** 3);
    expect(slurmMemoryBytes('1000Mc', 1, 4)).toBe(4000 * 1024 ** 2);
    expect(slurmMemoryBytes('500', 1, 1)).toBe(500 * 1024 ** 2);
  });

  it('is null for empty or unknown text', () => {
    expect(slurmMemoryBytes('', 1, 1)).toBeNull();
    expect(slurmMemoryBytes('16X', 1, 1)).toBeNull();
    expect(slurmMemoryBytes(undefined)).toBeNull();
  });
});

describe('sacctUsage', () => {
  it('reads the real 22.05 rows: times and CPUs from the job, MaxRSS from the .batch step', () => {
    const rows = parseSacct(REAL, SACCT_USAGE_FIELDS).get('3741')!;
    expect(sacctUsage('3741', rows)).toEqual({
      kind: 'ok',
      node: 'vm',
      startedAt: '2026-11-27T19:07:08Z',
      finishedAt: '2026-11-27T19:07:14Z',
      elapsedSec: 6,
      allocCpus: 1,
      cpuTimeSec: 1.18,
      maxRssBytes: 214572 * 1024,
      reqMemBytes: 500 * 1024 ** 2,
      note: null,
    });
  });

  it('takes the largest MaxRSS across steps and the job row TotalCPU (sum over steps)', () => {
    const text = `9|COMPLETED|2026-01-01T00:00:00|2026-01-01T01:00:00|3600|n[1-2]|2|16|2-01:00:00||4Gn
9.batch|COMPLETED|2026-01-01T00:00:00|2026-01-01T01:00:00|3600|n1|1|8|01:00:00|1.5G|
9.0|COMPLETED|2026-01-01T00:00:01|2026-01-01T00:59:00|3539|n[1-2]|2|16|1-00:00:00|3500M|
9.extern|COMPLETED|2026-01-01T00:00:00|2026-01-01T01:00:00|3600|n[1-2]|2|16|00:00.001|1024K|`;
    const u = sacctUsage('9', parseSacct(text, SACCT_USAGE_FIELDS).get('9')!);
    expect(u).toMatchObject({
      kind: 'ok',
      node: 'n[1-2]',
      allocCpus: 16,
      cpuTimeSec: 2 * 86400 + 3600,
      maxRssBytes: 3500 * 1024 ** 2,
      reqMemBytes: 8 * 1024 ** 3,
    });
  });

  it('is pending while accounting still shows the job running or completing, or has no row', () => {
    const running = parseSacct(
      '5|RUNNING|2026-01-01T00:00:00|Unknown|10|vm|1|1|00:00:00||1G',
      SACCT_USAGE_FIELDS,
    );
    expect(sacctUsage('5', running.get('5')!)).toMatchObject({ kind: 'pending' });
    const completing = parseSacct(
      '5|COMPLETING|2026-01-01T00:00:00|Unknown|10|vm|1|1|00:00:00||1G',
      SACCT_USAGE_FIELDS,
    );
    expect(sacctUsage('5', completing.get('5')!)).toMatchObject({ kind: 'pending' });
    expect(sacctUsage('5', [])).toMatchObject({ kind: 'pending', reason: 'sacct has no record of job 5' });
  });

  it('a job cancelled before it started is unavailable; a missing MaxRSS stays null with a note', () => {
    const never = parseSacct(
      '6|CANCELLED by 1001|None|2026-01-01T00:00:05|0|None assigned|1|0|00:00:00||1G',
      SACCT_USAGE_FIELDS,
    );
    expect(sacctUsage('6', never.get('6')!)).toMatchObject({ kind: 'unavailable', reason: /never started/ });
    const noRss = parseSacct(
      '7|COMPLETED|2026-01-01T00:00:00|2026-01-01T00:00:05|5|vm|1|1|00:01.000||1G',
      SACCT_USAGE_FIELDS,
    );
    const u = sacctUsage('7', noRss.get('7')!);
    expect(u).toMatchObject({ kind: 'ok', maxRssBytes: null, cpuTimeSec: 1 });
    expect(u.kind === 'ok' && u.note).toMatch(/MaxRSS not recorded/);
  });
});
