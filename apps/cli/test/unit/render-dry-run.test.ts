// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these tests write the ${NAME} syntax of env rules and control paths
import type { TaskSpec } from '@scripthut/core';
import type { DryRunResult } from '@scripthut/runtime';
import { describe, expect, it } from 'vitest';
import { makeStyles } from '../../src/output.js';
import { renderDryRun } from '../../src/render.js';

const spec = (id: string, partition: string | null): TaskSpec => ({
  id,
  name: id,
  command: 'true',
  workingDir: '~',
  partition,
  cpus: 1,
  memory: '1G',
  memoryMiB: 1024,
  timeLimit: '1:00',
  timeLimitSeconds: 60,
  gres: null,
  image: null,
  deps: [],
  depPatterns: [],
  outputFile: null,
  errorFile: null,
  environment: 'scripthut:0123456789ab',
  envVars: {},
  generatesSource: null,
});

describe('renderDryRun', () => {
  it('shows the partition after partition_map and each resolved environment once', () => {
    const environment = {
      partition: 'long',
      requestedPartition: 'cpu',
      environment: 'scripthut:0123456789ab',
      variables: [
        { name: 'SITE', value: 'hpc', origin: 'backend hpc' },
        { name: 'OUT', value: '/scratch/${USER}', origin: 'task' },
      ],
      init: 'module load python/3.12',
      envRules: true,
    };
    const d: DryRunResult = {
      workflowName: 'sweep',
      backendName: 'hpc',
      git: null,
      logDir: '~/logs',
      tasks: ['a', 'b'].map((id) => ({
        task: spec(id, 'long'),
        workingDir: '~',
        script: '',
        stdoutPath: 'o',
        stderrPath: 'e',
        environment,
      })),
      warnings: [],
      estimate: {
        available: false,
        reason: 'pricing is not configured',
        upperBound: null,
        costedTasks: 0,
        uncostedTasks: 2,
        currency: 'USD',
      } as DryRunResult['estimate'],
    };
    const out = renderDryRun(d, makeStyles(false));
    const rows = out.split('\n').map((l) => l.replace(/ {2,}/g, '  ').trimEnd());
    expect(rows).toContain('TASK  NAME  CPUS  MEMORY  TIME  PARTITION  ENV  DEPS  WORKING DIR');
    expect(rows).toContain('a  a  1  1G  1:00  long (cpu)  scripthut:0123456789ab  -  ~');
    expect(out).toContain(
      [
        'Environments:',
        '  scripthut:0123456789ab (env rules): a, b',
        '    SITE=hpc  # backend hpc',
        '    OUT=/scratch/${USER}  # task',
        '    init: module load python/3.12',
      ].join('\n'),
    );
  });

  it('with --resume: says which tasks would be reused and why the others would not', () => {
    const d: DryRunResult = {
      workflowName: 'sweep',
      backendName: 'hpc',
      git: null,
      logDir: '~/logs',
      tasks: [
        { id: 'a', cache: { key: 'k1', reuseFrom: { runId: '1a2b3c4d', taskId: 'a' }, reason: null } },
        { id: 'b', cache: { key: 'k2', reuseFrom: null, reason: 'key changed since run 1a2b3c4d: command' } },
      ].map(({ id, cache }) => ({
        task: spec(id, null),
        workingDir: '~',
        script: '',
        stdoutPath: 'o',
        stderrPath: 'e',
        cache,
      })),
      warnings: [],
      estimate: {
        available: false,
        reason: 'x',
        upperBound: null,
        costedTasks: 0,
        uncostedTasks: 2,
        currency: 'USD',
      } as DryRunResult['estimate'],
    };
    const rows = renderDryRun(d, makeStyles(false))
      .split('\n')
      .map((l) => l.replace(/ {2,}/g, '  ').trimEnd());
    expect(rows).toContain('With --resume: 1 of 2 task(s) reused');
    expect(rows).toContain('a  cached (run 1a2b3c4d task a)  -');
    expect(rows).toContain('b  runs  key changed since run 1a2b3c4d: command');
  });

  it('lists the job arrays a run would submit and the tasks that go alone', () => {
    const d: DryRunResult = {
      workflowName: 'sweep',
      backendName: 'hpc',
      git: null,
      logDir: '~/logs',
      tasks: ['p0', 'p1', 'p2', 'q0', 'q1', 'merge'].map((id, i) => ({
        task: spec(id, null),
        workingDir: '~',
        script: '',
        stdoutPath: 'o',
        stderrPath: 'e',
        ...(i < 3 ? { array: { group: 1, index: i, size: 3 } } : {}),
        ...(i === 3 || i === 4 ? { array: { group: 2, index: i - 3, size: 2 } } : {}),
      })),
      warnings: [],
      estimate: {
        available: false,
        reason: 'pricing is not configured',
        upperBound: null,
        costedTasks: 0,
        uncostedTasks: 6,
        currency: 'USD',
      },
    };
    const out = renderDryRun(d, makeStyles(false));
    expect(out).toContain(
      [
        'Job arrays:',
        '  array 1: 3 tasks (p0 … p2)',
        '  array 2: 2 tasks (q0 … q1)',
        '  1 task(s) submitted one job each',
      ].join('\n'),
    );
    expect(
      renderDryRun({ ...d, tasks: d.tasks.map(({ array: _a, ...t }) => t) }, makeStyles(false)),
    ).not.toContain('Job arrays:');
  });

  it('says so when the run’s job arrays are off, and who turned them off', () => {
    const d: DryRunResult = {
      workflowName: 'sweep',
      backendName: 'hpc',
      git: null,
      logDir: '~/logs',
      tasks: ['p0', 'p1'].map((id) => ({
        task: spec(id, null),
        workingDir: '~',
        script: '',
        stdoutPath: 'o',
        stderrPath: 'e',
      })),
      warnings: [],
      estimate: {
        available: false,
        reason: 'pricing is not configured',
        upperBound: null,
        costedTasks: 0,
        uncostedTasks: 2,
        currency: 'USD',
      },
      arrays: { mode: 'off', setBy: 'workflow' },
    };
    expect(renderDryRun(d, makeStyles(false))).toContain(
      'Job arrays: off (the workflow sets array: off): one job per task',
    );
    expect(renderDryRun({ ...d, arrays: { mode: 'off', setBy: 'backend' } }, makeStyles(false))).toContain(
      'Job arrays: off (backend hpc has array: off): one job per task',
    );
    expect(
      renderDryRun({ ...d, arrays: { mode: 'auto', setBy: 'workflow' } }, makeStyles(false)),
    ).not.toContain('Job arrays:');
  });
});
