import { describe, expect, it } from 'vitest';
import {
  mapSlurmState,
  normalizeSlurmState,
  parseDfPk,
  parseExternalJobs,
  parsePendingReasons,
  parseSacct,
  parseSbatchOutput,
  parseSinfoNodeCpus,
  parseSinfoPartitions,
  parseSqueueStatus,
  parseTagRows,
  sacctVerdict,
} from './parse.js';
import { explainPendingReason } from './pending.js';

/** Field list of the HEAD accounting query in scheduler-output-samples.md (§4–7). */
const HEAD_FIELDS = [
  'JobIDRaw',
  'TotalCPU',
  'Elapsed',
  'AllocCPUS',
  'MaxRSS',
  'Start',
  'End',
  'State',
  'ExitCode',
];

function verdictOf(
  stdout: string,
  id: string,
  fields: readonly string[] = HEAD_FIELDS,
  memoryExceeded = false,
) {
  const rows = parseSacct(stdout, fields).get(id);
  expect(rows, `rows for ${id}`).toBeDefined();
  return sacctVerdict(id, rows!, { memoryExceeded });
}

describe('parseSbatchOutput', () => {
  it('reads --parsable ids with and without cluster', () => {
    expect(parseSbatchOutput('12345\n')).toEqual({ jobId: '12345', cluster: null });
    expect(parseSbatchOutput('777;localcluster\n')).toEqual({ jobId: '777', cluster: 'localcluster' });
  });
  it('reads the classic form (sample §1), tolerating a trailing warning line', () => {
    expect(parseSbatchOutput('Submitted batch job 12345')).toEqual({ jobId: '12345', cluster: null });
    expect(
      parseSbatchOutput('Submitted batch job 99999\nsbatch: warning: some-cluster: hint about something\n'),
    ).toEqual({
      jobId: '99999',
      cluster: null,
    });
  });
  it('rejects error output and junk', () => {
    expect(parseSbatchOutput('sbatch: error: invalid partition')).toBeNull();
    expect(parseSbatchOutput('')).toBeNull();
    expect(parseSbatchOutput('12a45')).toBeNull();
  });
});

describe('squeue status rows', () => {
  it('parses states, reasons, nodes and start times', () => {
    const rows = parseSqueueStatus(
      [
        '11|PENDING|Resources||N/A',
        '12|PENDING|DependencyNeverSatisfied||N/A',
        '13|RUNNING|None|vm|2026-02-11T10:00:00',
        '14|COMPLETED|None|vm|2026-02-11T10:00:01',
        '15|CANCELLED|None||2026-02-11T10:00:02',
        '16|TIMEOUT|TimeLimit|vm|2026-02-11T10:00:03',
        '5_[0-9]|PENDING|Resources||N/A',
        'slurm_load_jobs error: Invalid job id specified',
      ].join('\n'),
    );
    expect(rows.map((r) => [r.jobId, r.state, r.reason])).toEqual([
      ['11', 'pending', 'Resources'],
      ['12', 'pending', 'DependencyNeverSatisfied'],
      ['13', 'running', null],
      ['14', 'completed', null],
      ['15', 'cancelled', null],
      ['16', 'timeout', 'TimeLimit'],
    ]);
    expect(rows[2]).toMatchObject({ node: 'vm', start: '2026-02-11T10:00:00Z' });
    expect(rows[0]).toMatchObject({ node: null, start: null });
  });
  it('maps long, short and truncated state words', () => {
    expect(mapSlurmState('CANCELLED by 1001')).toBe('cancelled');
    expect(mapSlurmState('OUT_OF_ME+')).toBe('out_of_memory');
    expect(normalizeSlurmState('OOM')).toBe('OUT_OF_MEMORY');
    expect(mapSlurmState('PD')).toBe('pending');
    expect(mapSlurmState('CG')).toBe('completing');
    expect(mapSlurmState('NODE_FAIL')).toBe('node_fail');
    expect(mapSlurmState('BOOT_FAIL')).toBe('node_fail');
    expect(mapSlurmState('PREEMPTED')).toBe('failed');
    expect(mapSlurmState('whatever')).toBe('unknown');
  });
  it('parses the 12-field listing of sample §2 as external jobs', () => {
    const letters = ['i', 'j', 'u', 'T', 'P', 'M', 'N', 'C', 'm', 'V', 'S', 'R'];
    const jobs = parseExternalJobs(
      '12345|job|alice|PENDING|cpu|0:00|-|4|4G|N/A|N/A|(Resources)\n12345|job|alice|RUNNING|cpu|1:00|nid001|4|4G|N/A|N/A|nid001\n',
      letters,
    );
    expect(jobs).toHaveLength(2);
    expect(jobs[0]).toMatchObject({
      jobId: '12345',
      name: 'job',
      user: 'alice',
      state: 'pending',
      partition: 'cpu',
      cpus: 4,
      memory: '4G',
      nodes: null,
      reason: 'Resources',
      submittedAt: null,
    });
    expect(jobs[1]).toMatchObject({ state: 'running', nodes: 'nid001', reason: null, timeUsed: '1:00' });
  });
  it('parses the backend external-jobs format', () => {
    const jobs = parseExternalJobs('2|okjob|hut|RUNNING|normal|0:02|vm|1|100M|2026-02-11T10:00:00|None\n');
    expect(jobs).toEqual([
      {
        jobId: '2',
        name: 'okjob',
        user: 'hut',
        state: 'running',
        partition: 'normal',
        cpus: 1,
        memory: '100M',
        timeUsed: '0:02',
        nodes: 'vm',
        submittedAt: '2026-02-11T10:00:00Z',
        reason: null,
      },
    ]);
  });
});

describe('sacct verdicts (samples §4–7)', () => {
  it('§4 OOM on main and .batch', () => {
    const out =
      '100|00:00:05|00:01:00|1||2026-02-11T10:00:00|2026-02-11T10:01:00|OUT_OF_MEMORY|0:0\n100.batch|00:00:05|00:01:00|1|512000K|2026-02-11T10:00:00|2026-02-11T10:01:00|OUT_OF_MEMORY|0:0\n';
    expect(verdictOf(out, '100')).toMatchObject({
      state: 'out_of_memory',
      final: true,
      startedAt: '2026-02-11T10:00:00Z',
      finishedAt: '2026-02-11T10:01:00Z',
      exitCode: null,
    });
  });
  it('§5 a .batch OOM overrides a main COMPLETED, whatever the line order', () => {
    const lines = [
      '700|00:00:00|00:00:05|1||2026-02-11T10:00:00|2026-02-11T10:00:05|COMPLETED|0:0',
      '700.batch|00:00:00|00:00:05|1|512K|2026-02-11T10:00:00|2026-02-11T10:00:05|OUT_OF_MEMORY|0:0',
      '700.extern|00:00:00|00:00:05|1||2026-02-11T10:00:00|2026-02-11T10:00:05|COMPLETED|0:0',
    ];
    expect(verdictOf(lines.join('\n'), '700')?.state).toBe('out_of_memory');
    expect(verdictOf([lines[1], lines[2], lines[0]].join('\n'), '700')?.state).toBe('out_of_memory');
  });
  it('§6 CANCELLED by <uid> → cancelled', () => {
    const out =
      '400|00:00:01|00:00:30|1||2026-02-11T07:00:00|2026-02-11T07:00:30|CANCELLED by 12345|0:0\n400.batch|00:00:01|00:00:30|1|100M|2026-02-11T07:00:00|2026-02-11T07:00:30|CANCELLED by 12345|0:0\n';
    const v = verdictOf(out, '400');
    expect(v).toMatchObject({ state: 'cancelled', rawState: 'CANCELLED by 12345', final: true });
  });
  it('§6 COMPLETED with a non-zero .batch ExitCode → failed, exit 1 (either order)', () => {
    const main = '900|00:01:00|00:01:00|1||2026-02-11T10:00:00|2026-02-11T10:01:00|COMPLETED|0:0';
    const batch = '900.batch|00:01:00|00:01:00|1|256M|2026-02-11T10:00:00|2026-02-11T10:01:00|COMPLETED|1:0';
    expect(verdictOf(`${main}\n${batch}`, '900')).toMatchObject({ state: 'failed', exitCode: 1 });
    expect(verdictOf(`${batch}\n${main}`, '900')).toMatchObject({ state: 'failed', exitCode: 1 });
  });
  it('COMPLETED with ExitCode 1:0 on the main row → failed', () => {
    const v = sacctVerdict('5', [{ JobIDRaw: '5', State: 'COMPLETED', ExitCode: '1:0' }]);
    expect(v).toMatchObject({ state: 'failed', exitCode: 1 });
  });
  it('§7 several jobs in one response', () => {
    const out = [
      '500|00:05:00|00:10:00|1||2026-02-11T06:00:00|2026-02-11T06:10:00|COMPLETED|0:0',
      '500.batch|00:05:00|00:10:00|1|256M|2026-02-11T06:00:00|2026-02-11T06:10:00|COMPLETED|0:0',
      '501|00:00:02|00:00:30|1||2026-02-11T06:00:00|2026-02-11T06:00:30|OUT_OF_MEMORY|0:0',
      '501.batch|00:00:02|00:00:30|1|4G|2026-02-11T06:00:00|2026-02-11T06:00:30|OUT_OF_MEMORY|0:0',
    ].join('\n');
    const byJob = parseSacct(out, HEAD_FIELDS);
    expect([...byJob.keys()]).toEqual(['500', '501']);
    expect(sacctVerdict('500', byJob.get('500')!)).toMatchObject({
      state: 'completed',
      exitCode: 0,
      final: true,
    });
    expect(sacctVerdict('501', byJob.get('501')!)).toMatchObject({ state: 'out_of_memory' });
    const six = verdictOf(
      '600|00:05:00|00:10:00|2||2026-02-11T05:00:00|2026-02-11T05:10:00|COMPLETED|0:0\n600.batch|00:05:00|00:10:00|2|1024M|2026-02-11T05:00:00|2026-02-11T05:10:00|COMPLETED|0:0',
      '600',
    );
    expect(six).toMatchObject({ state: 'completed', exitCode: 0, finishedAt: '2026-02-11T05:10:00Z' });
  });
  it('§3 id pre-check rows group by base id', () => {
    expect([...parseSacct('500\n501\n501.batch\n501.extern\n', ['JobIDRaw']).keys()]).toEqual(['500', '501']);
  });
});

describe('sacct verdicts on local-cluster output (slurm-localhost.md)', () => {
  const F = ['JobID', 'State', 'ExitCode', 'Elapsed', 'MaxRSS'];
  it('success', () => {
    expect(
      verdictOf('1|COMPLETED|0:0|00:00:03|\n1.batch|COMPLETED|0:0|00:00:03|4252K\n', '1', F),
    ).toMatchObject({
      state: 'completed',
      exitCode: 0,
    });
  });
  it('exit 3 → failed 3', () => {
    expect(verdictOf('3|FAILED|3:0|00:00:01|\n3.batch|FAILED|3:0|00:00:01|1K\n', '3', F)).toMatchObject({
      state: 'failed',
      exitCode: 3,
    });
  });
  it('scancel while running / pending → cancelled', () => {
    expect(
      verdictOf('6|CANCELLED by 1001|0:0|00:00:05|\n6.batch|CANCELLED|0:15|00:00:05|1K\n', '6', F)?.state,
    ).toBe('cancelled');
    expect(verdictOf('7|CANCELLED|0:0|00:00:00|\n', '7', F)?.state).toBe('cancelled');
  });
  it('TIMEOUT with .batch CANCELLED 0:15 or FAILED 15:0 → timeout', () => {
    expect(verdictOf('17|TIMEOUT|0:0|00:01:19|\n17.batch|CANCELLED|0:15|00:01:19|1K\n', '17', F)?.state).toBe(
      'timeout',
    );
    expect(verdictOf('18|TIMEOUT|15:0|00:01:20|\n18.batch|FAILED|15:0|00:01:20|1K\n', '18', F)?.state).toBe(
      'timeout',
    );
  });
  it('over --mem without cgroups: FAILED 0:9 is OOM only with the "exceeded memory limit" evidence', () => {
    const out = '16|FAILED|0:9|00:00:03|\n16.batch|CANCELLED by 0|0:9|00:00:03|247988K\n';
    expect(verdictOf(out, '16', F, true)).toMatchObject({ state: 'out_of_memory' });
    expect(verdictOf(out, '16', F, false)).toMatchObject({ state: 'failed', exitCode: 137 });
  });
  it('missing output directory → FAILED 0:53', () => {
    expect(verdictOf('20|FAILED|0:53|00:00:00|\n20.batch|CANCELLED|0:53|00:00:00|\n', '20', F)).toMatchObject(
      {
        state: 'failed',
        exitCode: 128 + 53,
      },
    );
  });
  it('non-terminal accounting rows are not final', () => {
    const v = sacctVerdict('30', [{ JobIDRaw: '30', State: 'PENDING', ExitCode: '0:0', Reason: 'Priority' }]);
    expect(v).toMatchObject({ state: 'pending', final: false, reason: 'Priority' });
    expect(
      sacctVerdict('31', [
        { JobIDRaw: '31', State: 'RUNNING', ExitCode: '0:0', Start: '2026-02-11T10:00:00' },
      ]),
    ).toMatchObject({
      state: 'running',
      final: false,
      startedAt: '2026-02-11T10:00:00Z',
      finishedAt: null,
    });
  });
});

describe('newer Slurm versions', () => {
  it('25.11 EXPEDITING (JOB_EXPEDITING, "checking for expedited requeue") is not a final state', () => {
    expect(mapSlurmState('EXPEDITING')).toBe('completing');
    const [row] = parseSqueueStatus('44|EXPEDITING|None|node1|2026-02-11T10:00:00\n');
    expect(row).toMatchObject({ state: 'completing', rawState: 'EXPEDITING' });
    expect(sacctVerdict('44', [{ JobIDRaw: '44', State: 'EXPEDITING', ExitCode: '1:0' }])).toMatchObject({
      state: 'completing',
      final: false,
    });
  });

  it('SPECIAL_EXIT ("same as REQUEUE_HOLD", job_state_codes.html) is a held job, not a failure', () => {
    expect(mapSlurmState('SPECIAL_EXIT')).toBe('pending');
    expect(mapSlurmState('SE')).toBe('pending');
    expect(mapSlurmState('REQUEUE_HOLD')).toBe('pending');
    expect(parseSqueueStatus('45|SPECIAL_EXIT|JobHeldAdmin|(null)|N/A\n')[0]).toMatchObject({
      state: 'pending',
      reason: 'JobHeldAdmin',
    });
  });

  it('25.11 sacct no longer subtracts 128 ("Don\'t subtract 128 from sacct returned exit codes"): 130:0 is 130', () => {
    const F = ['JobIDRaw', 'State', 'ExitCode'];
    expect(verdictOf('46|FAILED|130:0\n46.batch|FAILED|130:0\n', '46', F)).toMatchObject({
      state: 'failed',
      exitCode: 130,
    });
    // ≤ 25.05 prints the same job as 2:0 (the backend then prefers the job's exit marker).
    expect(verdictOf('47|FAILED|2:0\n47.batch|FAILED|2:0\n', '47', F)).toMatchObject({ exitCode: 2 });
  });

  it('sbatch --parsable with --clusters prints id;cluster (all versions)', () => {
    expect(parseSbatchOutput('4242;cluster-b\n')).toEqual({ jobId: '4242', cluster: 'cluster-b' });
  });
});

describe('sinfo, pending reasons, df', () => {
  it('§8 summarize format with default marker, skipping malformed rows', () => {
    const parts = parseSinfoPartitions(
      'compute*|up|450/562/12/1024|32|196608|3-00:00:00|haswell\ngpu|up|28/4/0/32|2|1031168|1-00:00:00|a100,nvlink\nbigmem|up|0/256/0/256|4|1572864|7-00:00:00|(null)\nbroken|up|garbage\n',
      ['P', 'a', 'C', 'D', 'm', 'l', 'f'],
    );
    expect(parts).toEqual([
      {
        name: 'compute',
        isDefault: true,
        cpusIdle: 562,
        cpusTotal: 1024,
        cpusAllocated: 450,
        nodes: 32,
        timeLimit: '3-00:00:00',
        state: 'up',
      },
      {
        name: 'gpu',
        isDefault: false,
        cpusIdle: 4,
        cpusTotal: 32,
        cpusAllocated: 28,
        nodes: 2,
        timeLimit: '1-00:00:00',
        state: 'up',
      },
      {
        name: 'bigmem',
        isDefault: false,
        cpusIdle: 256,
        cpusTotal: 256,
        cpusAllocated: 0,
        nodes: 4,
        timeLimit: '7-00:00:00',
        state: 'up',
      },
    ]);
    expect(
      parseSinfoPartitions('compute*|up|0/0/0/0|0|N/A|infinite|\n', ['P', 'a', 'C', 'D', 'm', 'l', 'f'])[0],
    ).toMatchObject({
      name: 'compute',
      cpusTotal: 0,
      timeLimit: 'infinite',
    });
  });
  it('local format: one row per node state is summed per partition', () => {
    const parts = parseSinfoPartitions(
      'normal*|up|1|idle|0/2/0/2|1-00:00:00\nlong|up|1|mix|1/1/0/2|7-00:00:00\nlong|up|2|alloc|4/0/0/4|7-00:00:00\n',
    );
    expect(parts).toEqual([
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
        cpusIdle: 1,
        cpusTotal: 6,
        cpusAllocated: 5,
        nodes: 3,
        timeLimit: '7-00:00:00',
        state: 'mix,alloc',
      },
    ]);
  });
  it('counts nodes shared by partitions once', () => {
    expect(parseSinfoNodeCpus('vm|0/2/0/2\nvm|0/2/0/2\nn2|3/1/0/4\n')).toEqual({ cpusIdle: 3, cpusTotal: 6 });
    expect(parseSinfoNodeCpus('')).toBeNull();
  });
  it('§10 pending-reason tally', () => {
    expect(
      parsePendingReasons('(Resources)\n(Resources)\n(Priority)\n(AssocMaxJobsLimit)\n(Resources)\n'),
    ).toEqual({
      Resources: 3,
      Priority: 1,
      AssocMaxJobsLimit: 1,
    });
    expect(parsePendingReasons('Resources\nDependency\n')).toEqual({ Resources: 1, Dependency: 1 });
  });
  it('df -Pk', () => {
    const out =
      'Filesystem     1024-blocks     Used Available Capacity Mounted on\n/dev/sda1        102400    50000     52400      49% /home\n';
    expect(parseDfPk(out, '~/x')).toEqual({
      path: '~/x',
      totalBytes: 102400 * 1024,
      availableBytes: 52400 * 1024,
    });
    expect(parseDfPk('', '~/x')).toBeNull();
  });
  it('tag rows: only asked tags (bare or followed by -name), highest id wins', () => {
    const tags = new Set(['sh0a1b2c3d11', 'sh0a1b2c3d21']);
    const m = parseTagRows(
      '10|sh0a1b2c3d11-a\n12|sh0a1b2c3d11-b\n11|other\n15|sh0a1b2c3d111-longer_tag\n',
      tags,
    );
    parseTagRows('9|sh0a1b2c3d21\nfoo\n', tags, m);
    expect(Object.fromEntries(m)).toEqual({ sh0a1b2c3d11: '12', sh0a1b2c3d21: '9' });
  });
});

describe('explainPendingReason', () => {
  it('explains the common reasons in plain words', () => {
    expect(explainPendingReason('Resources')).toMatch(/free resources/);
    expect(explainPendingReason('(Priority)')).toMatch(/higher priority/);
    expect(explainPendingReason('Dependency')).toMatch(/depends on/);
    expect(explainPendingReason('DependencyNeverSatisfied')).toMatch(/never start/);
    expect(explainPendingReason('PartitionTimeLimit')).toMatch(/time limit/);
    expect(explainPendingReason('QOSMaxJobsPerUserLimit')).toMatch(/QOS limit.*running jobs/);
    expect(explainPendingReason('AssocGrpCpuLimit')).toMatch(/account.*CPUs/);
    expect(explainPendingReason('SomethingNew')).toBe('Waiting: SomethingNew.');
    expect(explainPendingReason(null)).toMatch(/scheduled/);
  });
});
