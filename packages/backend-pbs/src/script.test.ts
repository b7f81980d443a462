import type { SubmitRequest, TaskSpec } from '@scripthut/core';
import { describe, expect, it } from 'vitest';
import { pbsDirectives, renderPbsScript, ScriptRenderError } from './script.js';

function request(task: Partial<TaskSpec> = {}): SubmitRequest {
  const spec: TaskSpec = {
    id: 'build',
    name: 'Build it',
    command: 'echo hello',
    workingDir: '~',
    partition: null,
    cpus: 2,
    memory: '4G',
    memoryMiB: 4096,
    timeLimit: '1-02:00:00',
    timeLimitSeconds: 93600,
    gres: 'gpu:v100:2',
    image: null,
    deps: [],
    depPatterns: [],
    outputFile: null,
    errorFile: null,
    environment: null,
    envVars: {},
    generatesSource: null,
    ...task,
  };
  return {
    runId: 'r',
    taskId: spec.id,
    tag: 'sh0a1b2c3d01',
    workflowName: 'wf',
    task: spec,
    workingDir: spec.workingDir,
    env: { SCRIPTHUT_TASK_ID: spec.id },
    extraInit: '',
    stdoutPath: '~/logs/build.out',
    stderrPath: '~/logs/build.err',
    logDir: '~/logs',
    git: null,
  };
}
const resolvePath = (p: string) => p.replace(/^~/, '/home/u');

describe('PBS directives', () => {
  it('Torque: nodes/ppn/gpus, mem and walltime on one -l', () => {
    const req = request({ partition: 'normal' });
    expect(pbsDirectives(req, { flavour: 'torque', account: 'lab', resolvePath })).toEqual([
      '#PBS -N sh0a1b2c3d01-Build_it',
      '#PBS -q normal',
      '#PBS -A lab',
      '#PBS -l nodes=1:ppn=2:gpus=2,mem=4gb,walltime=26:00:00',
      '#PBS -o /home/u/logs/build.out',
      '#PBS -e /home/u/logs/build.err',
    ]);
  });

  it('PBS Pro: select chunk and a separate walltime; the backend queue overrides the partition', () => {
    const lines = pbsDirectives(request({ memory: '500M', gres: null }), {
      flavour: 'pro',
      queue: 'workq',
      resolvePath,
    });
    expect(lines).toEqual([
      '#PBS -N sh0a1b2c3d01-Build_it',
      '#PBS -q workq',
      '#PBS -l select=1:ncpus=2:mem=500mb',
      '#PBS -l walltime=26:00:00',
      '#PBS -o /home/u/logs/build.out',
      '#PBS -e /home/u/logs/build.err',
      // Logs written in place while the job runs (PBS Pro only; Torque's -k has no `d`).
      '#PBS -k oed',
    ]);
  });

  it('login shell, exit marker, quoted paths with spaces, rejects unsafe values', () => {
    const script = renderPbsScript(request({ outputFile: '/data/my logs/o.txt' }), {
      flavour: 'pro',
      loginShell: true,
      exitMarkerPath: '~/.m/sh0a1b2c3d01.rc',
      resolvePath,
    });
    expect(script.startsWith('#!/bin/bash -l\n#PBS -N sh0a1b2c3d01-Build_it\n')).toBe(true);
    // No partition and no backend queue: no -q, the server's default queue applies.
    expect(script).not.toContain('#PBS -q');
    expect(script).toContain('#PBS -o "/data/my logs/o.txt"');
    expect(script).toContain('"$HOME"/.m/sh0a1b2c3d01.rc');
    expect(script).toContain("trap 'trap - EXIT; exit 143' TERM");
    expect(() => pbsDirectives(request({ partition: 'q; rm -rf ~' }), { flavour: 'pro' })).toThrow(
      ScriptRenderError,
    );
    expect(() => pbsDirectives(request({ outputFile: '/tmp/$(x)' }), { flavour: 'pro' })).toThrow(
      ScriptRenderError,
    );
    expect(() =>
      pbsDirectives({ ...request(), tag: 'a-tag-that-is-too-long' }, { flavour: 'torque' }),
    ).toThrow(/invalid job tag/);
  });
});
