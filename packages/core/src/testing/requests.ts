/**
 * Test helpers of the schedulers over SSH (Slurm, PBS): a complete {@link SubmitRequest} with
 * overridable task fields (task `build`, logs in `~/scripthut-logs/run1`).
 */
import type { SubmitRequest } from '../backend.js';
import type { TaskSpec } from '../domain.js';
import { taskSpec } from './index.js';

/** A task spec `build` (`echo hello`, 1 CPU, 100M, 5 minutes) with `over` applied. */
export function makeTask(over: Partial<TaskSpec> = {}): TaskSpec {
  return taskSpec('build', {
    name: 'Build it',
    command: 'echo hello',
    memory: '100M',
    memoryMiB: 100,
    timeLimit: '0:05:00',
    timeLimitSeconds: 300,
    ...over,
  });
}

/** A request of `tag` for {@link makeTask}`(task)` in run `run1`, with `over` applied. */
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
