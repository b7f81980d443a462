import type { JobStatus, SubmitRequest, TaskSpec, TrackedJob } from '@scripthut/core';
import type { LocalBackend } from '../src/index.js';

export function makeSpec(id: string, command: string, overrides: Partial<TaskSpec> = {}): TaskSpec {
  return {
    id,
    name: `Task ${id}`,
    command,
    workingDir: '~',
    partition: null,
    cpus: 1,
    memory: '1G',
    memoryMiB: 1024,
    timeLimit: '0:10:00',
    timeLimitSeconds: 600,
    gres: null,
    image: null,
    deps: [],
    depPatterns: [],
    outputFile: null,
    errorFile: null,
    environment: null,
    envVars: {},
    generatesSource: null,
    ...overrides,
  };
}

let tagCounter = 0;

export function makeRequest(
  logDir: string,
  id: string,
  command: string,
  overrides: Partial<SubmitRequest> = {},
  spec: Partial<TaskSpec> = {},
): SubmitRequest {
  tagCounter += 1;
  return {
    runId: 'run00001',
    taskId: id,
    tag: `sh${String(tagCounter).padStart(6, '0')}`,
    workflowName: 'wf',
    task: makeSpec(id, command, spec),
    workingDir: logDir,
    env: { SCRIPTHUT_TASK_ID: id },
    extraInit: '',
    stdoutPath: `${logDir}/${id}.out`,
    stderrPath: `${logDir}/${id}.err`,
    logDir,
    git: null,
    ...overrides,
  };
}

export function tracked(jobId: string, request: SubmitRequest): TrackedJob {
  return {
    jobId,
    runId: request.runId,
    taskId: request.taskId,
    tag: request.tag,
    stdoutPath: request.stdoutPath,
    stderrPath: request.stderrPath,
    submittedAt: null,
    lastState: null,
    meta: {},
  };
}

/** Poll status until `predicate` holds for the job (or fail after `timeoutMs`). */
export async function waitForStatus(
  backend: LocalBackend,
  job: TrackedJob,
  predicate: (s: JobStatus) => boolean,
  timeoutMs = 15_000,
): Promise<JobStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: JobStatus | undefined;
  while (Date.now() < deadline) {
    last = (await backend.status([job])).get(job.jobId);
    if (last && predicate(last)) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for job ${job.jobId}; last status ${JSON.stringify(last)}`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
