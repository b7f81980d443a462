import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  detectFlavour,
  displayJobNumber,
  finishedVerdict,
  parsePbsnodes,
  parseQstatA,
  parseQstatJobs,
  parseQstatJson,
  parseQstatQueues,
  parseQstatText,
  parseQstatXml,
  parseQsubOutput,
  pbsJobStatus,
  pendingCounts,
  toPbsMemory,
} from './index.js';

/** Verbatim copies of scheduler-output-samples.md sections 12–16. */
const fixture = (name: string) => readFileSync(join(import.meta.dirname, '../test/fixtures', name), 'utf8');

describe('sample 12: qstat -a', () => {
  it('parses rows after the dashed separator', () => {
    const jobs = parseQstatA(fixture('qstat-a.txt'));
    expect(jobs).toHaveLength(2);
    expect(jobs[0]).toMatchObject({
      jobId: '100.pbs',
      user: 'user1',
      partition: 'batch',
      name: 'task-a',
      cpus: 4,
      memory: '4gb',
      state: 'running',
      timeUsed: '00:30',
    });
    expect(displayJobNumber(jobs[0]!.jobId)).toBe('100');
    expect(jobs[1]).toMatchObject({
      jobId: '101.pbs',
      partition: 'normal',
      name: 'task-b',
      state: 'pending',
      timeUsed: null,
    });
  });
});

describe('sample 13: qsub', () => {
  it('keeps the full id and shows the number', () => {
    expect(parseQsubOutput('12345.pbs-server\n')).toBe('12345.pbs-server');
    expect(displayJobNumber('12345.pbs-server')).toBe('12345');
    expect(parseQsubOutput('99999\n')).toBe('99999');
    expect(parseQsubOutput('qsub: error\n')).toBeNull();
    expect(parseQsubOutput('')).toBeNull();
  });
});

describe('sample 14: qstat -xf text', () => {
  it('a completed job', () => {
    const [rec] = parseQstatText(fixture('qstat-xf-500.txt'));
    expect(rec!.id).toBe('500.pbs-server');
    expect(rec!.attrs).toMatchObject({
      Job_Name: 'test-task',
      job_state: 'F',
      exit_status: '0',
      'resources_used.walltime': '00:10:00',
      'Resource_List.ncpus': '2',
      'Resource_List.walltime': '01:00:00',
    });
    expect(pbsJobStatus(rec!, undefined, 'pro')).toMatchObject({
      jobId: '500.pbs-server',
      state: 'completed',
      exitCode: 0,
      final: true,
    });
  });

  it('walltime exceeded when used ≥ limit, cancelled with the same exit status when used < limit', () => {
    const [rec] = parseQstatText(fixture('qstat-xf-502-walltime.txt'));
    expect(pbsJobStatus(rec!, undefined, 'pro')).toMatchObject({
      state: 'timeout',
      exitCode: 271,
      final: true,
    });
    rec!.attrs['resources_used.walltime'] = '00:30:00';
    expect(pbsJobStatus(rec!, undefined, 'pro')).toMatchObject({ state: 'cancelled', exitCode: 271 });
  });

  it('walltime exceeded by the start-to-end time when resources_used lags (the MoM samples it)', () => {
    const rec = {
      id: '7.pbs',
      attrs: {
        job_state: 'F',
        Exit_status: '143',
        'resources_used.walltime': '00:00:06',
        'Resource_List.walltime': '00:00:10',
        stime: 'Tue May 12 15:27:15 2020',
        obittime: 'Tue May 12 15:27:26 2020',
      },
    };
    expect(pbsJobStatus(rec, undefined, 'pro')).toMatchObject({
      state: 'timeout',
      exitCode: 143,
      final: true,
    });
    rec.attrs.obittime = 'Tue May 12 15:27:21 2020';
    expect(pbsJobStatus(rec, undefined, 'pro')).toMatchObject({ state: 'cancelled', exitCode: 143 });
  });

  it('two jobs in one response', () => {
    const recs = parseQstatText(fixture('qstat-xf-600-601.txt'));
    expect(recs.map((r) => r.id)).toEqual(['600.pbs', '601.pbs']);
    expect(recs.map((r) => pbsJobStatus(r, undefined, 'pro').state)).toEqual(['completed', 'failed']);
    expect(pbsJobStatus(recs[1]!, undefined, 'pro').exitCode).toBe(1);
    expect(recs[1]!.attrs['resources_used.mem']).toBe('128mb');
  });

  it('verdict rules', () => {
    const v = (exit: number | null, used: number | null, limit: number | null) =>
      finishedVerdict({ exit, usedSeconds: used, limitSeconds: limit, flavour: 'pro' });
    expect(v(0, 3600, 3600).state).toBe('completed');
    expect(v(-29, 3600, 3600).state).toBe('timeout');
    expect(v(2, 10, 3600).state).toBe('failed');
    expect(v(271, 3600, 3600).state).toBe('timeout');
    expect(v(271, 10, 3600).state).toBe('cancelled');
    expect(v(265, 10, 3600)).toEqual({ state: 'failed', reason: 'killed by signal 9' });
    expect(v(null, null, 3600).state).toBe('cancelled');
  });
});

describe('sample 15: pbsnodes -a', () => {
  it('Torque, simplest', () => {
    const s = parsePbsnodes(fixture('pbsnodes-torque-simple.txt'));
    expect(s.nodes).toHaveLength(3);
    expect(s).toMatchObject({ cpusTotal: 40, cpusIdle: 24, cpusAllocated: 16, cpusOther: 0 });
  });

  it('PBS Pro GPU attributes: down nodes contribute no idle GPUs', () => {
    const s = parsePbsnodes(fixture('pbsnodes-pro-gpus.txt'));
    expect(s.gpusTotal).toBe(12);
    expect(s.gpusIdle).toBe(5);
    expect(s.cpusOther).toBe(16);
  });

  it('Torque dedicated_threads and status physmem', () => {
    const s = parsePbsnodes(fixture('pbsnodes-torque-threads.txt'));
    expect(s).toMatchObject({
      cpusTotal: 168,
      cpusIdle: 28,
      cpusAllocated: 84,
      cpusOther: 56,
      memPerNodeMb: 257864,
    });
  });
});

describe('sample 16: qstat -Qf', () => {
  it('re-joins the tab-continued state_count line', () => {
    const queues = parseQstatQueues(fixture('qstat-Qf.txt'));
    expect(queues.map((q) => q.name)).toEqual(['batch', 'routeq']);
    expect(queues[0]).toMatchObject({ type: 'Execution', maxWalltime: '100:00:00' });
    expect(queues[0]!.stateCounts).toEqual({
      Transit: 0,
      Queued: 48,
      Held: 248,
      Waiting: 0,
      Running: 34,
      Exiting: 0,
      Complete: 0,
    });
    expect(queues[1]).toMatchObject({ type: 'Route', maxWalltime: null });
    expect(pendingCounts(queues)).toEqual({ Queued: 48, Held: 248 });
  });
});

describe('PBS Pro -F json and Torque XML', () => {
  const json = JSON.stringify({
    timestamp: 1589297245,
    pbs_version: '19.1.3',
    pbs_server: 'pbsserver',
    Jobs: {
      '1234.pbsserver': {
        Job_Name: 'shab12cd340',
        resources_used: { cput: '00:00:00', walltime: '00:00:04', ncpus: 1 },
        job_state: 'F',
        exec_host: 'node7/0*2+node8/0',
        Resource_List: { ncpus: 2, select: '1:ncpus=2', walltime: '00:00:03' },
        stime: 'Tue May 12 15:27:15 2020',
        Variable_List: { PBS_O_HOME: '/home/u' },
        Exit_status: -29,
        obittime: 'Tue May 12 15:27:19 2020',
      },
      '1235.pbsserver': {
        Job_Name: 'queued',
        job_state: 'Q',
        comment: 'Not Running: Insufficient amount of resource: ncpus (R: 8 A: 4 T: 4)',
        Resource_List: { walltime: '01:00:00' },
      },
    },
  });

  it('flattens nested resources and reads Exit_status', () => {
    const recs = parseQstatJson(json);
    expect(recs[0]!.attrs['Resource_List.walltime']).toBe('00:00:03');
    expect(recs[0]!.attrs['Variable_List.PBS_O_HOME']).toBeUndefined();
    const st = pbsJobStatus(recs[0]!, undefined, 'pro');
    expect(st).toMatchObject({ state: 'timeout', exitCode: -29, node: 'node7,node8', final: true });
    expect(st.startedAt).toBe('2020-05-12T15:27:15.000Z');
    expect(pbsJobStatus(recs[1]!, undefined, 'pro')).toMatchObject({
      state: 'pending',
      reason: 'Insufficient amount of resource: ncpus (R: 8 A: 4 T: 4)',
      final: false,
    });
    expect(parseQstatJobs(`\n${json}`)).toHaveLength(2);
  });

  it('Torque XML, entities and epoch times', () => {
    const xml =
      '<Data><Job><Job_Id>77.torque.local</Job_Id><Job_Name>a&amp;b</Job_Name><resources_used><walltime>00:00:01</walltime></resources_used><job_state>C</job_state><exec_host>n1/0-1</exec_host><Resource_List><nodes>1:ppn=2</nodes><walltime>00:05:00</walltime></Resource_List><exit_status>3</exit_status><start_time>1589297235</start_time><comp_time>1589297236</comp_time></Job><Job><Job_Id>78.torque.local</Job_Id><Job_Name>r</Job_Name><job_state>R</job_state></Job></Data>\n';
    const recs = parseQstatXml(xml);
    expect(recs.map((r) => r.id)).toEqual(['77.torque.local', '78.torque.local']);
    expect(recs[0]!.attrs).toMatchObject({ Job_Name: 'a&b', 'Resource_List.nodes': '1:ppn=2' });
    expect(pbsJobStatus(recs[0]!, undefined, 'torque')).toMatchObject({
      state: 'failed',
      exitCode: 3,
      node: 'n1',
      startedAt: '2020-05-12T15:27:15.000Z',
      finishedAt: '2020-05-12T15:27:16.000Z',
    });
    expect(pbsJobStatus(recs[1]!, undefined, 'torque')).toMatchObject({ state: 'running', final: false });
    // A marker never overrides a job the scheduler still shows running (a killed job may leave one).
    expect(pbsJobStatus(recs[1]!, 0, 'torque')).toMatchObject({ state: 'running', final: false });
    recs[0]!.attrs.exit_status = '';
    expect(pbsJobStatus(recs[0]!, 5, 'torque')).toMatchObject({ state: 'failed', exitCode: 5, final: true });
    expect(parseQstatJobs(xml)).toHaveLength(2);
  });
});

describe('flavour detection and units', () => {
  it('detects from qstat --version, then from qstat -Bf', () => {
    expect(detectFlavour('pbs_version = 19.1.3\n')).toEqual({ flavour: 'pro', version: '19.1.3' });
    expect(detectFlavour('Version: 6.1.3\nCommit: abc\n')).toEqual({ flavour: 'torque', version: '6.1.3' });
    expect(
      detectFlavour('qstat: invalid option', 'Server: s\n    keep_completed = 300\n    pbs_version = 6.1.3\n')
        ?.flavour,
    ).toBe('torque');
    expect(detectFlavour('', 'Server: s\n    job_history_enable = True\n')?.flavour).toBe('pro');
    expect(detectFlavour('command not found', '')).toBeNull();
  });

  it('converts memory', () => {
    expect(toPbsMemory('4G')).toBe('4gb');
    expect(toPbsMemory('500M')).toBe('500mb');
    expect(toPbsMemory('1024')).toBe('1024mb');
    expect(toPbsMemory('lots')).toBeNull();
  });
});
