/** Test helper: a complete {@link SubmitRequest} with overridable task fields. */
import type { SubmitRequest, TaskSpec } from '@scripthut/core';

export function makeTask(over: Partial<TaskSpec> = {}): TaskSpec {
  return {
    id: 'build',
    name: 'Build it',
    command: 'echo hello',
    workingDir: '~',
    partition: null,
    cpus: 1,
    memory: '100M',
    memoryMiB: 100,
    timeLimit: '0:05:00',
    timeLimitSeconds: 300,
    gres: null,
    image: null,
    deps: [],
    depPatterns: [],
    outputFile: null,
    errorFile: null,
    environment: null,
    envVars: {},
    generatesSource: null,
    ...over,
  };
}

export function makeRequest(
  tag: string,
  task: Partial<TaskSpec> = {},
  over: Partial<Omit<SubmitRequest, 'task'>> = {},
): SubmitRequest {
  const spec = makeTask(task);
  const logDir = over.logDir ?? '~/scripthut-logs/run1';
  return {
    runId: 'run1',
    taskId: spec.id,
    tag,
    workflowName: 'wf',
    task: spec,
    workingDir: spec.workingDir,
    env: { SCRIPTHUT_TASK_ID: spec.id },
    extraInit: '',
    stdoutPath: `${logDir}/${spec.id}.out`,
    stderrPath: `${logDir}/${spec.id}.err`,
    logDir,
    git: null,
    ...over,
  };
}
